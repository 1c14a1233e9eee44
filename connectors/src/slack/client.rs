//! Slack requests: bearer tokens (refreshed once after `token_expired`/`invalid_auth` when the
//! install rotates them), one budget per method at its tier, and Slack's envelope — errors
//! arrive as HTTP 200 with `{"ok": false, "error": "…"}` and are classified here, once.

use super::config::SlackConfig;
use super::models::{self, ResponseMetadata, Status};
use super::streams::{self, Method};
use super::{PLATFORM, files, walk};
use crate::{
    Connector, ConnectorError, ErrorKind, FileBody, FileRef, Page, PageRequest, PlatformInfo,
    Record,
    http::{HttpClient, RateLimit, classify_status},
    oauth::OAuthSession,
};
use reqwest::{StatusCode, header::HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Where the access token comes from.
pub enum Auth {
    /// An install without token rotation: the token never expires and cannot be refreshed.
    Fixed(String),
    /// An install with token rotation: 12-hour access tokens, refreshed through the session
    /// (and its token store, which saves each rotated refresh token exactly once).
    Rotating(Box<OAuthSession>),
}

impl Auth {
    async fn token(&self) -> Result<String, ConnectorError> {
        match self {
            Auth::Fixed(token) => Ok(token.clone()),
            Auth::Rotating(session) => session.access_token().await,
        }
    }

    /// The token to try again with after `rejected` was refused; `None` when there is no
    /// way to get another.
    async fn refreshed(&self, rejected: &str) -> Result<Option<String>, ConnectorError> {
        match self {
            Auth::Fixed(_) => Ok(None),
            Auth::Rotating(session) => session.after_unauthorized(rejected).await.map(Some),
        }
    }
}

/// An `{"ok": false}` answer: Slack's error code, and for `missing_scope` the scopes.
#[derive(Debug)]
pub struct Refusal {
    pub code: String,
    needed: Option<String>,
    provided: Option<String>,
}

impl Refusal {
    /// The error the pipeline sees when the caller has no special handling for the code.
    pub fn into_error(self, method: Method) -> ConnectorError {
        let mut message = format!("{}: {}", method.name(), self.code);
        if let Some(needed) = &self.needed {
            message.push_str(&format!(
                " (needs scope `{needed}`; the token has `{}`)",
                self.provided.as_deref().unwrap_or_default()
            ));
        }
        if refusal_kind(&self.code) == ErrorKind::Unauthorized {
            message.push_str("; reconnect the connection");
        }
        ConnectorError::new(PLATFORM, refusal_kind(&self.code), message)
    }
}

/// What a call got: the data, or a refusal the caller may handle (a conversation the bot has
/// left answers `not_in_channel`, which skips it rather than failing the run).
pub enum Answer<T> {
    Data(T),
    Refused(Refusal),
}

/// Classifies Slack's error codes.
pub fn refusal_kind(code: &str) -> ErrorKind {
    match code {
        "invalid_auth"
        | "not_authed"
        | "token_revoked"
        | "token_expired"
        | "account_inactive"
        | "invalid_token"
        | "user_removed_from_team"
        | "team_disabled" => ErrorKind::Unauthorized,
        "missing_scope"
        | "no_permission"
        | "not_allowed_token_type"
        | "access_denied"
        | "ekm_access_denied"
        | "team_access_not_granted"
        | "org_login_required"
        | "enterprise_is_restricted"
        | "not_in_channel" => ErrorKind::Forbidden,
        "ratelimited" | "rate_limited" => ErrorKind::RateLimited,
        "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout"
        | "team_added_to_org" => ErrorKind::Unavailable,
        _ => ErrorKind::InvalidRequest,
    }
}

/// Refusals worth a refresh: the access token expired, or is not (or no longer) known.
fn stale_token(code: &str) -> bool {
    matches!(code, "token_expired" | "invalid_auth")
}

/// Classifies an answer with an HTTP error status (429, 5xx, …) by the status; the body
/// (Slack's envelope, or an HTML error page) only adds to the message.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let detail = serde_json::from_str::<Status>(body)
        .ok()
        .and_then(|s| s.error)
        .unwrap_or_else(|| body.chars().take(200).collect());
    classify_status(PLATFORM, status, detail)
}

/// Fails a 200 answer that reports a temporary failure (`ratelimited`, `internal_error`,
/// `fatal_error`, …), so the shared client retries it; other refusals pass to the caller.
fn check_temporary(_headers: &HeaderMap, body: &[u8]) -> Result<(), ConnectorError> {
    match serde_json::from_slice::<Status>(body) {
        Ok(Status {
            ok: false,
            error: Some(code),
            ..
        }) => {
            let err = ConnectorError::new(PLATFORM, refusal_kind(&code), code);
            if err.is_temporary() { Err(err) } else { Ok(()) }
        }
        _ => Ok(()),
    }
}

