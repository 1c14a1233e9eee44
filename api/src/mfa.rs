//! A second factor: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, as every authenticator
//! app reads them) with single-use recovery codes.
//!
//! Enrolment is two steps: `POST /v1/me/mfa/totp` (with the password) answers a new secret and
//! its `otpauth://` URI; `POST /v1/me/mfa/totp/confirm` with a code from the app turns it on and
//! answers ten recovery codes, shown once. From then on `POST /v1/auth/login` needs `mfa_code`
//! or `recovery_code`. A code is accepted one step either side of now, and each time step only
//! once (a code seen by someone else cannot be replayed); each recovery code works once. The
//! secret is sealed under the master key; recovery codes are stored as SHA-256.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, respond},
    passwords,
    state::AppState,
};
use chrono::Utc;
use entities::{repo, user};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, payload::Json};
use rand::{Rng, RngCore};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    TransactionTrait, sea_query::Expr,
};
use totp_rs::{Algorithm, Secret, TOTP};

/// The issuer authenticator apps show next to the code.
pub const ISSUER: &str = "ListBackup";
/// Seconds per TOTP step.
const STEP: u64 = 30;
/// How many recovery codes a user gets.
pub const RECOVERY_CODES: usize = 10;

/// True when the user has confirmed a second factor.
pub(crate) async fn has_second_factor(
    db: &impl sea_orm::ConnectionTrait,
    user_id: &str,
) -> Result<bool, ApiError> {
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .is_some_and(|u| u.mfa_enabled_at.is_some()))
}

fn totp(secret: Vec<u8>, email: &str) -> Result<TOTP, ApiError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        STEP,
        secret,
        Some(ISSUER.to_owned()),
        // The otpauth label may not hold `:` (an email's local part may).
        email.replace(':', "_"),
    )
    .map_err(|e| ApiError::internal(format!("TOTP: {e}")))
}

fn user_totp(state: &AppState, u: &user::Model) -> Result<Option<TOTP>, ApiError> {
    let Some(sealed) = &u.totp_secret_sealed else {
        return Ok(None);
    };
    // Sealed as its base32 text, like every other sealed column (master-key rotation re-seals
    // text).
    let base32 = state
        .master
        .open_string(sealed)
        .map_err(ApiError::internal)?;
    let secret = Secret::Encoded(base32)
        .to_bytes()
        .map_err(|e| ApiError::internal(format!("TOTP secret: {e:?}")))?;
    totp(secret, &u.email).map(Some)
}

/// The time step `code` is the code of, within one step of `now`, if any.
fn matching_step(totp: &TOTP, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = now / STEP;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| totp.check(code, s * STEP))
        .and_then(|s| i64::try_from(s).ok())
}

/// True when `code` is the user's current TOTP code and its step was not used before; uses it.
async fn accept_code(state: &AppState, u: &user::Model, code: &str) -> Result<bool, ApiError> {
    let Some(totp) = user_totp(state, u)? else {
        return Ok(false);
    };
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    match matching_step(&totp, code, now) {
        Some(step) => Ok(repo::claim_totp_step(&state.db, &u.id, step).await?),
        None => Ok(false),
    }
}

