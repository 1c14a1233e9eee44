//! Dropbox requests: OAuth bearer auth with one refresh after `expired_access_token`, RPC
//! calls (`POST` with a JSON body), and error classification that keeps the `.tag` of
//! Dropbox's error union for the callers that act on it (`reset`).

use super::config::DropboxConfig;
use super::models::{AccountHead, ErrorBody};
use super::{PLATFORM, download, files, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, FileBody, FileRef, Page, PageRequest, PlatformInfo,
    Record,
    http::{self, HttpClient, classify_status},
    oauth::OAuthSession,
};
use reqwest::{StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Value, value::RawValue};
use std::sync::{Mutex, PoisonError};

pub struct DropboxConnector {
    pub(super) config: DropboxConfig,
    http: HttpClient,
    session: OAuthSession,
}

/// A failed request and the `.tag` of the error union Dropbox answered with, if any.
pub(super) struct Failure {
    pub(super) error: ConnectorError,
    pub(super) tag: Option<String>,
}

impl Failure {
    /// A 409 whose error union is `tag` (e.g. `reset` from `list_folder/continue`).
    pub(super) fn is_endpoint_error(&self, tag: &str) -> bool {
        self.error.status == Some(409) && self.tag.as_deref() == Some(tag)
    }
}

impl From<ConnectorError> for Failure {
    fn from(error: ConnectorError) -> Self {
        Self { error, tag: None }
    }
}

impl From<Failure> for ConnectorError {
    fn from(failure: Failure) -> Self {
        failure.error
    }
}

pub(super) fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, kind, message)
}

impl DropboxConnector {
    pub fn new(config: DropboxConfig, http: HttpClient, session: OAuthSession) -> Self {
        Self {
            config,
            http,
            session,
        }
    }

    /// Sends the request `build` makes with the access token. Only `expired_access_token`
    /// is worth a refresh (once, then one more try); any other 401 means the grant is gone.
    pub(super) async fn send<B>(&self, build: B) -> Result<reqwest::Response, Failure>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        let token = self.session.access_token().await?;
        match self.attempt(&build, &token).await {
            Err(f) if f.error.status == Some(401) && f.tag.as_deref() == Some(EXPIRED) => {
                let fresh = self.session.after_unauthorized(&token).await?;
                self.attempt(&build, &fresh).await.map_err(|mut f| {
                    if f.error.status == Some(401) {
                        f.error.message.push_str(
                            "; refused again after a token refresh: reconnect the connection",
                        );
                    }
                    f
                })
            }
            other => other,
        }
    }

    async fn attempt<B>(&self, build: &B, token: &str) -> Result<reqwest::Response, Failure>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    {
        // The shared client retries temporary failures; the tag of the last one it saw is
        // the one that belongs to the error it returns.
        let tag = Mutex::new(None);
        let result = self
            .http
            .send(
                PLATFORM,
                |c| build(c).bearer_auth(token),
                |status, headers, body| {
                    let (error, found) = classify(status, headers, body);
                    *tag.lock().unwrap_or_else(PoisonError::into_inner) = found;
                    error
                },
            )
            .await;
        result.map_err(|error| Failure {
            error,
            tag: tag.into_inner().unwrap_or_else(PoisonError::into_inner),
        })
    }

    /// Calls an RPC route (`POST {base_url}/2/{route}` with `arg` as the JSON body).
    pub(super) async fn rpc<T: DeserializeOwned>(
        &self,
        route: &str,
        arg: &Value,
    ) -> Result<T, Failure> {
        let url = format!("{}/2/{route}", self.config.base_url);
        let body = arg.to_string();
        let response = self
            .send(|c| {
                c.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error(ErrorKind::Network, format!("reading {route}: {e}")))?;
        Ok(serde_json::from_slice(&bytes).map_err(|e| {
            error(
                ErrorKind::Decode,
                format!("{route} answered what Dropbox does not document: {e}"),
            )
        })?)
    }

    async fn account_page(&self) -> Result<Page, ConnectorError> {
        // A route without arguments takes `null`.
        let raw: Box<RawValue> = self.rpc("users/get_current_account", &Value::Null).await?;
        let head: AccountHead = serde_json::from_str(raw.get())
            .map_err(|e| error(ErrorKind::Decode, format!("account without id: {e}")))?;
        Ok(Page {
            records: vec![Record::new(head.account_id, raw)],
            next_page_token: None,
            cursor: None,
        })
    }
}

