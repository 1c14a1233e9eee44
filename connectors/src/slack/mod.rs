//! Slack: the workspace's conversations and members, every message and thread reply the app
//! can read, and the files shared in them (contents downloaded for the blob store).
//!
//! - **Auth**: OAuth 2.0 v2 (`oauth.v2.access`); a bot token (`xoxb-`) or user token sent as
//!   `Bearer`. Installs without token rotation hold a token that never expires
//!   (`{"access_token"}` only). With rotation, access tokens live 12 hours and every refresh
//!   returns a new refresh token: refreshes go through the [`OAuthSession`] and its
//!   [`TokenStore`], which saves each rotated token exactly once; a `token_expired` or
//!   `invalid_auth` answer refreshes once and the call is made again.
//! - **Errors** arrive as HTTP 200 with `{"ok": false, "error": "…"}`: classified once in
//!   [`client`]; `ratelimited`, `internal_error` and `fatal_error` are retried like a 429 or a
//!   5xx (HTTP 429 carries `Retry-After`, which is honoured).
//! - **Pagination**: `limit` + `cursor` -> `response_metadata.next_cursor`; `files.list` by
//!   time windows over its numbered pages (see [`files`]).
//! - **Incremental**: `messages` and `threads` walk every conversation's history with a
//!   per-conversation cursor and a lookback window for edits and late replies (see [`walk`]);
//!   `files` lists files created since the newest one seen.
//! - **Rate limits**: one budget per method at its tier (Tier 2: 20/min, Tier 3: 50/min);
//!   history and replies of apps distributed outside the Marketplace get 1/min (`docs.md`
//!   explains the internal-app setup that avoids it).
//!
//! [`OAuthSession`]: crate::oauth::OAuthSession
//! [`TokenStore`]: crate::oauth::TokenStore

mod client;
mod config;
mod files;
mod models;
mod streams;
mod walk;

pub use client::{Auth, SlackConnector};
pub use config::SlackConfig;
pub use streams::{INFO, Method};

use crate::{
    Connector, ConnectorError,
    http::HttpClient,
    oauth::{self, OAuthSession, TokenSet, TokenStore},
};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const PLATFORM: &str = "slack";

/// Slack's documented OAuth endpoints.
pub const AUTHORIZE_URL: &str = "https://slack.com/oauth/v2/authorize";
pub const TOKEN_URL: &str = "https://slack.com/api/oauth.v2.access";

/// Builds the connector: settings, how the token is obtained, and the per-method budgets.
///
/// Credentials with a `refresh_token` (or none at all, when `tokens` holds them) are a
/// rotating install and need the OAuth app (`LISTBACKUP_OAUTH_SLACK_CLIENT_ID` /
/// `_CLIENT_SECRET`, or `oauth_app` in the settings); credentials with only an
/// `access_token` are used as they are.
pub fn build(
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = SlackConfig::from_value(config)?;
    http.base_url(PLATFORM, &settings.base_url)?;
    let rotating = match credentials {
        Value::Null => tokens.is_some(),
        _ => TokenSet::from_credentials(PLATFORM, credentials)?
            .refresh_token
            .is_some_and(|t| !t.is_empty()),
    };
    let auth = if rotating {
        // Slack asks for the client credentials as HTTP Basic rather than in the form.
        let app = oauth::oauth_app(PLATFORM, config, http, (AUTHORIZE_URL, TOKEN_URL), false)?;
        let store = oauth::token_store(PLATFORM, credentials, tokens)?;
        Auth::Rotating(Box::new(OAuthSession::new(PLATFORM, app, store)))
    } else {
        Auth::Fixed(TokenSet::from_credentials(PLATFORM, credentials)?.access_token)
    };
    Ok(Arc::new(SlackConnector::new(settings, auth, http)))
}