/// Checks the second factor of a user who has one: `mfa_code` or `recovery_code`, used up.
/// 401 `mfa_required` when neither is given, 401 `invalid_mfa_code` when it does not match.
pub(crate) async fn verify_sign_in(
    state: &AppState,
    u: &user::Model,
    mfa_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<(), ApiError> {
    if u.mfa_enabled_at.is_none() {
        return Ok(());
    }
    let accepted = match (mfa_code, recovery_code) {
        (Some(code), _) => accept_code(state, u, code).await?,
        (None, Some(code)) => {
            repo::use_recovery_code(&state.db, &u.id, &normalise_recovery(code)).await?
        }
        (None, None) => {
            return Err(ApiError::unauthorized(
                "this user has a second factor: send `mfa_code` (from the authenticator app) or `recovery_code`",
            )
            .with_code("mfa_required"));
        }
    };
    if accepted {
        Ok(())
    } else {
        tracing::info!(user_id = %u.id, "second factor refused");
        Err(
            ApiError::unauthorized("the code is wrong, expired or used already")
                .with_code("invalid_mfa_code"),
        )
    }
}

/// The same check for an operation on your own second factor (403 rather than 401: the caller
/// is signed in).
async fn require_second_factor(
    state: &AppState,
    u: &user::Model,
    mfa_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<(), ApiError> {
    verify_sign_in(state, u, mfa_code, recovery_code)
        .await
        .map_err(|e| {
            if e.status() == poem::http::StatusCode::UNAUTHORIZED {
                e.with_status(poem::http::StatusCode::FORBIDDEN)
            } else {
                e
            }
        })
}

/// Recovery codes as shown: `xxxxx-xxxxx`, lower case letters and digits (about 52 bits).
fn new_recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut chars: Vec<u8> = (0..10)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
                .collect();
            chars.insert(5, b'-');
            String::from_utf8(chars).unwrap_or_default()
        })
        .collect()
}

/// A recovery code as stored: lower case, with its dash, spaces dropped.
fn normalise_recovery(code: &str) -> String {
    let compact: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match compact.len() {
        10 => format!("{}-{}", &compact[..5], &compact[5..]),
        _ => compact,
    }
}

/// Counts one attempt at a signed-in user's password or second factor against the sign-in
/// limits (per user, and per email like sign-ins): a stolen access token cannot guess codes or
/// the password at the API's request rate. 429 `rate_limited` with `details.retry_after`.
pub(crate) fn throttle_attempt(state: &AppState, u: &user::Model) -> Result<(), ApiError> {
    state
        .auth
        .throttle
        .attempt(&format!("user:{}", u.id), Some(&u.email))
        .map_err(|wait| {
            let secs = crate::throttle::retry_after_secs(wait);
            ApiError::new(
                poem::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many attempts; try again in {secs} s"),
            )
            .with_details(serde_json::json!({"retry_after": secs}))
        })
}

/// The signed-in user behind the request (403 `user_required` for an API key).
pub(crate) async fn signed_in_user(
    state: &AppState,
    auth: &BearerAuth,
) -> Result<user::Model, ApiError> {
    let user_id = auth.0.require_user()?;
    user::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid, expired or revoked credentials"))
}

async fn check_password(state: &AppState, u: &user::Model, password: &str) -> Result<(), ApiError> {
    throttle_attempt(state, u)?;
    if passwords::verify(password.to_owned(), u.password_hash.clone()).await {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "wrong_password",
            "the password is wrong",
        ))
    }
}

/// Your password, to start setting up a second factor.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct StartTotp {
    pub password: String,
}

/// A new TOTP secret: add it to an authenticator app (scan `otpauth_uri` as a QR code, or type
/// `secret`), then confirm with a code.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TotpEnrolment {
    /// The secret, base32.
    pub secret: String,
    /// `otpauth://totp/ListBackup:{email}?secret=…&issuer=ListBackup`.
    pub otpauth_uri: String,
    pub issuer: String,
    pub digits: u32,
    /// Seconds per code.
    pub period: u64,
    pub algorithm: String,
}

/// A code from the authenticator app.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ConfirmTotp {
    pub code: String,
}

/// Recovery codes: each signs in once in place of a TOTP code. Shown only now.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// Proof of your second factor: a current TOTP code, or a recovery code.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct SecondFactorProof {
    pub mfa_code: Option<String>,
    pub recovery_code: Option<String>,
}

/// Turning the second factor off: your password and a code.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct DisableMfa {
    pub password: String,
    pub mfa_code: Option<String>,
    pub recovery_code: Option<String>,
}

