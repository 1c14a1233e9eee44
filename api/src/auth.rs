//! API key authentication: `Authorization: Bearer lbk_…`.

use crate::state::AppState;
use entities::{Role, repo};
use poem::{Request, http::StatusCode};
use poem_openapi::{SecurityScheme, auth::Bearer};

/// Who is calling, and which accounts they reach.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub role: Role,
    /// The key's account and all of its sub-accounts.
    pub reachable: Vec<String>,
}

impl Caller {
    pub fn actor(&self) -> String {
        format!("api_key:{}", self.key_id)
    }

    /// True when the caller may see objects of `account_id`.
    pub fn reaches(&self, account_id: &str) -> bool {
        self.reachable.iter().any(|a| a == account_id)
    }

    /// True when the caller may start and cancel jobs.
    pub fn can_operate(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin | Role::Operator)
    }
}

/// An API key, sent as a bearer token.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", key_name = "Authorization", checker = "check_api_key")]
pub struct ApiKeyAuth(pub Caller);

async fn check_api_key(req: &Request, bearer: Bearer) -> poem::Result<Caller> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
    let unauthorized =
        || poem::Error::from_string("invalid or revoked API key", StatusCode::UNAUTHORIZED);
    if !bearer.token.starts_with(repo::API_KEY_PREFIX) {
        return Err(unauthorized());
    }
    let key = repo::find_api_key(&state.db, &bearer.token)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "api key lookup failed");
            poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
    let key = key.ok_or_else(unauthorized)?;
    let reachable = repo::account_subtree(&state.db, &key.account_id)
        .await
        .map_err(|_| poem::Error::from_status(StatusCode::SERVICE_UNAVAILABLE))?;
    Ok(Caller {
        key_id: key.id,
        role: key.role,
        reachable,
    })
}
