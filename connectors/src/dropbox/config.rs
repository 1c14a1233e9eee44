//! Dropbox connection settings (the OAuth tokens live in the token store, not here).

use super::PLATFORM;
use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

/// The RPC host (`/2/files/list_folder`, `/2/users/…`).
pub const DEFAULT_BASE_URL: &str = "https://api.dropboxapi.com";
/// The content host (`/2/files/download`).
pub const DEFAULT_CONTENT_URL: &str = "https://content.dropboxapi.com";
/// Where users grant access (authorization-code flow, with `token_access_type=offline` so a
/// refresh token is issued).
pub const AUTHORIZE_URL: &str = "https://www.dropbox.com/oauth2/authorize";
/// Where codes and refresh tokens are exchanged.
pub const TOKEN_URL: &str = "https://api.dropboxapi.com/oauth2/token";
/// Dropbox's token endpoint takes the client credentials as HTTP Basic or in the form body;
/// Basic keeps them out of logged bodies.
pub const CREDENTIALS_IN_BODY: bool = false;

/// The largest `limit` `list_folder` accepts.
pub const MAX_PAGE_SIZE: u32 = 2000;

#[derive(Clone, Debug)]
pub struct DropboxConfig {
    /// Scheme and host of the RPC routes; `/2/…` is appended.
    pub base_url: String,
    /// Scheme and host of the content routes (downloads); `/2/…` is appended.
    pub content_url: String,
    /// Entries per listing page (`limit`, 1..=2000; Dropbox treats it as approximate).
    pub page_size: u32,
    /// Requests per connection: 10 a second unless `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
}

impl DropboxConfig {
    /// Reads `{"base_url"?, "content_url"?, "page_size"?, "requests_per_second"?}`.
    pub fn from_values(config: &Value) -> Result<Self, ConnectorError> {
        Ok(Self {
            base_url: url(config, "base_url", DEFAULT_BASE_URL)?,
            content_url: url(config, "content_url", DEFAULT_CONTENT_URL)?,
            page_size: settings::page_size(PLATFORM, config, MAX_PAGE_SIZE)?,
            rate_limit: settings::rate_limit(PLATFORM, config, super::INFO.rate_limit)?,
        })
    }
}

fn url(config: &Value, name: &str, default: &str) -> Result<String, ConnectorError> {
    let value = match config.get(name) {
        None | Some(Value::Null) => default,
        Some(v) => v.as_str().ok_or_else(|| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("`{name}` must be a string"),
            )
        })?,
    };
    Ok(value.trim().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_bounds() {
        let c = DropboxConfig::from_values(&Value::Null).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.content_url, DEFAULT_CONTENT_URL);
        assert_eq!(c.page_size, 2000);
        assert_eq!(c.rate_limit, RateLimit::per_second(10));
        let c = DropboxConfig::from_values(&json!({
            "base_url": "http://127.0.0.1:9/",
            "content_url": "http://127.0.0.1:10",
            "page_size": 25,
        }))
        .unwrap();
        assert_eq!(
            (c.base_url.as_str(), c.content_url.as_str(), c.page_size),
            ("http://127.0.0.1:9", "http://127.0.0.1:10", 25)
        );
        for bad in [
            json!({"page_size": 0}),
            json!({"page_size": 2001}),
            json!({"base_url": 5}),
            json!({"content_url": false}),
            json!({"requests_per_second": 0}),
        ] {
            assert!(DropboxConfig::from_values(&bad).is_err(), "{bad}");
        }
    }
}