const EXPIRED: &str = "expired_access_token";

/// The HTTP status decides the kind (400 bad input, 401 auth, 409 the route's own error,
/// 429 throttled, 5xx Dropbox's side); the JSON body, when there is one, the message and the
/// tag. Missing scopes are a permission problem, not a dead grant.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> (ConnectorError, Option<String>) {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let tag = parsed.tag().map(str::to_owned);
    let summary = parsed
        .error_summary
        .clone()
        .unwrap_or_else(|| body.trim().chars().take(300).collect());
    let advice = match (status.as_u16(), tag.as_deref()) {
        (401, Some(EXPIRED)) => "",
        (401, Some("missing_scope")) => {
            "; the app lacks a scope ListBackup needs: grant it and reconnect"
        }
        (401, _) => "; the access was revoked or is invalid: reconnect the connection",
        _ => "",
    };
    let mut err = classify_status(PLATFORM, status, format!("{summary}{advice}"));
    if status == StatusCode::UNAUTHORIZED
        && matches!(
            tag.as_deref(),
            Some("missing_scope" | "route_access_denied")
        )
    {
        err.kind = ErrorKind::Forbidden;
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        err.retry_after = http::retry_after(headers)
            .or_else(|| parsed.retry_after().map(std::time::Duration::from_secs));
    }
    (err, tag)
}

#[async_trait::async_trait]
impl Connector for DropboxConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.account_page().await.map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        match request.stream.as_str() {
            "files" => files::read_page(self, request).await,
            "account" => self.account_page().await,
            other => Err(error(
                ErrorKind::Config,
                format!("unknown stream `{other}`"),
            )),
        }
    }

    async fn download(&self, file: &FileRef) -> Result<FileBody, ConnectorError> {
        download::download(self, file).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classified(status: u16, body: &str) -> (ConnectorError, Option<String>) {
        classify(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body,
        )
    }

    #[test]
    fn errors_are_classified_by_status_and_tag() {
        let (err, tag) = classified(
            401,
            r#"{"error_summary": "expired_access_token/..", "error": {".tag": "expired_access_token"}}"#,
        );
        assert_eq!(
            (err.kind, tag.as_deref()),
            (ErrorKind::Unauthorized, Some(EXPIRED))
        );
        let (err, _) = classified(
            401,
            r#"{"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}}"#,
        );
        assert_eq!(err.kind, ErrorKind::Unauthorized);
        assert!(err.message.contains("reconnect"), "{err}");
        let (err, _) = classified(
            401,
            r#"{"error_summary": "missing_scope/..", "error": {".tag": "missing_scope", "required_scope": "files.content.read"}}"#,
        );
        assert_eq!(err.kind, ErrorKind::Forbidden);
        let (err, tag) = classified(
            409,
            r#"{"error_summary": "reset/..", "error": {".tag": "reset"}}"#,
        );
        assert_eq!(
            (err.kind, tag.as_deref()),
            (ErrorKind::InvalidRequest, Some("reset"))
        );
        let (err, tag) = classified(
            400,
            "Error in call to API function \"files/list_folder\": bad",
        );
        assert_eq!((err.kind, tag), (ErrorKind::InvalidRequest, None));
        assert!(err.message.contains("files/list_folder"), "{err}");
        let (err, _) = classified(
            429,
            r#"{"error_summary": "too_many_requests/..", "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 7}}"#,
        );
        assert_eq!(err.kind, ErrorKind::RateLimited);
        assert_eq!(err.retry_after, Some(std::time::Duration::from_secs(7)));
        let (err, _) = classified(503, "try later");
        assert!(err.is_temporary());
    }
}
