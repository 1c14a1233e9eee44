//! Signing up, in and out: `/v1/auth/*` and `/v1/me`.
//!
//! Registration and sign-in answer a token pair: a 15-minute access token (JWT) and a refresh
//! token that is exchanged for a new pair before then. A refresh token works once; presenting it
//! again revokes its whole sign-in (see `entities::repo::sessions`). Sign-in failures are one
//! generic 401, whether or not the email exists.

use crate::{
    ApiTags,
    access::{Caller, Principal, RoleName},
    accounts::{self, AccountView},
    api_keys::ApiKeyView,
    error::{ApiError, ErrorEnvelope, envelope, is_unique_violation, respond},
    error_responses,
    input::{EmailAddress, Name, NewPassword},
    passwords,
    state::AppState,
    throttle::{client_address, retry_after_secs},
    tokens::REFRESH_TOKEN_TTL,
};
use chrono::{DateTime, Utc};
use entities::{Role, account, api_key, repo, user};
use poem::{Request, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json, types::Example};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use std::time::Duration;

pub use crate::me::NotificationPreferences;

/// An access token and the refresh token to renew it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenPair {
    /// Always `Bearer`.
    pub token_type: String,
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub access_token_expires_at: DateTime<Utc>,
    /// Exchange at `POST /v1/auth/refresh` for a new pair. Works once.
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
}

/// A user.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// The IANA time zone times are shown to the user in (`Europe/Berlin`; default `UTC`).
    pub time_zone: String,
    /// True when signing in needs a second factor (a TOTP code or a recovery code).
    pub mfa_enabled: bool,
    pub notifications: NotificationPreferences,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn user_view(u: user::Model) -> UserView {
    UserView {
        notifications: NotificationPreferences::of(&u),
        mfa_enabled: u.mfa_enabled_at.is_some(),
        id: u.id,
        email: u.email,
        name: u.name,
        time_zone: u.time_zone,
        created_at: u.created_at,
    }
}

/// A new user.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct Register {
    pub email: String,
    /// 10 to 1024 characters.
    pub password: String,
    /// Your name, 1 to 200 characters.
    pub name: String,
    /// The name of the account created for you (default: your name).
    pub account_name: Option<String>,
}

impl Example for Register {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            password: "correct horse battery staple".into(),
            name: "Ada Lovelace".into(),
            account_name: Some("Analytical Engines Ltd".into()),
        }
    }
}

/// The new user, their account (they own it), and their tokens.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Registration {
    pub user: UserView,
    pub account: AccountView,
    pub tokens: TokenPair,
}

/// Credentials.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct Login {
    pub email: String,
    pub password: String,
    /// The current 6-digit code of your authenticator app, when you have a second factor.
    pub mfa_code: Option<String>,
    /// One of your recovery codes instead of `mfa_code`; each works once.
    pub recovery_code: Option<String>,
}

impl Example for Login {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            password: "correct horse battery staple".into(),
            mfa_code: None,
            recovery_code: None,
        }
    }
}

/// A refresh token.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A role held directly on an account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct GrantView {
    pub account_id: String,
    pub account_name: String,
    pub role: RoleName,
}

/// Who the credentials belong to.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Me {
    /// `user` or `api_key`.
    pub kind: String,
    pub user: Option<UserView>,
    pub api_key: Option<ApiKeyView>,
    /// The roles held directly; each also applies to the sub-accounts below.
    pub grants: Vec<GrantView>,
}