crate::operation_response!(StartTotpResponse, 201, "The secret to add to an authenticator app; not in use until confirmed.", Created(TotpEnrolment), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Wrong password (`wrong_password`), or an API key (`user_required`).",
    409 => Conflict: "A second factor is on already (`mfa_already_enabled`): turn it off first.",
    429 => TooManyRequests: "Too many password or code attempts (`rate_limited`, `details.retry_after`).",
});
crate::operation_response!(ConfirmTotpResponse, 200, "The second factor is on; keep these recovery codes somewhere safe.", Ok(RecoveryCodes), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "The code does not match (`invalid_mfa_code`), or an API key (`user_required`).",
    409 => Conflict: "No set-up was started (`mfa_not_started`), or it is on already (`mfa_already_enabled`).",
});
crate::operation_response!(NewRecoveryCodesResponse, 200, "A new set; the old codes no longer work.", Ok(RecoveryCodes), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "No code, or a wrong one (`mfa_required`, `invalid_mfa_code`), or an API key.",
    409 => Conflict: "No second factor is on (`mfa_not_enabled`).",
    429 => TooManyRequests: "Too many password or code attempts (`rate_limited`, `details.retry_after`).",
});
crate::operation_response!(DisableMfaResponse, 204, "The second factor is off; signing in needs the password alone.", Disabled, {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Wrong password or code (`wrong_password`, `mfa_required`, `invalid_mfa_code`), or an API key.",
    409 => Conflict: "No second factor is on (`mfa_not_enabled`).",
    429 => TooManyRequests: "Too many password or code attempts (`rate_limited`, `details.retry_after`).",
});

fn not_enabled() -> ApiError {
    ApiError::conflict("mfa_not_enabled", "you have no second factor")
}

pub struct MfaApi;

