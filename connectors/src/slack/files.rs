//! The `files` stream (`files.list`) and file downloads.
//!
//! `files.list` pages by number (`count` + `page`), newest first, so a file uploaded or deleted
//! during a run would shift every later page: one file read twice, or one never read. The
//! stream therefore pages by time instead: each request asks for the files created at or
//! before the oldest one seen so far (`ts_to`, inclusive), skipping the ones at that second
//! already recorded. Only when a whole page shares one second does it turn to the next page
//! number of the same window. A sync asks only for files created at or after the newest one
//! the previous run saw (`ts_from`, inclusive: the files of that very second come again).

use super::PLATFORM;
use super::client::SlackConnector;
use super::models::{FileHead, FilePage};
use super::streams::Method;
use crate::{ConnectorError, ErrorKind, FileBody, FileRef, Page, PageRequest, Record};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};

/// The host Slack serves file contents from.
const FILES_HOST: &str = "files.slack.com";

/// Where the listing is. Serialized as the page token.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Window {
    /// Only files created at or before this (unix seconds); `None` on the first page.
    #[serde(rename = "to", default, skip_serializing_if = "Option::is_none")]
    ts_to: Option<i64>,
    /// The page number within the window.
    #[serde(rename = "p")]
    page: u64,
    /// Files created exactly at `ts_to` that are already recorded.
    #[serde(rename = "s", default, skip_serializing_if = "Vec::is_empty")]
    seen: Vec<String>,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            ts_to: None,
            page: 1,
            seen: Vec::new(),
        }
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, kind, message)
}

fn seconds(value: Option<&Value>, what: &str) -> Result<Option<i64>, ConnectorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            error(
                ErrorKind::Config,
                format!("{what} must be a file creation time (unix seconds)"),
            )
        }),
    }
}

pub(super) async fn read_page(
    c: &SlackConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let since = seconds(request.since.as_ref(), "the files cursor")?;
    let window = match &request.page_token {
        None => Window::default(),
        Some(token) => serde_json::from_str(token)
            .map_err(|e| error(ErrorKind::Config, format!("unreadable page token: {e}")))?,
    };
    let mut query = vec![
        ("count", c.config.page_size.to_string()),
        ("page", window.page.to_string()),
    ];
    if let Some(to) = window.ts_to {
        query.push(("ts_to", to.to_string()));
    }
    if let Some(from) = since {
        query.push(("ts_from", from.to_string()));
    }
    let page: FilePage = c.call_ok(Method::FilesList, &query).await?;
    let mut cursor = seconds(request.cursor.as_ref(), "the files cursor")?.max(since);
    let mut listed = Vec::with_capacity(page.files.len());
    let mut records = Vec::with_capacity(page.files.len());
    for json in page.files {
        let head: FileHead = serde_json::from_str(json.get())
            .map_err(|e| error(ErrorKind::Decode, format!("a file: {e}")))?;
        cursor = cursor.max(Some(head.created));
        listed.push((head.id.clone(), head.created));
        if !window.seen.contains(&head.id) {
            records.push(record(json, head));
        }
    }
    let more = page.paging.is_some_and(|p| p.page < p.pages);
    let next = match listed.last() {
        Some(&(_, oldest)) if more => Some(next_window(window, &listed, oldest)),
        _ => None,
    };
    let next_page_token = next
        .map(|w| serde_json::to_string(&w))
        .transpose()
        .map_err(|e| error(ErrorKind::Decode, format!("page token: {e}")))?;
    Ok(Page {
        records,
        next_page_token,
        cursor: cursor.map(Value::from),
    })
}

/// The window after a page whose oldest file was created at `oldest`.
fn next_window(window: Window, listed: &[(String, i64)], oldest: i64) -> Window {
    let at_oldest = listed.iter().filter(|(_, created)| *created == oldest);
    if window.ts_to == Some(oldest) {
        // The whole page was one second's files: the bound cannot move, the page number can.
        let mut seen = window.seen;
        for (id, _) in at_oldest {
            if !seen.contains(id) {
                seen.push(id.clone());
            }
        }
        return Window {
            ts_to: window.ts_to,
            page: window.page + 1,
            seen,
        };
    }
    Window {
        ts_to: Some(oldest),
        page: 1,
        seen: at_oldest.map(|(id, _)| id.clone()).collect(),
    }
}

/// A file's record, with a reference to its contents when Slack hosts them (external files —
/// Google Docs linked into Slack — and deleted or hidden ones have none).
fn record(json: Box<RawValue>, head: FileHead) -> Record {
    let hosted = !head.is_external
        && !matches!(
            head.mode.as_deref(),
            Some("external" | "tombstone" | "hidden_by_limit")
        );
    let download = head.url_private_download.filter(|_| hosted);
    let Some(locator) = download else {
        return Record::new(head.id, json);
    };
    let version = head.updated.or(head.timestamp).unwrap_or(head.created);
    let file = FileRef {
        locator,
        fingerprint: Some(format!("{}:{version}", head.id)),
        size: head.size,
        name: head.name.or(head.title).unwrap_or_else(|| head.id.clone()),
        mime_type: head.mimetype,
    };
    Record::new(head.id, json).with_file(file)
}

