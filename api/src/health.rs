//! `GET /v1/health`: each dependency checked and reported on its own; `GET /v1/ready`: whether
//! this API process can serve requests (its database answers), for load balancers and
//! orchestrators; `GET /v1/version`: what is running.

use crate::state::AppState;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use sea_orm::ConnectionTrait;
use std::time::Duration;

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ComponentHealth {
    pub ok: bool,
    /// What failed, when something did.
    pub message: Option<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Health {
    /// `ok` when every component is, `degraded` otherwise.
    pub status: String,
    pub db: ComponentHealth,
    pub temporal: ComponentHealth,
    pub storage: ComponentHealth,
}

#[derive(ApiResponse)]
pub enum HealthResponse {
    /// Everything is reachable.
    #[oai(status = 200)]
    Ok(Json<Health>),
    /// At least one component is not.
    #[oai(status = 503)]
    Degraded(Json<Health>),
}

/// Whether this process can serve requests.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Readiness {
    pub ready: bool,
    /// Why not, when it is not.
    pub message: Option<String>,
}

#[derive(ApiResponse)]
pub enum ReadyResponse {
    /// The database answers: requests can be served.
    #[oai(status = 200)]
    Ready(Json<Readiness>),
    /// The database does not answer.
    #[oai(status = 503)]
    NotReady(Json<Readiness>),
}

/// What is running.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Version {
    /// The ListBackup release.
    pub version: String,
    /// The REST API's version (the spec's `info.version`).
    pub api_version: String,
}

pub struct HealthApi;

async fn probe<F, E>(check: F) -> ComponentHealth
where
    F: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(())) => ComponentHealth {
            ok: true,
            message: None,
        },
        Ok(Err(e)) => ComponentHealth {
            ok: false,
            message: Some(e.to_string()),
        },
        Err(_) => ComponentHealth {
            ok: false,
            message: Some("timed out after 3 s".into()),
        },
    }
}

#[OpenApi]
impl HealthApi {
    /// Reports whether the database, Temporal and the object store are reachable.
    #[oai(
        path = "/v1/health",
        method = "get",
        operation_id = "getHealth",
        tag = "crate::ApiTags::System"
    )]
    async fn health(&self, state: Data<&AppState>) -> HealthResponse {
        let db = probe(async { state.db.execute_unprepared("SELECT 1").await.map(|_| ()) });
        let temporal = probe(temporal::check_health(&state.temporal.client));
        let storage = probe(state.store.check());
        let (db, temporal, storage) = tokio::join!(db, temporal, storage);
        let ok = db.ok && temporal.ok && storage.ok;
        let health = Health {
            status: if ok { "ok" } else { "degraded" }.into(),
            db,
            temporal,
            storage,
        };
        if ok {
            HealthResponse::Ok(Json(health))
        } else {
            HealthResponse::Degraded(Json(health))
        }
    }

    /// Answers 200 once this process can serve requests (its database answers), 503 otherwise.
    /// Unlike `/v1/health`, an unreachable Temporal or object store does not make it unready:
    /// reading accounts, jobs and settings still works.
    #[oai(
        path = "/v1/ready",
        method = "get",
        operation_id = "getReadiness",
        tag = "crate::ApiTags::System"
    )]
    async fn ready(&self, state: Data<&AppState>) -> ReadyResponse {
        let db = probe(async { state.db.execute_unprepared("SELECT 1").await.map(|_| ()) }).await;
        let readiness = Readiness {
            ready: db.ok,
            message: db.message,
        };
        if readiness.ready {
            ReadyResponse::Ready(Json(readiness))
        } else {
            ReadyResponse::NotReady(Json(readiness))
        }
    }

    /// The running release and API version.
    #[oai(
        path = "/v1/version",
        method = "get",
        operation_id = "getVersion",
        tag = "crate::ApiTags::System"
    )]
    async fn version(&self) -> Json<Version> {
        Json(Version {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: crate::API_VERSION.to_owned(),
        })
    }
}