fn decode(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::new(
        PLATFORM,
        ErrorKind::Decode,
        format!("{what} is not what Slack documents: {e}"),
    )
}

pub struct SlackConnector {
    pub(super) config: SlackConfig,
    base: String,
    auth: Auth,
    /// One paced client per [`Method`] (or one shared budget under `requests_per_second`).
    budgets: Vec<HttpClient>,
}

impl SlackConnector {
    pub fn new(config: SlackConfig, auth: Auth, http: &HttpClient) -> Self {
        let budgets = match config.requests_per_second {
            Some(limit) => {
                let shared = http.paced("requests", limit);
                Method::ALL.map(|_| shared.clone()).to_vec()
            }
            // 5% under each tier: requests spaced exactly at the limit would, with network
            // jitter, now and then land two in one slot of Slack's window.
            None => Method::ALL
                .map(|m| {
                    http.paced(
                        m.name(),
                        RateLimit {
                            requests: m.per_minute(config.non_marketplace_app),
                            per: config.tier_window.mul_f64(1.05),
                        },
                    )
                })
                .to_vec(),
        };
        Self {
            base: config.base_url.clone(),
            config,
            auth,
            budgets,
        }
    }

    fn budget(&self, method: Method) -> &HttpClient {
        &self.budgets[method.slot()]
    }

    /// Calls a Web API method and decodes its data. A stale token is refreshed once (when
    /// the install rotates tokens) and the call made again; any other refusal is returned.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        query: &[(&str, String)],
    ) -> Result<Answer<T>, ConnectorError> {
        let token = self.auth.token().await?;
        match self.call_with(method, query, &token).await? {
            Answer::Refused(refusal) if stale_token(&refusal.code) => {
                match self.auth.refreshed(&token).await? {
                    Some(fresh) => self.call_with(method, query, &fresh).await,
                    None => Ok(Answer::Refused(refusal)),
                }
            }
            answer => Ok(answer),
        }
    }

    /// [`call`](Self::call), with every refusal an error.
    pub(super) async fn call_ok<T: DeserializeOwned>(
        &self,
        method: Method,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        match self.call(method, query).await? {
            Answer::Data(data) => Ok(data),
            Answer::Refused(refusal) => Err(refusal.into_error(method)),
        }
    }

    async fn call_with<T: DeserializeOwned>(
        &self,
        method: Method,
        query: &[(&str, String)],
        token: &str,
    ) -> Result<Answer<T>, ConnectorError> {
        let url = format!("{}/api/{}", self.base, method.name());
        let body = self
            .budget(method)
            .send_read(
                PLATFORM,
                |c| c.get(&url).bearer_auth(token).query(query),
                classify,
                check_temporary,
            )
            .await?;
        let status: Status = serde_json::from_slice(&body).map_err(|e| decode(method.name(), e))?;
        if !status.ok {
            return Ok(Answer::Refused(Refusal {
                code: status.error.unwrap_or_else(|| "unknown_error".into()),
                needed: status.needed,
                provided: status.provided,
            }));
        }
        serde_json::from_slice(&body)
            .map(Answer::Data)
            .map_err(|e| decode(method.name(), e))
    }

    /// One page of a cursor-paginated list whose items sit under `field`.
    pub(super) async fn list(
        &self,
        method: Method,
        field: &str,
        mut query: Vec<(&str, String)>,
        cursor: Option<&str>,
    ) -> Result<(Vec<Box<RawValue>>, Option<String>), ConnectorError> {
        query.push(("limit", self.config.page_size.to_string()));
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor.to_owned()));
        }
        let mut body: BTreeMap<String, Box<RawValue>> = self.call_ok(method, &query).await?;
        let items = match body.remove(field) {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|e| decode(field, e))?,
            None => Vec::new(),
        };
        let next = match body.remove("response_metadata") {
            Some(raw) => serde_json::from_str::<ResponseMetadata>(raw.get())
                .map_err(|e| decode("response_metadata", e))?
                .next(),
            None => None,
        };
        if next.is_some() && next.as_deref() == cursor {
            return Err(decode(method.name(), "the cursor did not advance"));
        }
        Ok((items, next))
    }

    /// One page of conversations, of every type the bot can be in.
    pub(super) async fn conversations(
        &self,
        cursor: Option<&str>,
    ) -> Result<(Vec<Box<RawValue>>, Option<String>), ConnectorError> {
        let query = vec![
            ("types", "public_channel,private_channel,mpim,im".to_owned()),
            ("exclude_archived", "false".to_owned()),
        ];
        self.list(Method::ConversationsList, "channels", query, cursor)
            .await
    }

    /// A page of a cursor-paginated list stream, each record keyed by its `id`.
    async fn list_stream(
        &self,
        method: Method,
        field: &str,
        request: &PageRequest,
    ) -> Result<Page, ConnectorError> {
        let (items, next) = match method {
            Method::ConversationsList => self.conversations(request.page_token.as_deref()).await?,
            _ => {
                self.list(method, field, Vec::new(), request.page_token.as_deref())
                    .await?
            }
        };
        let records = items
            .into_iter()
            .map(|json| {
                let head: models::Head =
                    serde_json::from_str(json.get()).map_err(|e| decode(field, e))?;
                Ok(Record::new(head.id, json))
            })
            .collect::<Result<Vec<_>, ConnectorError>>()?;
        Ok(Page {
            records,
            next_page_token: next,
            cursor: None,
        })
    }

    /// Streams a file's contents from its `url_private_download`, with the bearer token.
    /// Slack answers a token it does not accept there with its sign-in page (HTML, with a
    /// 200), never with a 401: that page is recognised, refreshed once, and refused.
    pub(super) async fn fetch_file(&self, file: &FileRef) -> Result<FileBody, ConnectorError> {
        let url = files::download_url(&self.base, &file.locator)?;
        let token = self.auth.token().await?;
        let mut response = self.send_download(&url, &token).await?;
        if files::is_sign_in_page(&response, file)
            && let Some(fresh) = self.auth.refreshed(&token).await?
        {
            response = self.send_download(&url, &fresh).await?;
        }
        if files::is_sign_in_page(&response, file) {
            return Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Unauthorized,
                format!(
                    "{}: Slack answered with its sign-in page: the token lacks `files:read` or was revoked; reconnect the connection",
                    file.name
                ),
            ));
        }
        Ok(files::body(response))
    }

    async fn send_download(
        &self,
        url: &reqwest::Url,
        token: &str,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.budget(Method::Download)
            .send(
                PLATFORM,
                |c| c.get(url.clone()).bearer_auth(token),
                classify,
            )
            .await
    }
}

