//! `POST /v1/sources/{id}/test`: the first page of each selected stream, fetched with the
//! source's connection, to show a person whether a backup would work before it runs.

use crate::{error::ApiError, error::ErrorEnvelope, error_responses, state::AppState};
use connectors::{
    AuthKind, Connector, ConnectorError, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use entities::{connection, source};
use poem_openapi::{ApiResponse, Object, payload::Json};
use sea_orm::EntityTrait;
use serde_json::Value;
use std::{sync::Arc, time::Duration};

/// How long one stream's first page may take.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the test of one stream found.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamCheck {
    pub name: String,
    /// The first page was fetched.
    pub ok: bool,
    /// Records on the first page.
    #[oai(skip_serializing_if_is_none)]
    pub records: Option<u64>,
    /// Why it failed, as the platform (or the connection's settings) said.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// The outcome of a source test.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct SourceTestResult {
    /// Every selected stream answered.
    pub ok: bool,
    /// A failure before any stream could be asked (credentials that cannot be opened, a bad
    /// setting of the connection).
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
    pub streams: Vec<StreamCheck>,
}

#[derive(ApiResponse)]
pub enum TestSourceResponse {
    /// What the platform answered; `ok: false` when it refused.
    #[oai(status = 200)]
    Ok(Json<SourceTestResult>),
    /// Needs operator.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(TestSourceResponse { 403 => Forbidden, 404 => NotFound });

/// Tests `src`.
pub async fn run(state: &AppState, src: &source::Model) -> Result<SourceTestResult, ApiError> {
    let streams = selected_streams(src);
    let connector = match connector(state, src).await? {
        Ok(c) => c,
        Err(reason) => {
            return Ok(SourceTestResult {
                ok: false,
                error: Some(reason),
                streams: Vec::new(),
            });
        }
    };
    let mut checks = Vec::with_capacity(streams.len());
    for name in streams {
        let request = PageRequest {
            stream: name.clone(),
            ..PageRequest::default()
        };
        let check = match tokio::time::timeout(PAGE_TIMEOUT, connector.read_page(&request)).await {
            Ok(Ok(page)) => StreamCheck {
                name,
                ok: true,
                records: Some(page.records.len() as u64),
                error: None,
            },
            Ok(Err(e)) => StreamCheck {
                name,
                ok: false,
                records: None,
                error: Some(describe(&e)),
            },
            Err(_) => StreamCheck {
                name,
                ok: false,
                records: None,
                error: Some(format!("no answer within {} s", PAGE_TIMEOUT.as_secs())),
            },
        };
        checks.push(check);
    }
    Ok(SourceTestResult {
        ok: checks.iter().all(|c| c.ok),
        error: None,
        streams: checks,
    })
}

/// The source's streams; all of the platform's when none are selected.
fn selected_streams(src: &source::Model) -> Vec<String> {
    let selected: Vec<String> = src
        .streams
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !selected.is_empty() {
        return selected;
    }
    connectors::platform(&src.platform)
        .map(|p| p.streams.iter().map(|s| s.name.to_owned()).collect())
        .unwrap_or_default()
}

/// The connector of the source's connection, or why there is none (for the answer).
async fn connector(
    state: &AppState,
    src: &source::Model,
) -> Result<Result<Arc<dyn Connector>, String>, ApiError> {
    let Some(conn) = connection::Entity::find_by_id(src.connection_id.as_str())
        .one(&state.db)
        .await?
    else {
        return Ok(Err(format!(
            "connection {} no longer exists",
            src.connection_id
        )));
    };
    let credentials: Option<Value> = state
        .master
        .open_string(&conn.credentials_sealed)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let Some(credentials) = credentials else {
        return Ok(Err(format!(
            "the credentials of connection {} cannot be opened with this server's master key",
            conn.id
        )));
    };
    // A test should answer within seconds: one retry, short waits.
    let http = HttpClient::new(RetrySettings {
        max_retries: 1,
        min_delay: Duration::from_millis(250),
        max_delay: Duration::from_secs(2),
        max_retry_after: Duration::from_secs(5),
    })
    .allowing_private_networks(state.connections.http.allows_private_networks());
    // OAuth tokens are refreshed through the connection's row, like a job's, so a rotated
    // refresh token is stored exactly once.
    let tokens: Option<Arc<dyn connectors::oauth::TokenStore>> =
        match connectors::platform(&conn.platform) {
            Some(info) if info.auth == AuthKind::OAuth2 => {
                Some(Arc::new(activities::tokens::DbTokenStore::new(
                    state.db.clone(),
                    state.master.clone(),
                    &conn.id,
                    info.id,
                )))
            }
            _ => None,
        };
    Ok(
        connectors::build_with_tokens(&conn.platform, &credentials, &conn.config, &http, tokens)
            .map_err(|e| describe(&e)),
    )
}

/// A connector error as a person reads it.
fn describe(e: &ConnectorError) -> String {
    let what = match e.kind {
        ErrorKind::Unauthorized => "the platform refused the credentials",
        ErrorKind::Forbidden => "the credentials lack a permission",
        ErrorKind::RateLimited => "the platform's rate limit was reached",
        ErrorKind::InvalidRequest => "the platform refused the request",
        ErrorKind::Unavailable => "the platform is unavailable",
        ErrorKind::Network => "the platform could not be reached",
        ErrorKind::Decode => "the platform's answer could not be read",
        ErrorKind::Config => "the connection's settings are wrong",
    };
    format!("{what}: {}", e.message)
}