#[derive(ApiResponse)]
pub enum RegisterResponse {
    /// Registered and signed in.
    #[oai(status = 201)]
    Created(Json<Box<Registration>>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// A user with this email exists (`email_taken`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A field is not acceptable (`invalid_field`, `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// Too many attempts from this address; retry after `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RegisterResponse { 400 => BadRequest, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Signed in.
    #[oai(status = 200)]
    Ok(Json<TokenPair>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Wrong email or password (`invalid_credentials`); which one is not said. With the right
    /// password, a user with a second factor must also send `mfa_code` or `recovery_code`
    /// (`mfa_required`), and a wrong or used one is `invalid_mfa_code`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// Too many attempts from this address or for this email.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(LoginResponse { 400 => BadRequest, 401 => Unauthorized });

#[derive(ApiResponse)]
pub enum RefreshResponse {
    /// A new pair; the presented refresh token no longer works.
    #[oai(status = 200)]
    Ok(Json<TokenPair>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Unknown, expired or revoked (`invalid_refresh_token`), or used before
    /// (`refresh_token_reused`: the sign-in is now revoked).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RefreshResponse { 400 => BadRequest, 401 => Unauthorized });

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// The sign-in is revoked: its refresh and access tokens stop working.
    #[oai(status = 204)]
    SignedOut,
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(LogoutResponse { 400 => BadRequest });

#[derive(ApiResponse)]
pub enum MeResponse {
    /// The caller.
    #[oai(status = 200)]
    Ok(Json<Box<Me>>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(MeResponse {});

/// The 429 envelope and the `Retry-After` seconds.
pub(crate) fn too_many(wait: Duration) -> (Json<ErrorEnvelope>, u64) {
    let secs = retry_after_secs(wait);
    let mut body = envelope(
        "rate_limited",
        format!("too many attempts; try again in {secs} s"),
    );
    body.0.error.details = Some(json!({"retry_after": secs}));
    (body, secs)
}

/// A token pair for a refresh token just issued.
fn token_pair(state: &AppState, issued: repo::IssuedRefreshToken) -> Result<TokenPair, ApiError> {
    let (access_token, expires_at) = state
        .auth
        .tokens
        .issue(&issued.token.user_id, &issued.token.family_id)
        .map_err(ApiError::internal)?;
    Ok(TokenPair {
        token_type: "Bearer".into(),
        access_token,
        expires_in: (expires_at - Utc::now()).num_seconds().max(0),
        access_token_expires_at: expires_at,
        refresh_token: issued.secret,
        refresh_token_expires_at: issued.token.expires_at,
    })
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("wrong email or password").with_code("invalid_credentials")
}

pub struct SessionApi;

#[OpenApi(tag = "ApiTags::Auth")]
impl SessionApi {
    /// Registers a user with a password, creates an account they own, and signs them in.
    #[oai(path = "/v1/auth/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<Register>,
    ) -> RegisterResponse {
        let address = client_address(req, state.auth.client_address_header.as_ref());
        if let Err(wait) = state.auth.throttle.attempt(&address, None) {
            let (body, secs) = too_many(wait);
            return RegisterResponse::TooManyRequests(body, secs);
        }
        respond(async {
            let body = body.0;
            let email = EmailAddress::parse("email", &body.email)?;
            let password = NewPassword::parse("password", body.password)?;
            let name = Name::parse("name", &body.name)?;
            let account_name = match &body.account_name {
                Some(n) => Name::parse("account_name", n)?,
                None => name.clone(),
            };
            let taken = || {
                ApiError::conflict(
                    "email_taken",
                    "a user with this email exists; sign in instead",
                )
                .with_details(json!({"field": "email"}))
            };
            if repo::find_user_by_email(&state.db, email.as_str())
                .await?
                .is_some()
            {
                return Err(taken());
            }
            let hash = passwords::hash(password.into_string())
                .await
                .map_err(ApiError::internal)?;
            let txn = state.db.begin().await?;
            let user = repo::create_user_with_password(&txn, email.as_str(), name.as_str(), &hash)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        taken()
                    } else {
                        e.into()
                    }
                })?;
            let acct = accounts::insert_account(&txn, &state.master, &account_name, None).await?;
            repo::add_membership(&txn, &user.id, &acct.id, Role::Owner).await?;
            let session = repo::start_session(&txn, &user.id, REFRESH_TOKEN_TTL).await?;
            let details = json!({"name": acct.name, "registered": user.id});
            let actor = format!("user:{}", user.id);
            repo::log_activity(
                &txn,
                &acct.id,
                &actor,
                "account.created",
                ("account", &acct.id),
                details,
            )
            .await?;
            txn.commit().await?;
            tracing::info!(user_id = %user.id, account_id = %acct.id, "user registered");
            Ok(RegisterResponse::Created(Json(Box::new(Registration {
                tokens: token_pair(&state, session)?,
                account: accounts::view(acct, Role::Owner),
                user: user_view(user),
            }))))
        })
        .await
    }

    /// Signs in with email and password.
    #[oai(path = "/v1/auth/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Json<Login>,
    ) -> LoginResponse {
        let address = client_address(req, state.auth.client_address_header.as_ref());
        let email = body.email.trim().to_lowercase();
        if let Err(wait) = state.auth.throttle.attempt(&address, Some(&email)) {
            let (body, secs) = too_many(wait);
            return LoginResponse::TooManyRequests(body, secs);
        }
        respond(async {
            let user = repo::find_user_by_email(&state.db, &email).await?;
            let stored = user.as_ref().and_then(|u| u.password_hash.clone());
            if !passwords::verify(body.0.password.clone(), stored).await {
                tracing::info!(%address, "sign-in failed");
                return Err(invalid_credentials());
            }
            let user = user.ok_or_else(invalid_credentials)?;
            crate::mfa::verify_sign_in(
                &state,
                &user,
                body.0.mfa_code.as_deref(),
                body.0.recovery_code.as_deref(),
            )
            .await?;
            let session = repo::start_session(&state.db, &user.id, REFRESH_TOKEN_TTL).await?;
            tracing::info!(user_id = %user.id, session_id = %session.token.family_id, "signed in");
            Ok(LoginResponse::Ok(Json(token_pair(&state, session)?)))
        })
        .await
    }

    /// Exchanges a refresh token for a new token pair. Each refresh token works once: using one
    /// again signs that session out everywhere.
    #[oai(path = "/v1/auth/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(&self, state: Data<&AppState>, body: Json<RefreshRequest>) -> RefreshResponse {
        respond(async {
            let txn = state.db.begin().await?;
            let rotation =
                repo::rotate_refresh_token(&txn, &body.refresh_token, REFRESH_TOKEN_TTL).await?;
            txn.commit().await?;
            match rotation {
                repo::Rotation::Rotated(issued) => {
                    Ok(RefreshResponse::Ok(Json(token_pair(&state, issued)?)))
                }
                repo::Rotation::Reused { family_id, user_id } => {
                    tracing::warn!(%user_id, session_id = %family_id, "a used refresh token was presented again; the session is revoked");
                    Err(ApiError::unauthorized(
                        "this refresh token was used before, so the session has been signed out; sign in again",
                    )
                    .with_code("refresh_token_reused"))
                }
                repo::Rotation::Invalid => Err(ApiError::unauthorized(
                    "the refresh token is unknown, expired or revoked; sign in again",
                )
                .with_code("invalid_refresh_token")),
            }
        })
        .await
    }

    /// Signs out: revokes the sign-in the refresh token belongs to, with its access tokens.
    /// Answers 204 for a token that is unknown or already revoked, too.
    #[oai(path = "/v1/auth/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, state: Data<&AppState>, body: Json<RefreshRequest>) -> LogoutResponse {
        respond(async {
            if let Some(token) = repo::find_refresh_token(&state.db, &body.refresh_token).await? {
                repo::revoke_session(&state.db, &token.family_id).await?;
                tracing::info!(user_id = %token.user_id, session_id = %token.family_id, "signed out");
            }
            Ok(LogoutResponse::SignedOut)
        })
        .await
    }
}

