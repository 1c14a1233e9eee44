//! `GET /metrics`: Prometheus text for scrapers, outside the OpenAPI spec.
//!
//! - `http_requests_total{method, route, status}` and `http_request_duration_seconds{method,
//!   route, status}` (a histogram, to the response's headers, not the end of a streamed body),
//!   counted by this process for every request. `route` is the operation's path template
//!   (`/v1/jobs/{job_id}`), never the raw path, so ids do not explode the series count; paths
//!   outside the API are `/docs`, `/metrics`, `/v1/openapi.json` or `unmatched`.
//! - `listbackup_jobs{status}`: jobs by status, counted in the database at scrape time, so every
//!   API replica reports the same numbers (aggregate them with `max`, not `sum`).
//!
//! No credentials by default, like `/v1/health`; with `LISTBACKUP_METRICS_TOKEN` set, a scrape
//! must send `Authorization: Bearer <token>` (Prometheus' `authorization` setting).
//!
//! The metrics go through the `metrics` facade into one process-wide
//! `metrics-exporter-prometheus` recorder, installed the first time an app is built; anything
//! else in the process that records with the facade (a worker started by `listbackup dev`)
//! shows up in the same scrape.

use crate::state::AppState;
use entities::{JobStatus, job};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{Method, StatusCode},
    web::Data,
};
use sea_orm::{
    EntityTrait, QuerySelect,
    sea_query::{Expr, Func, SimpleExpr},
};
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    fmt::Write,
    sync::{Arc, OnceLock},
    time::Instant,
};

/// Upper bounds of the request-duration buckets, in seconds.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use; `None` when another recorder was
/// installed first (then `/metrics` reports only the job gauges).
fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".into()),
                    &DURATION_BUCKETS,
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "another metrics recorder is installed; /metrics reports job gauges only");
                    None
                }
            }
        })
        .as_ref()
}

/// Operation ids to path templates, read from the spec (`getJob` -> `/v1/jobs/{job_id}`).
#[derive(Debug, Clone, Default)]
pub struct RouteTemplates(Arc<HashMap<String, String>>);

impl RouteTemplates {
    /// Reads every operation of the OpenAPI document `spec`. Also installs the recorder, so
    /// requests are counted from the first one on.
    pub fn from_spec(spec: &str) -> Self {
        recorder();
        let mut map = HashMap::new();
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        if let Some(paths) = doc["paths"].as_object() {
            for (path, operations) in paths {
                for operation in operations.as_object().into_iter().flat_map(|o| o.values()) {
                    if let Some(id) = operation["operationId"].as_str() {
                        map.insert(id.to_owned(), path.clone());
                    }
                }
            }
        }
        Self(Arc::new(map))
    }

    fn route(&self, operation: Option<&poem_openapi::OperationId>, path: &str) -> String {
        if let Some(template) = operation.and_then(|op| self.0.get(op.0)) {
            return template.clone();
        }
        match path {
            "/metrics" | "/v1/openapi.json" => path.to_owned(),
            p if p == "/docs" || p.starts_with("/docs/") => "/docs".to_owned(),
            _ => "unmatched".to_owned(),
        }
    }
}

/// Counts and times one request under its route template and status.
pub async fn observe<E: Endpoint>(
    routes: RouteTemplates,
    next: E,
    req: Request,
) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let result = next.call(req).await.map(IntoResponse::into_response);
    let (status, operation) = match &result {
        Ok(r) => (r.status(), r.data::<poem_openapi::OperationId>()),
        Err(e) => (e.status(), e.data::<poem_openapi::OperationId>()),
    };
    let labels = [
        ("method", method_label(&method)),
        ("route", routes.route(operation, &path)),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    result
}

/// Standard methods by name; anything else as `other`, so a client cannot mint label values.
fn method_label(method: &Method) -> String {
    const KNOWN: [Method; 7] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ];
    if KNOWN.contains(method) {
        method.as_str().to_owned()
    } else {
        "other".to_owned()
    }
}

/// True when `presented` is the configured token (compared as digests, in constant time per
/// byte of digest, so the comparison does not leak a prefix).
fn token_matches(expected: &str, presented: &str) -> bool {
    let (a, b) = (Sha256::digest(expected), Sha256::digest(presented));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `GET /metrics`.
#[poem::handler]
pub async fn scrape(state: Data<&AppState>, req: &Request) -> Response {
    if let Some(expected) = state.auth.metrics_token() {
        let presented = req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !token_matches(expected, presented) {
            let body = serde_json::json!({"error": {"code": "unauthorized", "message": "/metrics needs `Authorization: Bearer` with the metrics token", "request_id": "", "details": null}});
            return Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .content_type("application/json")
                .body(body.to_string());
        }
    }
    let mut text = match recorder() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => String::new(),
    };
    match job_counts(&state).await {
        Ok(counts) => {
            text.push_str(
                "# HELP listbackup_jobs Jobs by status, counted in the database at scrape time.\n\
                 # TYPE listbackup_jobs gauge\n",
            );
            for (status, n) in counts {
                let _ = writeln!(text, "listbackup_jobs{{status=\"{status}\"}} {n}");
            }
        }
        Err(e) => tracing::warn!(error = %e, "job counts for /metrics failed"),
    }
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

/// Every job status with its count (zero included, so series do not vanish).
async fn job_counts(state: &AppState) -> Result<Vec<(&'static str, i64)>, sea_orm::DbErr> {
    let rows: Vec<(JobStatus, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::Status)
        .column_as(
            SimpleExpr::from(Func::count(Expr::col(job::Column::Id))),
            "n",
        )
        .group_by(job::Column::Status)
        .into_tuple()
        .all(&state.db)
        .await?;
    const ALL: [(JobStatus, &str); 6] = [
        (JobStatus::Queued, "queued"),
        (JobStatus::Running, "running"),
        (JobStatus::NeedsReauth, "needs_reauth"),
        (JobStatus::Succeeded, "succeeded"),
        (JobStatus::Failed, "failed"),
        (JobStatus::Cancelled, "cancelled"),
    ];
    Ok(ALL
        .iter()
        .map(|(status, name)| {
            let n = rows
                .iter()
                .filter(|(s, _)| s == status)
                .map(|(_, n)| *n)
                .sum();
            (*name, n)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_never_raw_paths() {
        let routes = RouteTemplates::from_spec(&crate::openapi_json());
        let op = poem_openapi::OperationId("getJob");
        assert_eq!(
            routes.route(Some(&op), "/v1/jobs/job_1"),
            "/v1/jobs/{job_id}"
        );
        assert_eq!(routes.route(None, "/v1/jobs/job_1/x"), "unmatched");
        assert_eq!(routes.route(None, "/docs/index.css"), "/docs");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert!(token_matches("s3cret", "s3cret"));
        assert!(!token_matches("s3cret", "s3cre"));
    }
}
