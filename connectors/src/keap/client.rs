//! Keap requests: OAuth bearer auth with one refresh-and-retry on 401, both pagination
//! styles, the contacts update-time filter, and error classification.

use super::config::{CREDENTIALS_IN_BODY, KEAP_AUTHORIZE_URL, KEAP_TOKEN_URL, KeapConfig};
use super::models::{self, ListBody, RecordHead};
use super::streams::{self, Endpoint};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo, Record,
    http::{HttpClient, classify_status},
    oauth::{self, OAuthSession, TokenStore},
};
use reqwest::{StatusCode, header::HeaderMap};
use serde_json::{Value, value::RawValue};
use std::sync::Arc;

const PLATFORM: &str = "keap";

pub struct KeapConnector {
    config: KeapConfig,
    http: HttpClient,
    session: OAuthSession,
}

/// Builds the connector from the connection's tokens (`credentials`, or `tokens` when the
/// caller keeps them in a shared store) and settings (`config`, which may carry `oauth_app`).
pub fn connect(
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<KeapConnector, ConnectorError> {
    let settings = KeapConfig::from_values(config)?;
    http.base_url(PLATFORM, &settings.base_url)?;
    let store = oauth::token_store(PLATFORM, credentials, tokens)?;
    let app = oauth::oauth_app(
        PLATFORM,
        config,
        http,
        (KEAP_AUTHORIZE_URL, KEAP_TOKEN_URL),
        CREDENTIALS_IN_BODY,
    )?;
    // Keap's 1500/min belongs to the client key (the OAuth app), shared by every connection.
    let budget = format!("keap:{}", app.client_id);
    Ok(KeapConnector {
        http: http.paced_shared(&budget, settings.rate_limit),
        config: settings,
        session: OAuthSession::new(PLATFORM, app, store),
    })
}

fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, kind, message)
}

impl KeapConnector {
    /// GETs one list page. A 401 refreshes the token once and retries once; a second 401
    /// means the grant is gone.
    async fn list(&self, path: &str, query: &[(&str, String)]) -> Result<ListBody, ConnectorError> {
        let url = format!("{}/crm/rest/{path}", self.config.base_url);
        let response = self
            .session
            .authorized(|token| self.send(&url, query, token))
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error(ErrorKind::Network, format!("reading {path}: {e}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| error(ErrorKind::Decode, format!("{path} is not a Keap list: {e}")))
    }

    async fn send(
        &self,
        url: &str,
        query: &[(&str, String)],
        token: String,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.http
            .send(
                PLATFORM,
                |c| c.get(url).bearer_auth(&token).query(query),
                classify,
            )
            .await
    }
}

/// Keap answers in three shapes (gateway `fault`, v1 `message`, v2 `status`); the HTTP
/// status decides the kind, the body only the message.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let parsed: models::ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let message = match (parsed.fault, parsed.message) {
        (Some(f), _) => match f.detail {
            Some(d) => format!("{} ({})", f.faultstring, d.errorcode),
            None => f.faultstring,
        },
        (None, Some(m)) => match parsed.status {
            Some(s) => format!("{m} ({s})"),
            None => m,
        },
        (None, None) => body.chars().take(200).collect(),
    };
    classify_status(PLATFORM, status, message)
}

fn take_records(body: &mut ListBody, stream: &str) -> Result<Vec<Box<RawValue>>, ConnectorError> {
    let raw = body
        .remove(stream)
        .ok_or_else(|| error(ErrorKind::Decode, format!("the answer has no `{stream}`")))?;
    serde_json::from_str(raw.get())
        .map_err(|e| error(ErrorKind::Decode, format!("`{stream}` is not a list: {e}")))
}

fn field<T: serde::de::DeserializeOwned>(body: &ListBody, name: &str) -> Option<T> {
    body.get(name)
        .and_then(|raw| serde_json::from_str::<Option<T>>(raw.get()).ok())
        .flatten()
}

/// The later of two update times, compared as instants.
fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => {
            if models::timestamp_millis(&b) > models::timestamp_millis(&a) {
                Some(b)
            } else {
                Some(a)
            }
        }
        (a, b) => a.or(b),
    }
}

#[async_trait::async_trait]
impl Connector for KeapConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.list("v2/contacts", &[("page_size", "1".into())])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let stream = request.stream.as_str();
        let Some(info) = streams::INFO.stream(stream) else {
            return Err(error(
                ErrorKind::Config,
                format!("unknown stream `{stream}`"),
            ));
        };
        let since = match &request.since {
            Some(Value::String(s)) if info.incremental => {
                if models::timestamp_millis(s).is_none() {
                    return Err(error(
                        ErrorKind::Config,
                        format!("cursor `{s}` is not a timestamp"),
                    ));
                }
                Some(s.clone())
            }
            _ => None,
        };
        let size = self.config.page_size;
        let (raw_records, next_page_token) = match streams::endpoint(stream) {
            Endpoint::V2 => {
                let mut query = vec![("page_size", size.to_string())];
                if let Some(since) = &since {
                    query.push(("filter", format!("start_update_time=={since}")));
                }
                if let Some(token) = &request.page_token {
                    query.push(("page_token", token.clone()));
                }
                let mut body = self.list(&format!("v2/{stream}"), &query).await?;
                let records = take_records(&mut body, stream)?;
                let next = field::<String>(&body, "next_page_token").filter(|t| !t.is_empty());
                if next.is_some() && next == request.page_token {
                    return Err(error(ErrorKind::Decode, "the page token did not advance"));
                }
                (records, next)
            }
            Endpoint::V1 => {
                let offset = match &request.page_token {
                    None => 0,
                    Some(t) => t.parse::<u64>().map_err(|_| {
                        error(
                            ErrorKind::Config,
                            format!("page token `{t}` is not an offset"),
                        )
                    })?,
                };
                let query = [("limit", size.to_string()), ("offset", offset.to_string())];
                let mut body = self.list(&format!("v1/{stream}"), &query).await?;
                let records = take_records(&mut body, stream)?;
                // `next` is present even on the last page: the end is a short page or `count`.
                let reached = offset + records.len() as u64;
                let more = records.len() as u64 == size
                    && field::<u64>(&body, "count").is_none_or(|count| reached < count);
                (records, more.then(|| reached.to_string()))
            }
        };

        let mut cursor = later(
            request
                .cursor
                .as_ref()
                .and_then(Value::as_str)
                .map(str::to_owned),
            since,
        );
        let mut records = Vec::with_capacity(raw_records.len());
        for json in raw_records {
            let head: RecordHead = serde_json::from_str(json.get()).map_err(|e| {
                error(
                    ErrorKind::Decode,
                    format!("{stream} record without id: {e}"),
                )
            })?;
            if info.incremental {
                cursor = later(cursor, head.update_time);
            }
            let id = match head.id {
                Value::String(s) => s,
                other => other.to_string(),
            };
            records.push(Record::new(id, json));
        }
        Ok(Page {
            records,
            next_page_token,
            cursor: cursor.filter(|_| info.incremental).map(Value::from),
        })
    }
}
