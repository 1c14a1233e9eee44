//! GoHighLevel requests: OAuth bearer with one refresh after a 401, the `Version` header, and
//! error classification.

use super::{PLATFORM, config::GoHighLevelConfig, models, pages, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, Page, PageRequest, PlatformInfo,
    http::{HttpClient, classify_status},
    oauth::OAuthSession,
};
use reqwest::{StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

pub struct GoHighLevelConnector {
    pub(super) config: GoHighLevelConfig,
    http: HttpClient,
    session: OAuthSession,
}

impl GoHighLevelConnector {
    pub fn new(config: GoHighLevelConfig, http: HttpClient, session: OAuthSession) -> Self {
        Self {
            config,
            http,
            session,
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url)
    }

    /// Sends the request `build` makes, authenticated and versioned, and decodes the answer.
    /// A 401 refreshes the token once (unless someone else already did) and tries once more.
    pub(super) async fn call<T, B>(&self, what: &str, build: B) -> Result<T, ConnectorError>
    where
        T: DeserializeOwned,
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let build = &build;
        let versioned = |token: String| {
            move |c: &reqwest::Client| {
                build(c)
                    .bearer_auth(&token)
                    .header("Version", streams::API_VERSION)
                    .header("Accept", "application/json")
            }
        };
        // A 401 refreshes the token (see `OAuthSession::authorized`) and tries again.
        let response = self
            .session
            .authorized(|token| self.http.send(PLATFORM, versioned(token), classify))
            .await?;
        let bytes = response.bytes().await.map_err(|e| {
            ConnectorError::new(PLATFORM, ErrorKind::Network, format!("reading {what}: {e}"))
        })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Decode,
                format!("{what} is not what GoHighLevel documents: {e}"),
            )
        })
    }
}

/// GHL errors are `{"statusCode", "message": "…" | ["…", …], "error"}`; the status decides the
/// kind. A 429 without `Retry-After` waits out the burst interval GHL reports.
fn classify(status: StatusCode, headers: &HeaderMap, body: &str) -> ConnectorError {
    let message = serde_json::from_str::<models::ErrorBody>(body)
        .ok()
        .and_then(|e| {
            let message = match e.message? {
                Value::String(s) => s,
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            Some(match e.error {
                Some(error) => format!("{message} ({error})"),
                None => message,
            })
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let mut err = classify_status(PLATFORM, status, message);
    if status == StatusCode::TOO_MANY_REQUESTS && crate::http::retry_after(headers).is_none() {
        err.retry_after = headers
            .get("x-ratelimit-interval-milliseconds")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
    }
    err
}

#[async_trait::async_trait]
impl Connector for GoHighLevelConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        pages::contacts(self, None, None, 1).await.map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let token = request.page_token.as_deref();
        match request.stream.as_str() {
            "contacts" => {
                let floor = [&request.cursor, &request.since]
                    .into_iter()
                    .filter_map(|c| c.as_ref().and_then(Value::as_i64))
                    .max();
                let since = request.since.as_ref().and_then(Value::as_i64);
                let mut page = pages::contacts(self, since, token, self.config.page_size).await?;
                let reached = page.cursor.as_ref().and_then(Value::as_i64);
                page.cursor = reached.max(floor).map(Value::from);
                Ok(page)
            }
            "opportunities" => pages::opportunities(self, token).await,
            "calendars" => pages::calendars(self).await,
            "appointments" => pages::appointments(self, token).await,
            other => Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("unknown stream `{other}`"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_from_the_status_and_ghl_body() {
        let headers = HeaderMap::new();
        let err = classify(
            StatusCode::UNAUTHORIZED,
            &headers,
            r#"{"statusCode":401,"message":"Invalid JWT","error":"Unauthorized"}"#,
        );
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert!(err.message.contains("Invalid JWT"), "{err}");
        let err = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            &headers,
            r#"{"statusCode":422,"message":["locationId must be a string"]}"#,
        );
        assert_eq!(err.kind, ErrorKind::InvalidRequest);
        assert!(err.message.contains("locationId must be a string"));
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-interval-milliseconds",
            "10000".parse().unwrap(),
        );
        let err = classify(StatusCode::TOO_MANY_REQUESTS, &headers, "not json");
        assert_eq!(err.kind, ErrorKind::RateLimited);
        assert_eq!(err.retry_after, Some(Duration::from_secs(10)));
    }
}
