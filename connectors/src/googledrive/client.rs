//! Drive requests: bearer auth with one refresh-and-retry on 401, error classification by
//! Google's `reason` (a 403 is a rate limit or a refusal depending on it), and downloads.

use super::config::{GoogleDriveConfig, MAX_DRIVES_PAGE_SIZE};
use super::export::Locator;
use super::models::{DriveHead, DriveList, ErrorBody};
use super::{PLATFORM, streams};
use crate::{
    Connector, ConnectorError, ErrorKind, FileBody, FileRef, Page, PageRequest, PlatformInfo,
    Record,
    http::{HttpClient, classify_status},
    oauth::OAuthSession,
};
use futures::StreamExt;
use reqwest::{StatusCode, Url, header::HeaderMap};
use serde::de::DeserializeOwned;

/// What a restore needs of a shared drive.
pub const DRIVE_FIELDS: &str =
    "kind,id,name,createdTime,hidden,colorRgb,themeId,restrictions,orgUnitId";

/// 403 reasons that mean "over quota, slow down": temporary, retried with backoff.
const RATE_LIMIT_REASONS: &[&str] = &[
    "userRateLimitExceeded",
    "rateLimitExceeded",
    "dailyLimitExceeded",
    "quotaExceeded",
];

/// 403 reasons about one file's contents, not the connection: that file cannot be fetched,
/// whatever we retry (an export over 10 MB, a file the owner blocked downloads of, ...).
const FILE_REFUSED_REASONS: &[&str] = &[
    "exportSizeLimitExceeded",
    "fileNotDownloadable",
    "fileNotExportable",
    "cannotDownloadFile",
    "cannotDownloadAbusiveFile",
    "cannotExportFile",
];

pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, kind, message)
}

/// Reads one Google account's Drive: its files (and their contents) and shared drives.
pub struct GoogleDriveConnector {
    pub(crate) config: GoogleDriveConfig,
    pub(crate) root: Url,
    pub(crate) http: HttpClient,
    pub(crate) session: OAuthSession,
}

#[async_trait::async_trait]
impl Connector for GoogleDriveConnector {
    fn info(&self) -> &'static PlatformInfo {
        &streams::INFO
    }

    async fn check(&self) -> Result<(), ConnectorError> {
        let url = self.url(&["changes", "startPageToken"])?;
        self.get(&url, &[("supportsAllDrives", "true".into())])
            .await
            .map(|_| ())
    }

    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        match request.stream.as_str() {
            "files" => self.read_files(request).await,
            "drives" => self.read_drives(request).await,
            other => Err(error(
                ErrorKind::Config,
                format!("unknown stream `{other}`"),
            )),
        }
    }

    /// Streams a binary file (`alt=media`) or a Workspace document's export, chunk by chunk.
    async fn download(&self, file: &FileRef) -> Result<FileBody, ConnectorError> {
        let (url, query) = match Locator::parse(&file.locator) {
            Some(Locator::Media { id }) => (
                self.url(&["files", id])?,
                vec![
                    ("alt", "media".to_owned()),
                    ("supportsAllDrives", "true".into()),
                ],
            ),
            Some(Locator::Export { id, mime_type }) => (
                self.url(&["files", id, "export"])?,
                vec![
                    ("mimeType", mime_type.to_owned()),
                    ("supportsAllDrives", "true".into()),
                ],
            ),
            None => {
                return Err(error(
                    ErrorKind::Config,
                    format!("`{}` is not a Drive file locator", file.locator),
                ));
            }
        };
        let response = self.get(&url, &query).await?;
        Ok(Box::pin(response.bytes_stream().map(|chunk| {
            chunk.map_err(|e| error(ErrorKind::Network, format!("download interrupted: {e}")))
        })))
    }
}

impl GoogleDriveConnector {
    /// The `drives` stream: every shared drive the user is a member of.
    async fn read_drives(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let url = self.url(&["drives"])?;
        let mut query = vec![
            (
                "pageSize",
                self.config.page_size.min(MAX_DRIVES_PAGE_SIZE).to_string(),
            ),
            ("fields", format!("nextPageToken,drives({DRIVE_FIELDS})")),
        ];
        if let Some(token) = &request.page_token {
            query.push(("pageToken", token.clone()));
        }
        let list: DriveList = self.get_json(&url, &query).await?;
        let mut records = Vec::with_capacity(list.drives.len());
        for raw in list.drives {
            let head: DriveHead = serde_json::from_str(raw.get()).map_err(|e| {
                error(
                    ErrorKind::Decode,
                    format!("a shared drive without an id: {e}"),
                )
            })?;
            records.push(Record::new(head.id, raw));
        }
        let next = list.next_page_token.filter(|t| !t.is_empty());
        if next.is_some() && next == request.page_token {
            return Err(error(ErrorKind::Decode, "the page token did not advance"));
        }
        Ok(Page {
            records,
            next_page_token: next,
            cursor: None,
        })
    }

