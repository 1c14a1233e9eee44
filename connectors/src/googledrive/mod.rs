//! Google Drive (API v3): every file and folder of a Google account, including the shared
//! drives it is a member of, with the files' contents; and the shared drives themselves.
//!
//! - **Auth**: OAuth 2.0 authorization code through [`crate::oauth::OAuthSession`]; Google's
//!   refresh tokens do not rotate (the token endpoint answers `invalid_grant` once the user
//!   revokes access). A 401 refreshes once and retries once.
//! - **Pagination**: `files.list` with `pageSize` (≤1000) + `pageToken` -> `nextPageToken`,
//!   asking for the `fields` a restore needs (without `fields` Drive returns four); only a
//!   missing `nextPageToken` ends a listing (Drive may answer empty pages before the end).
//! - **Incremental**: a full backup first takes `changes.getStartPageToken`, then lists; a sync
//!   reads `changes.list` from the saved token until `newStartPageToken`, the next cursor.
//!   Deleted, trashed or unshared files become tombstones (the change as Drive sent it). A
//!   token Drive refuses (400/404) restarts the stream as a full listing in the same run.
//! - **Contents**: binary files download as they are (`alt=media`); Docs, Sheets and Slides
//!   export to OOXML (or OpenDocument, by setting), Drawings to PDF (see [`export`]).
//! - **Limits**: 12,000 queries per minute per user and per project, paced evenly with one
//!   budget per OAuth app; a 403 `userRateLimitExceeded`/`rateLimitExceeded` or a 429 is a rate
//!   limit (backed off exponentially), any other 403 a permanent refusal. See `docs.md`.

mod client;
mod config;
pub mod export;
mod files;
mod models;
mod streams;

pub use client::{DRIVE_FIELDS, GoogleDriveConnector};
pub use config::{AUTHORIZE_URL, DEFAULT_BASE_URL, GoogleDriveConfig, TOKEN_URL};
pub use files::FILE_FIELDS;
pub use streams::INFO;

use crate::{
    ConnectorError,
    http::HttpClient,
    oauth::{self, OAuthSession, TokenStore},
};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const PLATFORM: &str = "googledrive";

/// Builds the connector from the connection's tokens (`credentials`, or `tokens` when the
/// caller keeps them in a shared store) and settings (`config`, which may carry `oauth_app`).
pub fn build(
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<GoogleDriveConnector, ConnectorError> {
    let settings = GoogleDriveConfig::from_values(config)?;
    let root = http.base_url(PLATFORM, &settings.base_url)?;
    let app = oauth::oauth_app(
        PLATFORM,
        config,
        http,
        (AUTHORIZE_URL, TOKEN_URL),
        config::CREDENTIALS_IN_BODY,
    )?;
    let store = oauth::token_store(PLATFORM, credentials, tokens)?;
    // The per-minute quota belongs to the Cloud project (the OAuth app) as well as to the user:
    // one budget per app keeps every connection of the process under both.
    let budget = format!("{PLATFORM}:{}", app.client_id);
    Ok(GoogleDriveConnector {
        http: http.paced_shared(&budget, settings.rate_limit),
        config: settings,
        root,
        session: OAuthSession::new(PLATFORM, app, store),
    })
}
