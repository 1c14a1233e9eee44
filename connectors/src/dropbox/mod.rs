//! Dropbox (API v2): every file and folder of the user's Dropbox, with file contents, and the
//! user's account.
//!
//! - **Auth**: OAuth 2.0 through [`crate::oauth::OAuthSession`]: short-lived access tokens
//!   (4 hours) and a refresh token (`token_access_type=offline`) that does not rotate. A 401
//!   `expired_access_token` refreshes once and retries once; `invalid_access_token` (revoked)
//!   is a permanent `Unauthorized`; `missing_scope` is `Forbidden`.
//! - **RPC style**: every route is `POST`. RPC routes (`api.dropboxapi.com`) take a JSON body;
//!   downloads (`content.dropboxapi.com`) take their arguments in the `Dropbox-API-Arg`
//!   header, escaped to ASCII. Both hosts are settings (`base_url`, `content_url`).
//! - **Pagination and incremental**: `files/list_folder` (recursive, from the root) then
//!   `files/list_folder/continue` with the cursor while `has_more`. The final cursor is the
//!   stream cursor; a sync continues from it and gets only the changes, deletions as
//!   tombstones. A 409 `reset` (cursor invalidated) lists everything again in the same run,
//!   deleted entries included, so no change is lost.
//! - **Files**: each downloadable file record carries a [`crate::FileRef`] pinned to its
//!   revision (`rev:…`) with Dropbox's `content_hash` as the fingerprint; downloads stream and
//!   are verified against it ([`ContentHasher`]).
//! - **Limits**: Dropbox publishes none; the connector paces at 10 requests a second per
//!   connection and honours `Retry-After` on every 429 (see `docs.md`).

mod client;
mod config;
mod content_hash;
mod download;
mod files;
mod models;
mod streams;

pub use client::DropboxConnector;
pub use config::{
    AUTHORIZE_URL, DEFAULT_BASE_URL, DEFAULT_CONTENT_URL, DropboxConfig, MAX_PAGE_SIZE, TOKEN_URL,
};
pub use content_hash::{BLOCK_SIZE, ContentHasher};
pub use download::header_arg;
pub use streams::INFO;

use crate::{
    Connector, ConnectorError,
    http::HttpClient,
    oauth::{self, OAuthSession, TokenStore},
};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const PLATFORM: &str = "dropbox";

/// Builds the connector from the connection's tokens (`credentials`, or `tokens` when the
/// caller keeps them in a shared store) and settings (`config`, which may carry `oauth_app`).
pub fn build(
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = DropboxConfig::from_values(config)?;
    http.base_url(PLATFORM, &settings.base_url)?;
    http.base_url(PLATFORM, &settings.content_url)?;
    let app = oauth::oauth_app(
        PLATFORM,
        config,
        http,
        (AUTHORIZE_URL, TOKEN_URL),
        config::CREDENTIALS_IN_BODY,
    )?;
    let store = oauth::token_store(PLATFORM, credentials, tokens)?;
    let session = OAuthSession::new(PLATFORM, app, store);
    let http = http.paced("requests", settings.rate_limit);
    Ok(Arc::new(DropboxConnector::new(settings, http, session)))
}