/// The URL to download from: only Slack's file host, or the API's own origin (sandboxes),
/// ever receives the token. Any other URL is refused for this file only (`InvalidRequest`).
pub(super) fn download_url(base: &str, locator: &str) -> Result<reqwest::Url, ConnectorError> {
    let url = reqwest::Url::parse(locator)
        .map_err(|_| error(ErrorKind::InvalidRequest, "a file URL that is not a URL"))?;
    let api = reqwest::Url::parse(base)
        .map_err(|_| error(ErrorKind::Config, "the base URL is not a URL"))?;
    let slack_host = url.scheme() == "https" && url.host_str() == Some(FILES_HOST);
    if slack_host || url.origin() == api.origin() {
        Ok(url)
    } else {
        Err(error(
            ErrorKind::InvalidRequest,
            format!(
                "refusing to send the Slack token to {}: files are downloaded from {FILES_HOST}",
                url.host_str().unwrap_or("a URL without host")
            ),
        ))
    }
}

/// Slack's sign-in page where the file should be: HTML, for a file that is not HTML.
pub(super) fn is_sign_in_page(response: &reqwest::Response, file: &FileRef) -> bool {
    let html = |mime: &str| mime.trim().to_ascii_lowercase().starts_with("text/html");
    let answered_html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(html);
    answered_html && !file.mime_type.as_deref().is_some_and(html)
}

/// The contents as they arrive.
pub(super) fn body(response: reqwest::Response) -> FileBody {
    Box::pin(
        response.bytes_stream().map(|chunk| {
            chunk.map_err(|e| error(ErrorKind::Network, format!("reading a file: {e}")))
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(created: &[(&str, i64)]) -> Vec<(String, i64)> {
        created
            .iter()
            .map(|(id, t)| ((*id).to_owned(), *t))
            .collect()
    }

    #[test]
    fn windows_move_back_in_time_and_only_page_within_one_second() {
        let first = next_window(
            Window::default(),
            &listed(&[("F3", 30), ("F2", 20), ("F1", 20)]),
            20,
        );
        assert_eq!(
            first,
            Window {
                ts_to: Some(20),
                page: 1,
                seen: vec!["F2".into(), "F1".into()]
            }
        );
        let stuck = next_window(first, &listed(&[("F2", 20), ("F1", 20)]), 20);
        assert_eq!((stuck.ts_to, stuck.page), (Some(20), 2));
        assert_eq!(stuck.seen, vec!["F2", "F1"]);
        let token = serde_json::to_string(&Window::default()).unwrap();
        assert_eq!(token, r#"{"p":1}"#);
    }

    #[test]
    fn the_token_goes_only_to_slack_file_hosts() {
        let real = "https://slack.com";
        assert!(
            download_url(
                real,
                "https://files.slack.com/files-pri/T1-F1/download/a.png"
            )
            .is_ok()
        );
        for bad in [
            "http://files.slack.com/files-pri/T1-F1/download/a.png",
            "https://files.slack.com.evil.test/x",
            "https://docs.google.com/document/d/x",
            "not a url",
        ] {
            assert!(download_url(real, bad).is_err(), "{bad}");
        }
        let sandbox = "http://127.0.0.1:9000/slack";
        assert!(
            download_url(
                sandbox,
                "http://127.0.0.1:9000/slack/files-pri/T1-F1/download/a"
            )
            .is_ok()
        );
        assert!(download_url(sandbox, "http://127.0.0.1:9001/slack/files-pri/x").is_err());
    }

    #[test]
    fn hosted_files_carry_a_reference_and_external_ones_do_not() {
        let hosted = r#"{"id":"F1","created":10,"timestamp":10,"name":"a.png","mimetype":"image/png","size":3,"mode":"hosted","url_private_download":"https://files.slack.com/x"}"#;
        let head: FileHead = serde_json::from_str(hosted).unwrap();
        let r = record(RawValue::from_string(hosted.into()).unwrap(), head);
        let file = r.file.unwrap();
        assert_eq!(file.fingerprint.as_deref(), Some("F1:10"));
        assert_eq!((file.size, file.name.as_str()), (Some(3), "a.png"));
        let external = r#"{"id":"F2","created":10,"mode":"external","is_external":true,"url_private":"https://docs.google.com/x"}"#;
        let head: FileHead = serde_json::from_str(external).unwrap();
        assert!(
            record(RawValue::from_string(external.into()).unwrap(), head)
                .file
                .is_none()
        );
    }
}
