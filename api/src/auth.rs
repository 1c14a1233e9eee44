//! Authentication: `Authorization: Bearer <token>`, where the token is either a user's access
//! token (a JWT from `POST /v1/auth/login`) or an API key (`lbk_…`). Both become a
//! [`Caller`](crate::access::Caller).
//!
//! A bad, expired or revoked credential answers 401 with one message, whichever it was.

use crate::{
    access::{Caller, Grant, Principal},
    mail::MailSettings,
    state::AppState,
    throttle::{ApiRateLimit, CallerThrottle, RateLimited, SignInLimits, SignInThrottle},
    tokens::{TokenKeys, derive_secret},
};
use chrono::{Duration, Utc};
use entities::{repo, user};
use poem::{
    Request,
    http::{HeaderName, StatusCode},
};
use poem_openapi::{SecurityScheme, auth::Bearer};
use sea_orm::EntityTrait;
use std::sync::Arc;
use storage::keys::MasterKey;

/// How callers sign in: the access-token signing keys, the sign-in limits, and where the
/// client's address is read from.
#[derive(Clone)]
pub struct AuthSettings {
    pub(crate) tokens: Arc<TokenKeys>,
    pub(crate) throttle: Arc<SignInThrottle>,
    pub(crate) api_throttle: Arc<CallerThrottle>,
    pub(crate) client_address_header: Option<HeaderName>,
    /// The bearer token `/metrics` asks for, if any.
    pub(crate) metrics_token: Option<Arc<str>>,
    /// How password resets and invitations are emailed; `None` when no SMTP server is set.
    pub(crate) mail: Option<Arc<MailSettings>>,
    /// Callers resolved by credential, held while the access version is unchanged.
    pub(crate) callers: Arc<CallerCache>,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("tokens", &"<redacted>")
            .field("client_address_header", &self.client_address_header)
            .field("mail", &self.mail)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AuthSettings {
    /// Access tokens signed with `jwt_secret`; the default sign-in limits; the peer's address.
    pub fn new(jwt_secret: &[u8]) -> Self {
        Self {
            tokens: Arc::new(TokenKeys::new(jwt_secret)),
            throttle: Arc::new(SignInThrottle::new(SignInLimits::default())),
            api_throttle: Arc::new(CallerThrottle::new(ApiRateLimit::default())),
            client_address_header: None,
            metrics_token: None,
            mail: None,
            callers: Arc::new(CallerCache::default()),
        }
    }

    /// Access tokens signed with a secret derived from the master key (when
    /// `LISTBACKUP_JWT_SECRET` is not set).
    pub fn from_master_key(master: &MasterKey) -> Self {
        Self::new(&derive_secret(&master.to_secret_string()))
    }

    /// Makes `GET /metrics` ask for `Authorization: Bearer <token>`.
    pub fn with_metrics_token(mut self, token: impl Into<String>) -> Self {
        self.metrics_token = Some(Arc::from(token.into()));
        self
    }

    /// Sends password resets and invitations with `mail`.
    pub fn with_mail(mut self, mail: MailSettings) -> Self {
        self.mail = Some(Arc::new(mail));
        self
    }

    /// How email is sent, when an SMTP server is set.
    pub fn mail(&self) -> Option<Arc<MailSettings>> {
        self.mail.clone()
    }

    /// The token `/metrics` asks for, if one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token.as_deref()
    }

    pub fn with_limits(mut self, limits: SignInLimits) -> Self {
        self.throttle = Arc::new(SignInThrottle::new(limits));
        self
    }

    /// Each credential's request budget on the authenticated endpoints.
    pub fn with_api_rate_limit(mut self, limit: ApiRateLimit) -> Self {
        self.api_throttle = Arc::new(CallerThrottle::new(limit));
        self
    }

    /// Behind a proxy: read the client's address from this header (its last entry).
    pub fn with_client_address_header(mut self, header: HeaderName) -> Self {
        self.client_address_header = Some(header);
        self
    }
}

/// A user's access token or an API key, as `Authorization: Bearer`.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    key_name = "Authorization",
    bearer_format = "JWT access token, or an API key (lbk_…)",
    checker = "authenticate"
)]
pub struct BearerAuth(pub Caller);

/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// How long a resolved caller is kept at most, whatever the access version says (it also
/// bounds how stale an API key's `last_used_at` may get: it is written when a key is resolved).
const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// Callers kept at most (the least used go first).
const CACHE_MAX: u64 = 10_000;

/// Callers resolved from their credentials (an API key's hash, or a user and session), each with
/// the access version it was resolved at. The database raises that version with every change to
/// users, sessions, keys, memberships, teams or accounts (the `m0021_access_version`
/// migration), so a caller kept at the current version is exactly what resolving it again would
/// give: authenticating a request costs one read of the version instead of three queries.
pub(crate) struct CallerCache {
    entries: moka::sync::Cache<String, (i64, Caller)>,
}

impl Default for CallerCache {
    fn default() -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(CACHE_MAX)
                .time_to_live(CACHE_FOR)
                .build(),
        }
    }
}

