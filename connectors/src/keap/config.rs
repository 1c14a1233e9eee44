//! Keap connection settings (the OAuth tokens live in the token store, not here).

use crate::{ConnectorError, http::RateLimit, settings};
use serde_json::Value;

pub const DEFAULT_BASE_URL: &str = "https://api.infusionsoft.com";
/// Where users grant access (authorization-code flow).
pub const KEAP_AUTHORIZE_URL: &str = "https://accounts.infusionsoft.com/app/oauth/authorize";
/// Where codes and refresh tokens are exchanged.
pub const KEAP_TOKEN_URL: &str = "https://api.infusionsoft.com/token";
/// Keap's refresh grant takes the client credentials as HTTP Basic, not in the form body.
pub const CREDENTIALS_IN_BODY: bool = false;

/// Largest page both API versions serve.
pub const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Clone, Debug)]
pub struct KeapConfig {
    /// Scheme and host; paths (`/crm/rest/v1|v2/…`) are appended.
    pub base_url: String,
    /// Records per page: 1..=1000 (`page_size` in v2, `limit` in v1).
    pub page_size: u64,
    /// Keap's documented 1500/min per client key unless `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
}

impl KeapConfig {
    /// Reads `{"base_url"?, "page_size"?, "requests_per_second"?}`.
    pub fn from_values(config: &Value) -> Result<Self, ConnectorError> {
        let base_url = settings::base_url("keap", config, DEFAULT_BASE_URL)?;
        let page_size = u64::from(settings::page_size("keap", config, MAX_PAGE_SIZE as u32)?);
        let rate_limit = settings::rate_limit("keap", config, super::streams::INFO.rate_limit)?;
        Ok(Self {
            base_url,
            page_size,
            rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_bounds() {
        let c = KeapConfig::from_values(&Value::Null).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.page_size, 1000);
        assert_eq!(c.rate_limit.requests, 1500);
        for bad in [
            json!({"page_size": 0}),
            json!({"page_size": 1001}),
            json!({"page_size": "10"}),
            json!({"base_url": 5}),
            json!({"requests_per_second": 0}),
        ] {
            assert!(KeapConfig::from_values(&bad).is_err(), "{bad}");
        }
    }
}