    /// The URL of `segments` under the API root (ids are percent-encoded as path segments).
    pub(crate) fn url(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self.root.clone();
        url.path_segments_mut()
            .map_err(|()| error(ErrorKind::Config, "the base URL cannot take a path"))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// GETs `url` with the connection's access token (refreshed once after a 401).
    pub(crate) async fn get(
        &self,
        url: &Url,
        query: &[(&str, String)],
    ) -> Result<reqwest::Response, ConnectorError> {
        self.session
            .authorized(|token| self.send(url, query, token))
            .await
    }

    /// GETs `url` and parses the JSON answer.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let response = self.get(url, query).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error(ErrorKind::Network, format!("reading {}: {e}", url.path())))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            error(
                ErrorKind::Decode,
                format!("{} is not a Drive answer: {e}", url.path()),
            )
        })
    }

    async fn send(
        &self,
        url: &Url,
        query: &[(&str, String)],
        token: String,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.http
            .send(
                PLATFORM,
                |c| c.get(url.clone()).bearer_auth(&token).query(query),
                classify,
            )
            .await
    }
}

/// Classifies a Drive error from its status and `errors[0].reason`.
fn classify(status: StatusCode, _headers: &HeaderMap, body: &str) -> ConnectorError {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let first = parsed.error.errors.first();
    let reason = first.map_or("", |e| e.reason.as_str());
    let location = first.and_then(|e| e.location.as_deref());
    let detail = if parsed.error.message.is_empty() {
        body.chars().take(200).collect()
    } else {
        parsed.error.message.clone()
    };
    let message = match location {
        Some(location) => format!("{reason} at {location}: {detail}"),
        None => format!("{reason}: {detail}"),
    };
    let mut err = classify_status(PLATFORM, status, message);
    match (status.as_u16(), reason) {
        (403, r) if RATE_LIMIT_REASONS.contains(&r) => err.kind = ErrorKind::RateLimited,
        (403, r) if FILE_REFUSED_REASONS.contains(&r) => {
            err.kind = ErrorKind::InvalidRequest;
            err.message = format!("{}; this file's contents cannot be fetched", err.message);
        }
        _ => {}
    }
    err
}

/// For a request that carried a page token: true when Drive refused the token (400 on the
/// `pageToken` parameter, or 404), which means starting over from a full listing.
pub(crate) fn page_token_rejected(err: &ConnectorError) -> bool {
    match err.status {
        Some(404) => true,
        Some(400) => err.message.contains(" at pageToken:"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: u16, reason: &str, location: Option<&str>) -> String {
        let mut item = serde_json::json!({"domain": "global", "reason": reason, "message": "m"});
        if let Some(l) = location {
            item["location"] = l.into();
        }
        serde_json::json!({"error": {"code": code, "message": "m", "errors": [item]}}).to_string()
    }

    fn kind(code: u16, reason: &str) -> ErrorKind {
        classify(
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            &body(code, reason, None),
        )
        .kind
    }

    #[test]
    fn a_403_is_a_rate_limit_or_a_refusal_by_its_reason() {
        assert_eq!(kind(403, "userRateLimitExceeded"), ErrorKind::RateLimited);
        assert_eq!(kind(403, "rateLimitExceeded"), ErrorKind::RateLimited);
        assert_eq!(kind(429, "rateLimitExceeded"), ErrorKind::RateLimited);
        assert_eq!(kind(403, "insufficientPermissions"), ErrorKind::Forbidden);
        assert_eq!(kind(403, "domainPolicy"), ErrorKind::Forbidden);
        assert_eq!(
            kind(403, "exportSizeLimitExceeded"),
            ErrorKind::InvalidRequest
        );
        assert_eq!(kind(401, "authError"), ErrorKind::Unauthorized);
        assert_eq!(kind(500, "backendError"), ErrorKind::Unavailable);
        assert_eq!(kind(400, "badRequest"), ErrorKind::InvalidRequest);
        // Without a parsable body, the status decides.
        let err = classify(StatusCode::FORBIDDEN, &HeaderMap::new(), "<html>");
        assert_eq!(err.kind, ErrorKind::Forbidden);
    }

    #[test]
    fn rejected_page_tokens_are_recognised() {
        let rejected = |code: u16, location: Option<&str>| {
            let status = StatusCode::from_u16(code).unwrap();
            let mut err = classify(status, &HeaderMap::new(), &body(code, "invalid", location));
            err.status = Some(code);
            page_token_rejected(&err)
        };
        assert!(rejected(400, Some("pageToken")));
        assert!(rejected(404, Some("pageToken")));
        assert!(rejected(404, None));
        assert!(!rejected(400, Some("pageSize")));
        assert!(!rejected(403, Some("pageToken")));
    }
}
