//! GoHighLevel (LeadConnector API v2): contacts, opportunities, calendars and appointments of
//! one location (sub-account).
//!
//! - **Auth**: OAuth 2.0; the connection holds a location's tokens (a [`TokenSet`]) and its
//!   settings name the `location_id`. Every request gets a fresh-enough access token from the
//!   [`OAuthSession`] and, after a 401, one refresh and one retry. Every request carries
//!   `Version: 2021-07-28`; GHL refuses requests without it.
//! - **Pagination**: contacts via `POST /contacts/search` with `pageLimit` and `searchAfter`
//!   (each contact carries the sort values to continue after it; the page token is the last
//!   contact's). Opportunities via `GET /opportunities/search` with `startAfter` +
//!   `startAfterId`. Calendars are one list. Appointments are read per calendar over fixed
//!   time windows (`GET /calendars/events`), see `docs.md`.
//! - **Incremental**: contacts sort by `dateUpdated` ascending and a sync filters
//!   `dateUpdated >= cursor` (the cursor is the newest `dateUpdated`, in epoch ms, seen).
//!   The other streams are read in full every time.
//! - **Rate limits**: 100 requests per 10 s per location (and 200,000 a day), paced
//!   proactively; a 429 is retried after `Retry-After` or the `X-RateLimit-Interval-Milliseconds`.
//!
//! [`TokenSet`]: crate::oauth::TokenSet
//! [`OAuthSession`]: crate::oauth::OAuthSession

mod client;
mod config;
mod models;
mod pages;
mod streams;

pub use client::GoHighLevelConnector;
pub use config::{GoHighLevelConfig, LocationId};
pub use streams::{API_VERSION, INFO};

use crate::{
    Connector, ConnectorError,
    http::HttpClient,
    oauth::{self, OAuthSession, TokenStore},
};
use serde_json::Value;
use std::sync::Arc;

pub(crate) const PLATFORM: &str = "gohighlevel";

/// GHL's documented OAuth endpoints (the location chooser is the authorize page).
pub const AUTHORIZE_URL: &str = "https://marketplace.gohighlevel.com/oauth/chooselocation";
pub const TOKEN_URL: &str = "https://services.leadconnectorhq.com/oauth/token";

/// Builds the connector for one location: settings, OAuth app, token store and pacing.
pub fn build(
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let settings = GoHighLevelConfig::from_value(config)?;
    http.base_url(PLATFORM, &settings.base_url)?;
    // GHL's token endpoint takes the client credentials in the form body.
    let app = oauth::oauth_app(PLATFORM, config, http, (AUTHORIZE_URL, TOKEN_URL), true)?;
    let store = oauth::token_store(PLATFORM, credentials, tokens)?;
    let session = OAuthSession::new(PLATFORM, app, store);
    let http = http.paced("requests", settings.rate_limit);
    Ok(Arc::new(GoHighLevelConnector::new(settings, http, session)))
}
