//! The REST API: poem + poem-openapi, one module per resource, one error envelope everywhere.
//!
//! `/v1/...` JSON endpoints, the OpenAPI 3 spec at `/v1/openapi.json` (committed as
//! `api/openapi.json`), Swagger UI at `/docs`. Callers authenticate with an API key as
//! `Authorization: Bearer`; a key reaches its account and that account's sub-accounts.

mod auth;
mod backups;
mod error;
mod health;
mod jobs;
mod platforms;
mod reauth;
mod state;

pub use error::{ErrorBody, ErrorEnvelope};
pub use reauth::resume_jobs_waiting_for;
pub use state::{AppState, TemporalAccess};

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

/// The groups operations are listed under in the spec and Swagger UI.
#[derive(poem_openapi::Tags)]
pub enum ApiTags {
    /// Service status.
    System,
    /// The platforms ListBackup can back up.
    Platforms,
    /// Starting backups and syncs.
    Backups,
    /// Jobs: runs of backups and syncs.
    Jobs,
}

/// The API version shown in the spec.
pub const API_VERSION: &str = "1.0.0";

type Apis = (
    health::HealthApi,
    platforms::PlatformsApi,
    backups::BackupsApi,
    jobs::JobsApi,
);

fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (health::HealthApi, platforms::PlatformsApi, backups::BackupsApi, jobs::JobsApi), "ListBackup API", API_VERSION)
        .description("Back up SaaS platform data into S3 storage you control. Every backup runs as a durable Temporal workflow.")
}

/// The OpenAPI document, as served at `/v1/openapi.json`.
pub fn openapi_json() -> String {
    service().spec()
}

/// All routes, with the error envelope and request ids applied to every response.
pub fn app(state: AppState) -> impl Endpoint + 'static {
    let api = service();
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/v1/openapi.json", spec)
        .data(state)
        .around(error::envelope_middleware)
}

#[cfg(test)]
mod tests {
    /// The committed spec is what integrators generate clients from: it must match the code.
    /// Regenerate with `LISTBACKUP_UPDATE_OPENAPI=1 cargo test -p api`.
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