#[async_trait::async_trait]
impl Connector for SlackConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        self.call_ok::<serde::de::IgnoredAny>(Method::AuthTest, &[])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        match request.stream.as_str() {
            "channels" => {
                self.list_stream(Method::ConversationsList, "channels", request)
                    .await
            }
            "members" => {
                self.list_stream(Method::UsersList, "members", request)
                    .await
            }
            "messages" => walk::messages(self, request).await,
            "threads" => walk::threads(self, request).await,
            "files" => files::read_page(self, request).await,
            other => Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("unknown stream `{other}`"),
            )),
        }
    }

    async fn download(&self, file: &FileRef) -> Result<FileBody, ConnectorError> {
        self.fetch_file(file).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_error_codes_are_classified_once() {
        for (code, kind) in [
            ("invalid_auth", ErrorKind::Unauthorized),
            ("token_revoked", ErrorKind::Unauthorized),
            ("account_inactive", ErrorKind::Unauthorized),
            ("not_authed", ErrorKind::Unauthorized),
            ("token_expired", ErrorKind::Unauthorized),
            ("missing_scope", ErrorKind::Forbidden),
            ("ratelimited", ErrorKind::RateLimited),
            ("internal_error", ErrorKind::Unavailable),
            ("fatal_error", ErrorKind::Unavailable),
            ("invalid_cursor", ErrorKind::InvalidRequest),
        ] {
            assert_eq!(refusal_kind(code), kind, "{code}");
        }
        let err = Refusal {
            code: "missing_scope".into(),
            needed: Some("channels:history".into()),
            provided: Some("channels:read".into()),
        }
        .into_error(Method::History);
        assert_eq!(err.kind, ErrorKind::Forbidden);
        assert!(err.message.contains("channels:history"), "{err}");
        let headers = HeaderMap::new();
        let temporary = check_temporary(&headers, br#"{"ok":false,"error":"fatal_error"}"#);
        assert!(temporary.is_err_and(|e| e.is_temporary()));
        assert!(check_temporary(&headers, br#"{"ok":false,"error":"invalid_auth"}"#).is_ok());
        assert!(check_temporary(&headers, br#"{"ok":true}"#).is_ok());
        let err = classify(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            r#"{"ok":false,"error":"ratelimited"}"#,
        );
        assert_eq!(err.kind, ErrorKind::RateLimited);
        assert!(err.message.contains("ratelimited"));
    }
}
