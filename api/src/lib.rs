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
mod activity_log;
mod analytics;
mod api_keys;
pub mod auth;
mod backups;
mod branding;
mod client_grants;
mod connections;
pub mod error;
mod exports;
mod health;
pub mod idempotency;
pub mod input;
mod invitations;
mod job_events;
mod job_lists;
mod jobs;
pub mod mail;
mod me;
mod members;
pub mod metrics;
mod mfa;
pub mod notifications;
mod oauth;
pub mod pagination;
mod password_reset;
mod passwords;
mod payload;
mod platforms;
mod portal;
mod reauth;
pub mod reconcile;
pub mod retention;
mod retention_policies;
mod retention_runs;
pub mod schedules;
mod session;
mod snapshots;
mod source_groups;
mod sources;
pub mod spec;
mod state;
mod teams;
pub mod throttle;
pub mod tokens;
mod verification_schedules;
mod verifications;
mod webhooks;

pub use auth::AuthSettings;
pub use error::{ErrorBody, ErrorEnvelope};
pub use mail::{MailError, MailSettings};
pub use reauth::resume_jobs_waiting_for;
pub use state::{AppState, ConnectionSettings, KeyHolder, TemporalAccess};
pub use throttle::{ApiRateLimit, Limit, SignInLimits};

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
    /// Sources: what to back up, over a connection.
    Sources,
    /// Source groups: back up or sync many sources at once.
    SourceGroups,
    /// Starting backups and syncs.
    Backups,
    /// Jobs: runs of backups and syncs.
    Jobs,
    /// Connections: credentials for a platform account (API keys, OAuth 2.0).
    Connections,
    /// Recurring backups and syncs of a source, run by Temporal Schedules.
    Schedules,
    /// What was done in an account, by whom.
    Activity,
    /// Snapshots: what backups wrote, and reading it back.
    Snapshots,
    /// Webhooks: signed notifications of job outcomes and missed scheduled runs.
    Webhooks,
    /// Retention: policies that expire old snapshots, and the runs that delete them.
    Retention,
    /// Your own settings: profile, password, second factor, the accounts you reach, and
    /// accepting invitations.
    Me,
    /// Teams: groups of users inside an account, and the roles they hold in its tree.
    Teams,
    /// Analytics and reports: storage, job outcomes, stale sources, records over time.
    Analytics,
    /// The client portal: grants of chosen sources to external clients and teams, and what
    /// their holders see.
    Portal,
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
    sources::SourcesApi,
    source_groups::SourceGroupsApi,
    backups::BackupsApi,
    jobs::JobsApi,
    connections::ConnectionsApi,
    oauth::OAuthApi,
    job_lists::JobListsApi,
    schedules::SchedulesApi,
    activity_log::ActivityLogApi,
    // poem-openapi implements `OpenApi` for tuples of up to 16: later APIs nest.
    (
        snapshots::SnapshotsApi,
        snapshots::PointInTimeApi,
        webhooks::WebhooksApi,
        verifications::VerificationsApi,
        verification_schedules::VerificationSchedulesApi,
        exports::ExportsApi,
        retention_policies::RetentionPoliciesApi,
        retention_runs::RetentionRunsApi,
        me::MeApi,
        me::ProfileApi,
        mfa::MfaApi,
        password_reset::PasswordResetApi,
        invitations::InvitationsApi,
        invitations::AcceptInvitationApi,
        job_events::JobEventsApi,
        (
            teams::TeamsApi,
            analytics::AnalyticsApi,
            branding::BrandingApi,
            snapshots::SearchApi,
            client_grants::ClientGrantsApi,
            portal::PortalApi,
        ),
    ),
);

fn service() -> OpenApiService<Apis, ()> {
    let apis = (
        health::HealthApi,
        platforms::PlatformsApi,
        session::SessionApi,
        accounts::AccountsApi,
        members::MembersApi,
        api_keys::ApiKeysApi,
        sources::SourcesApi,
        source_groups::SourceGroupsApi,
        backups::BackupsApi,
        jobs::JobsApi,
        connections::ConnectionsApi,
        oauth::OAuthApi,
        job_lists::JobListsApi,
        schedules::SchedulesApi,
        activity_log::ActivityLogApi,
        (
            snapshots::SnapshotsApi,
            snapshots::PointInTimeApi,
            webhooks::WebhooksApi,
            verifications::VerificationsApi,
            verification_schedules::VerificationSchedulesApi,
            exports::ExportsApi,
            retention_policies::RetentionPoliciesApi,
            retention_runs::RetentionRunsApi,
            me::MeApi,
            me::ProfileApi,
            mfa::MfaApi,
            password_reset::PasswordResetApi,
            invitations::InvitationsApi,
            invitations::AcceptInvitationApi,
            job_events::JobEventsApi,
            (
                teams::TeamsApi,
                analytics::AnalyticsApi,
                branding::BrandingApi,
                snapshots::SearchApi,
                client_grants::ClientGrantsApi,
                portal::PortalApi,
            ),
        ),
    );
    OpenApiService::new(apis, "ListBackup API", API_VERSION).description(
        "Back up SaaS platform data into S3 storage you control. Every backup runs as a durable \
         Temporal workflow. Authenticate with `Authorization: Bearer` and an access token from \
         `POST /v1/auth/login`, or an API key (`lbk_…`).",
    )
}

/// The OpenAPI document, as served at `/v1/openapi.json`: what poem-openapi derives from the
/// handlers, completed with what holds for every operation ([`spec::complete`]).
pub fn openapi_json() -> String {
    spec::complete(&service().spec())
}

/// The methods each path allows, for the `Allow` header of a 405.
pub(crate) fn allowed_methods() -> &'static spec::AllowedMethods {
    static ALLOWED: std::sync::LazyLock<spec::AllowedMethods> =
        std::sync::LazyLock::new(|| spec::AllowedMethods::from_spec(&openapi_json()));
    &ALLOWED
}

/// All routes, with the error envelope and request ids applied to every response, and every
/// request counted and timed for `/metrics` (by route template and status).
pub fn app(state: AppState) -> impl Endpoint + 'static {
    let api = service();
    let raw = api.spec();
    let spec = spec::complete(&raw);
    let routes = metrics::RouteTemplates::from_spec(&spec);
    // Swagger UI embeds the document it shows; show the completed one.
    let docs = api.swagger_ui_html().replace(&raw, &spec);
    Route::new()
        .nest("/", api)
        .at(
            "/docs",
            poem::endpoint::make_sync(move |_| poem::web::Html(docs.clone())),
        )
        .at(
            "/v1/openapi.json",
            poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(spec.clone())
            }),
        )
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

    /// A doc comment on an enum-typed field makes poem-openapi emit `allOf: [$ref, {description}]`,
    /// which client generators (openapi-python-client among them) reject, dropping every schema
    /// that uses it. Document such fields on the struct instead.
    #[test]
    fn no_property_wraps_a_reference_in_all_of() {
        let spec: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let schemas = spec["components"]["schemas"].as_object().unwrap();
        let is_object = |reference: &serde_json::Value| {
            reference["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .is_some_and(|name| schemas[name]["type"] == "object")
        };
        let mut offenders = Vec::new();
        for (name, schema) in schemas {
            for (field, property) in schema["properties"].as_object().into_iter().flatten() {
                let wraps_non_object = property["allOf"].as_array().is_some_and(|all| {
                    all.iter().any(|r| r.get("$ref").is_some() && !is_object(r))
                });
                if wraps_non_object {
                    offenders.push(format!("{name}.{field}"));
                }
            }
        }
        assert!(offenders.is_empty(), "allOf properties: {offenders:?}");
    }
}
