//! `GET /v1/health`: each dependency checked and reported on its own.

use crate::state::AppState;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};
use sea_orm::ConnectionTrait;
use std::time::Duration;

#[derive(Object, Debug, Clone)]
pub struct ComponentHealth {
    pub ok: bool,
    /// What failed, when something did.
    pub message: Option<String>,
}

#[derive(Object, Debug, Clone)]
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
}