#[OpenApi(tag = "ApiTags::Me")]
impl MfaApi {
    /// Starts setting up a TOTP second factor: answers a new secret for an authenticator app.
    /// Nothing changes for signing in until it is confirmed; starting again replaces the secret.
    #[oai(path = "/v1/me/mfa/totp", method = "post", operation_id = "startTotp")]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<StartTotp>,
    ) -> StartTotpResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            check_password(&state, &u, &body.password).await?;
            if u.mfa_enabled_at.is_some() {
                return Err(ApiError::conflict(
                    "mfa_already_enabled",
                    "a second factor is on already; turn it off first to set up another",
                ));
            }
            let mut secret = vec![0u8; 20];
            rand::thread_rng().fill_bytes(&mut secret);
            let totp = totp(secret.clone(), &u.email)?;
            let sealed = state
                .master
                .seal_string(&totp.get_secret_base32())
                .map_err(ApiError::internal)?;
            let mut pending = u.into_active_model();
            pending.totp_secret_sealed = Set(Some(sealed));
            pending.totp_last_step = Set(None);
            pending.update(&state.db).await?;
            Ok(StartTotpResponse::Created(Json(TotpEnrolment {
                secret: totp.get_secret_base32(),
                otpauth_uri: totp.get_url(),
                issuer: ISSUER.into(),
                digits: 6,
                period: STEP,
                algorithm: "SHA1".into(),
            })))
        })
        .await
    }

    /// Confirms the TOTP set-up with a code from the app: the second factor is on from now, and
    /// the answer holds ten recovery codes (shown only now).
    #[oai(
        path = "/v1/me/mfa/totp/confirm",
        method = "post",
        operation_id = "confirmTotp"
    )]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ConfirmTotp>,
    ) -> ConfirmTotpResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            if u.mfa_enabled_at.is_some() {
                return Err(ApiError::conflict(
                    "mfa_already_enabled",
                    "the second factor is on already",
                ));
            }
            if u.totp_secret_sealed.is_none() {
                return Err(ApiError::conflict(
                    "mfa_not_started",
                    "start with POST /v1/me/mfa/totp",
                ));
            }
            if !accept_code(&state, &u, &body.code).await? {
                return Err(ApiError::forbidden(
                    "invalid_mfa_code",
                    "the code does not match; check the app's clock and try the next code",
                ));
            }
            let codes = new_recovery_codes();
            let txn = state.db.begin().await?;
            // Only the secret the code was checked against: a set-up started meanwhile is not
            // turned on by it.
            let turned_on = user::Entity::update_many()
                .col_expr(user::Column::MfaEnabledAt, Expr::value(Utc::now()))
                .filter(user::Column::Id.eq(u.id.as_str()))
                .filter(user::Column::TotpSecretSealed.eq(u.totp_secret_sealed.clone()))
                .filter(user::Column::MfaEnabledAt.is_null())
                .exec(&txn)
                .await?;
            if turned_on.rows_affected != 1 {
                return Err(ApiError::conflict(
                    "mfa_not_started",
                    "the set-up changed meanwhile; start again",
                ));
            }
            repo::replace_recovery_codes(&txn, &u.id, &codes).await?;
            txn.commit().await?;
            tracing::info!(user_id = %u.id, "second factor turned on");
            Ok(ConfirmTotpResponse::Ok(Json(RecoveryCodes {
                recovery_codes: codes,
            })))
        })
        .await
    }

    /// Replaces your recovery codes with a new set (the old ones stop working). Needs a current
    /// TOTP code or an unused recovery code.
    #[oai(
        path = "/v1/me/mfa/recovery-codes",
        method = "post",
        operation_id = "newRecoveryCodes"
    )]
    async fn recovery_codes(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<SecondFactorProof>,
    ) -> NewRecoveryCodesResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            if u.mfa_enabled_at.is_none() {
                return Err(not_enabled());
            }
            throttle_attempt(&state, &u)?;
            require_second_factor(
                &state,
                &u,
                body.mfa_code.as_deref(),
                body.recovery_code.as_deref(),
            )
            .await?;
            let codes = new_recovery_codes();
            let txn = state.db.begin().await?;
            repo::replace_recovery_codes(&txn, &u.id, &codes).await?;
            txn.commit().await?;
            Ok(NewRecoveryCodesResponse::Ok(Json(RecoveryCodes {
                recovery_codes: codes,
            })))
        })
        .await
    }

    /// Turns your second factor off. Needs your password and a current TOTP code or a recovery
    /// code. Accounts that require a second factor are out of reach again until you set one up.
    #[oai(
        path = "/v1/me/mfa/disable",
        method = "post",
        operation_id = "disableMfa"
    )]
    async fn disable(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<DisableMfa>,
    ) -> DisableMfaResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            if u.mfa_enabled_at.is_none() {
                return Err(not_enabled());
            }
            check_password(&state, &u, &body.password).await?;
            throttle_attempt(&state, &u)?;
            require_second_factor(
                &state,
                &u,
                body.mfa_code.as_deref(),
                body.recovery_code.as_deref(),
            )
            .await?;
            let txn = state.db.begin().await?;
            let mut off = u.into_active_model();
            off.mfa_enabled_at = Set(None);
            off.totp_secret_sealed = Set(None);
            off.totp_last_step = Set(None);
            let u = off.update(&txn).await?;
            repo::delete_recovery_codes(&txn, &u.id).await?;
            txn.commit().await?;
            tracing::info!(user_id = %u.id, "second factor turned off");
            Ok(DisableMfaResponse::Disabled)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_the_steps_beside_it_only() {
        let totp = totp(b"12345678901234567890".to_vec(), "ada@example.com").unwrap();
        // RFC 6238, appendix B (SHA-1, the last 6 of its 8 digits).
        assert_eq!(totp.generate(59), "287082");
        assert_eq!(matching_step(&totp, "287082", 59), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(&totp, "287082", 59 + 60), None);
        assert_eq!(matching_step(&totp, "28708", 59), None);
        assert_eq!(matching_step(&totp, "abcdef", 59), None);
        assert!(
            totp.get_url()
                .starts_with("otpauth://totp/ListBackup:ada%40example.com?")
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_read_back_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            RECOVERY_CODES
        );
        for c in &codes {
            assert_eq!(c.len(), 11);
            assert_eq!(normalise_recovery(&c.to_uppercase().replace('-', " ")), *c);
        }
    }
}