impl CallerCache {
    fn get(&self, key: &str, version: i64) -> Option<Caller> {
        self.entries
            .get(key)
            .filter(|(at, _)| *at == version)
            .map(|(_, caller)| caller)
    }

    fn put(&self, key: String, version: i64, caller: Caller) {
        self.entries.insert(key, (version, caller));
    }
}

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
    let unavailable = |e: sea_orm::DbErr| {
        tracing::error!(error = %e, "credential lookup failed");
        poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
    };
    let is_key = bearer.token.starts_with(repo::API_KEY_PREFIX);
    let claims = if is_key {
        None
    } else {
        Some(
            state
                .auth
                .tokens
                .verify(&bearer.token)
                .ok_or_else(unauthorized)?,
        )
    };
    // Read before resolving: a change that lands meanwhile raises the version past the one the
    // caller is kept at, so the next request resolves it again.
    let version = repo::access_version(&state.db).await.map_err(unavailable)?;
    let cache_key = match &claims {
        None => format!("key:{}", repo::hash_secret(&bearer.token)),
        Some(claims) => format!("session:{}:{}", claims.sub, claims.sid),
    };
    let caller = match state.auth.callers.get(&cache_key, version) {
        Some(caller) => caller,
        None => {
            let caller = resolve(state, &bearer.token, claims)
                .await
                .map_err(unavailable)?
                .ok_or_else(unauthorized)?;
            state.auth.callers.put(cache_key, version, caller.clone());
            caller
        }
    };
    // One budget per credential: an API key, or a user across all their sign-ins.
    state
        .auth
        .api_throttle
        .request(&caller.actor())
        .map_err(|wait| poem::Error::new(RateLimited(wait), StatusCode::TOO_MANY_REQUESTS))?;
    Ok(caller)
}

/// The caller an API key (`claims` absent) or a verified access token's session stands for;
/// `None` for a key that is unknown or revoked, or a session that has ended.
async fn resolve(
    state: &AppState,
    token: &str,
    claims: Option<crate::tokens::Claims>,
) -> Result<Option<Caller>, sea_orm::DbErr> {
    let Some(claims) = claims else {
        let Some(key) = repo::find_api_key(&state.db, token).await? else {
            return Ok(None);
        };
        if key
            .last_used_at
            .is_none_or(|t| t < Utc::now() - TOUCH_EVERY)
            && let Err(e) = repo::touch_api_key(&state.db, &key.id).await
        {
            tracing::warn!(key_id = %key.id, error = %e, "could not record the key's use");
        }
        return api_key_caller(&state.db, key).await.map(Some);
    };
    let Some(user) = repo::user_of_active_session(&state.db, &claims.sub, &claims.sid).await?
    else {
        return Ok(None);
    };
    user_caller(&state.db, &user, claims.sid).await.map(Some)
}

/// An API key as a caller: its one account and role.
pub(crate) async fn api_key_caller(
    db: &impl sea_orm::ConnectionTrait,
    key: entities::api_key::Model,
) -> Result<Caller, sea_orm::DbErr> {
    let grants = vec![Grant {
        account_id: key.account_id.clone(),
        role: key.role,
    }];
    let principal = Principal::ApiKey {
        key_id: key.id,
        account_id: key.account_id,
    };
    Caller::load(db, principal, grants, false).await
}

/// A user as a caller: their memberships and the roles their teams hold, as of now.
pub(crate) async fn user_caller(
    db: &impl sea_orm::ConnectionTrait,
    user: &user::Model,
    session_id: String,
) -> Result<Caller, sea_orm::DbErr> {
    // Roles held through teams count like memberships.
    let grants: Vec<Grant> = repo::roles_of(db, &user.id)
        .await?
        .into_iter()
        .map(|(account_id, role)| Grant { account_id, role })
        .collect();
    let principal = Principal::User {
        user_id: user.id.clone(),
        session_id,
    };
    Caller::load(db, principal, grants, user.mfa_enabled_at.is_some()).await
}

/// Whoever `actor` (`user:{id}` or `api_key:{id}`, as the activity log names them) is now, if
/// they still exist (a revoked key does not).
pub(crate) async fn actor_caller(
    db: &impl sea_orm::ConnectionTrait,
    actor: &str,
) -> Result<Option<Caller>, sea_orm::DbErr> {
    if let Some(id) = actor.strip_prefix("user:") {
        return match user::Entity::find_by_id(id).one(db).await? {
            Some(u) => Ok(Some(user_caller(db, &u, String::new()).await?)),
            None => Ok(None),
        };
    }
    if let Some(id) = actor.strip_prefix("api_key:") {
        return match entities::api_key::Entity::find_by_id(id).one(db).await? {
            Some(k) if k.revoked_at.is_none() => Ok(Some(api_key_caller(db, k).await?)),
            _ => Ok(None),
        };
    }
    Ok(None)
}

fn unauthorized() -> poem::Error {
    poem::Error::from_string(
        "invalid, expired or revoked credentials",
        StatusCode::UNAUTHORIZED,
    )
}