/// The caller as `GET /v1/me` shows it.
pub(crate) async fn me_view(state: &AppState, caller: &Caller) -> Result<Me, ApiError> {
    let ids: Vec<String> = caller
        .grants()
        .iter()
        .map(|g| g.account_id.clone())
        .collect();
    let accounts = account::Entity::find()
        .filter(account::Column::Id.is_in(ids))
        .all(&state.db)
        .await?;
    // One line per account, with the highest role held there (by membership or a team).
    let mut highest: std::collections::BTreeMap<&str, Role> = std::collections::BTreeMap::new();
    for g in caller.grants() {
        let role = highest.entry(g.account_id.as_str()).or_insert(g.role);
        *role = (*role).max(g.role);
    }
    let grants = highest
        .into_iter()
        .filter_map(|(id, role)| {
            let a = accounts.iter().find(|a| a.id == id)?;
            Some(GrantView {
                account_id: a.id.clone(),
                account_name: a.name.clone(),
                role: role.into(),
            })
        })
        .collect();
    Ok(match caller.principal() {
        Principal::User { user_id, .. } => Me {
            kind: "user".into(),
            user: user::Entity::find_by_id(user_id.as_str())
                .one(&state.db)
                .await?
                .map(user_view),
            api_key: None,
            grants,
        },
        Principal::ApiKey { key_id, .. } => Me {
            kind: "api_key".into(),
            user: None,
            api_key: api_key::Entity::find_by_id(key_id.as_str())
                .one(&state.db)
                .await?
                .map(crate::api_keys::view),
            grants,
        },
    })
}
