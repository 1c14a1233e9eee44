//! Forgotten passwords: `POST /v1/auth/password-reset` emails a single-use link that expires in
//! an hour; `POST /v1/auth/password-reset/confirm` sets a new password with its token and signs
//! every sign-in of the user out. The first answers 202 whether or not the email belongs to a
//! user, and sends after answering, so neither the answer nor its timing tells.

use crate::{
    ApiTags,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::{EmailAddress, NewPassword},
    passwords,
    session::too_many,
    state::AppState,
    throttle::client_address,
};
use chrono::Duration;
use entities::repo;
use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use sea_orm::TransactionTrait;

/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::hours(1);

/// Who forgot their password.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct RequestPasswordReset {
    pub email: String,
}

/// A reset token (from the emailed link) and the new password.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ConfirmPasswordReset {
    pub token: String,
    /// 10 to 1024 characters.
    pub new_password: String,
}

#[derive(ApiResponse)]
pub enum RequestPasswordResetResponse {
    /// If the email belongs to a user, a reset link is on its way.
    #[oai(status = 202)]
    Accepted,
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The email is not an email address (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// Too many attempts from this address or for this email.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RequestPasswordResetResponse { 400 => BadRequest, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ConfirmPasswordResetResponse {
    /// The password is set; every sign-in of the user is signed out. Sign in with it.
    #[oai(status = 204)]
    Reset,
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The token is unknown, used or expired (`invalid_token`), or the password is not
    /// acceptable (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// Too many attempts from this address.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ConfirmPasswordResetResponse { 400 => BadRequest, 422 => Unprocessable });

/// 422 `invalid_token` for a link that is unknown, used or expired.
pub(crate) fn invalid_token(what: &str) -> ApiError {
    ApiError::invalid_field(
        "token",
        format!("this {what} link is unknown, used already or expired; ask for a new one"),
    )
    .with_code("invalid_token")
}

pub struct PasswordResetApi;

#[OpenApi(tag = "ApiTags::Auth")]
impl PasswordResetApi {
    /// Emails a password-reset link (valid one hour, once) if the email belongs to a user.
    /// Answers 202 either way.
    #[oai(
        path = "/v1/auth/password-reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<RequestPasswordReset>,
    ) -> RequestPasswordResetResponse {
        let address = client_address(req, state.auth.client_address_header.as_ref());
        let email = body.email.trim().to_lowercase();
        if let Err(wait) = state.auth.throttle.attempt(&address, Some(&email)) {
            let (body, secs) = too_many(wait);
            return RequestPasswordResetResponse::TooManyRequests(body, secs);
        }
        respond(async {
            let email = EmailAddress::parse("email", &body.email)?;
            let state = state.clone();
            // The work (and its timing) happens after the answer.
            tokio::spawn(async move {
                if let Err(e) = send_reset(&state, email.as_str()).await {
                    tracing::warn!(error = %e, "password reset not sent");
                }
            });
            Ok(RequestPasswordResetResponse::Accepted)
        })
        .await
    }

    /// Sets a new password with the token from a reset link, and signs every sign-in of the
    /// user out. The token works once.
    #[oai(
        path = "/v1/auth/password-reset/confirm",
        method = "post",
        operation_id = "confirmPasswordReset"
    )]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<ConfirmPasswordReset>,
    ) -> ConfirmPasswordResetResponse {
        let address = client_address(req, state.auth.client_address_header.as_ref());
        if let Err(wait) = state.auth.throttle.attempt(&address, None) {
            let (body, secs) = too_many(wait);
            return ConfirmPasswordResetResponse::TooManyRequests(body, secs);
        }
        respond(async {
            let ConfirmPasswordReset {
                token,
                new_password,
            } = body.0;
            let new_password = NewPassword::parse("new_password", new_password)?;
            let hash = passwords::hash(new_password.into_string())
                .await
                .map_err(ApiError::internal)?;
            let txn = state.db.begin().await?;
            let Some(user_id) = repo::use_password_reset(&txn, token.trim()).await? else {
                return Err(invalid_token("password reset"));
            };
            repo::set_password_hash(&txn, &user_id, &hash).await?;
            let revoked = repo::revoke_sessions_of(&txn, &user_id, None).await?;
            txn.commit().await?;
            tracing::info!(%user_id, revoked, "password reset; every sign-in revoked");
            Ok(ConfirmPasswordResetResponse::Reset)
        })
        .await
    }
}

async fn send_reset(state: &AppState, email: &str) -> Result<(), String> {
    let Some(user) = repo::find_user_by_email(&state.db, email)
        .await
        .map_err(|e| e.to_string())?
    else {
        tracing::info!("password reset asked for an email with no user");
        return Ok(());
    };
    let Some(mail) = state.auth.mail.clone() else {
        return Err(format!(
            "no SMTP server is configured (LISTBACKUP_SMTP_URL); user {} asked for a reset",
            user.id
        ));
    };
    let txn = state.db.begin().await.map_err(|e| e.to_string())?;
    let token = repo::create_password_reset(&txn, &user.id, RESET_TTL)
        .await
        .map_err(|e| e.to_string())?;
    txn.commit().await.map_err(|e| e.to_string())?;
    let link = mail.link("reset-password", &token);
    let body = format!(
        "Hello {name},\n\n\
         someone (hopefully you) asked to reset the password of your ListBackup sign-in \
         {email}.\n\n\
         Set a new password here (the link works once, for one hour):\n\n{link}\n\n\
         If you did not ask for this, ignore this email: your password stays as it is.\n",
        name = user.name,
    );
    if let Err(e) = mail
        .send(email, None, "Reset your ListBackup password", body)
        .await
    {
        // A token nobody received must not stay live.
        let _ = repo::use_password_reset(&state.db, &token).await;
        return Err(e.to_string());
    }
    tracing::info!(user_id = %user.id, "password reset sent");
    Ok(())
}
