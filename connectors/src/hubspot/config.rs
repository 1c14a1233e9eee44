//! HubSpot connection settings.

use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

#[derive(Clone)]
pub struct HubSpotConfig {
    /// A private app's access token (`pat-…`) or an OAuth access token.
    pub access_token: String,
    pub base_url: String,
    /// Records per page: 1..=100 (HubSpot's list maximum; search pages use the same size).
    pub page_size: u32,
    /// The budget for every request: HubSpot's 100 requests per 10 s, unless
    /// `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
    /// The tighter budget of the search endpoints (about 4-5 requests/s per portal), unless
    /// `requests_per_second` overrides it too.
    pub search_rate_limit: RateLimit,
}

impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("access_token", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("rate_limit", &self.rate_limit)
            .field("search_rate_limit", &self.search_rate_limit)
            .finish()
    }
}

impl HubSpotConfig {
    /// Reads `{"access_token": "pat-…"}` credentials and
    /// `{"base_url": …, "page_size": …, "requests_per_second": …}` settings.
    pub fn from_values(credentials: &Value, config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new("hubspot", ErrorKind::Config, m);
        let access_token = credentials
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                err("credentials need `access_token` (a HubSpot private app or OAuth access token)")
            })?
            .to_owned();
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_BASE_URL)
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(err("`base_url` must be an http(s) URL"));
        }
        let page_size = settings::page_size("hubspot", config, 100)?;
        // An override sets both budgets; otherwise each keeps HubSpot's documented one.
        let rate_limit = settings::rate_limit("hubspot", config, super::streams::INFO.rate_limit)?;
        let search_rate_limit = settings::rate_limit("hubspot", config, super::SEARCH_RATE_LIMIT)?;
        Ok(Self {
            access_token,
            base_url,
            page_size,
            rate_limit,
            search_rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_validated_and_the_token_redacted() {
        let creds = json!({"access_token": " pat-na1-secret "});
        let config = HubSpotConfig::from_values(&creds, &Value::Null).unwrap();
        assert_eq!(config.access_token, "pat-na1-secret");
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.page_size, 100);
        assert!(!format!("{config:?}").contains("secret"));
        let fast = HubSpotConfig::from_values(&creds, &json!({"requests_per_second": 50})).unwrap();
        assert_eq!(fast.search_rate_limit, RateLimit::per_second(50));
        for bad in [
            json!({"page_size": 101}),
            json!({"page_size": "10"}),
            json!({"requests_per_second": 0}),
            json!({"base_url": "ftp://x"}),
        ] {
            assert!(HubSpotConfig::from_values(&creds, &bad).is_err(), "{bad}");
        }
        assert!(HubSpotConfig::from_values(&json!({}), &Value::Null).is_err());
    }
}
