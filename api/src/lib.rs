//! The REST API: poem + poem-openapi, one module per resource, one error envelope everywhere.
//!
//! `/v1/...` JSON endpoints, the OpenAPI 3 spec at `/v1/openapi.json` (committed as
//! `api/openapi.json`), Swagger UI at `/docs`. Callers authenticate with `Authorization: Bearer`
//! and either a user's access token or an API key; both become one [`access::Caller`] with a
//! role per account. Conventions every resource follows — errors ([`error`]), access checks
//! ([`access`]), pagination ([`pagination`]), the activity log ([`activity`]) — are in
//! `docs/api.md`.

pub mod access;
mod accounts;
pub mod activity;
mod api_keys;
pub mod auth;
mod backups;
pub mod error;
mod health;
pub mod input;
mod jobs;
mod members;
pub mod metrics;
pub mod pagination;
mod passwords;
mod platforms;
mod reauth;
mod session;
mod snapshots;
mod state;
pub mod throttle;
pub mod tokens;

pub use auth::AuthSettings;
pub use error::{ErrorBody, ErrorEnvelope};
pub use reauth::resume_jobs_waiting_for;
pub use state::{AppState, TemporalAccess};
pub use throttle::{Limit, SignInLimits};

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// The groups operations are listed under in the spec and Swagger UI.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Registering, signing in and out, and who you are.
    Auth,
    /// Accounts and sub-accounts.
    Accounts,
    /// Members of an account and their roles.
    Members,
    /// API keys for integrations.
    ApiKeys,
    /// Service status.
    System,
    /// The platforms ListBackup can back up.
    Platforms,
    /// Starting backups and syncs.
    Backups,
    /// Jobs: runs of backups and syncs.
    Jobs,
    /// Snapshots: what backups wrote, and reading it back.
    Snapshots,
}

/// The API version shown in the spec.
pub const API_VERSION: &str = "1.0.0";

type Apis = (
    health::HealthApi,
    platforms::PlatformsApi,
    session::SessionApi,
    accounts::AccountsApi,
    members::MembersApi,
    api_keys::ApiKeysApi,
    backups::BackupsApi,
    jobs::JobsApi,
    snapshots::SnapshotsApi,
);

fn service() -> OpenApiService<Apis, ()> {
    let apis = (
        health::HealthApi,
        platforms::PlatformsApi,
        session::SessionApi,
        accounts::AccountsApi,
        members::MembersApi,
        api_keys::ApiKeysApi,
        backups::BackupsApi,
        jobs::JobsApi,
        snapshots::SnapshotsApi,
    );
    OpenApiService::new(apis, "ListBackup API", API_VERSION).description(
        "Back up SaaS platform data into S3 storage you control. Every backup runs as a durable \
         Temporal workflow. Authenticate with `Authorization: Bearer` and an access token from \
         `POST /v1/auth/login`, or an API key (`lbk_…`).",
    )
}

/// The OpenAPI document, as served at `/v1/openapi.json`.
pub fn openapi_json() -> String {
    service().spec()
}

/// All routes, with the error envelope and request ids applied to every response, and every
/// request counted and timed for `/metrics` (by route template and status).
pub fn app(state: AppState) -> impl Endpoint + 'static {
    let api = service();
    let routes = metrics::RouteTemplates::from_spec(&api.spec());
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/v1/openapi.json", spec)
        .at("/metrics", poem::get(metrics::scrape))
        .data(state)
        .around(move |next, req| metrics::observe(routes.clone(), next, req))
        .around(error::envelope_middleware)
}

#[cfg(test)]
mod tests {
    /// The committed spec is what integrators generate clients from: it must match the code.
    /// Regenerate with `LISTBACKUP_UPDATE_OPENAPI=1 cargo test -p api committed_openapi`.
    #[test]
    fn committed_openapi_spec_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let spec = super::openapi_json();
        if std::env::var_os("LISTBACKUP_UPDATE_OPENAPI").is_some() {
            std::fs::write(path, format!("{spec}\n")).expect("write api/openapi.json");
        }
        let committed = std::fs::read_to_string(path).expect("api/openapi.json exists");
        assert!(
            committed.trim_end() == spec.trim_end(),
            "api/openapi.json is out of date: run LISTBACKUP_UPDATE_OPENAPI=1 cargo test -p api"
        );
    }
}
