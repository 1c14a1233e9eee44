//! ActiveCampaign connection settings, and the account API URL checked as untrusted input.

use crate::{
    ConnectorError, ErrorKind,
    http::{HttpClient, RateLimit, validate_base_url},
    settings,
};
use serde_json::Value;

const PLATFORM: &str = "activecampaign";

#[derive(Clone)]
pub struct ActiveCampaignConfig {
    pub api_key: String,
    /// The account's API URL as the user gave it, with or without `/api/3`.
    pub base_url: String,
    /// Records per page: 1..=100 (ActiveCampaign's maximum `limit`).
    pub page_size: u32,
    /// The request budget: 5/s per account unless `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
}

impl std::fmt::Debug for ActiveCampaignConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveCampaignConfig")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl ActiveCampaignConfig {
    /// Reads `{"api_key": "…"}` credentials and `{"base_url": "https://<account>.api-us1.com",
    /// "page_size": …, "requests_per_second": …}` settings.
    pub fn from_values(credentials: &Value, config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new(PLATFORM, ErrorKind::Config, m);
        let api_key = credentials
            .get("api_key")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| err("credentials need `api_key` (Settings > Developer > API Access)"))?
            .to_owned();
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                err("settings need `base_url`, the account's API URL (https://<account>.api-us1.com)")
            })?
            .to_owned();
        let page_size = settings::page_size(PLATFORM, config, 100)?;
        let rate_limit = settings::rate_limit(PLATFORM, config, super::streams::INFO.rate_limit)?;
        Ok(Self {
            api_key,
            base_url,
            page_size,
            rate_limit,
        })
    }
}

/// The account's API root, `scheme://host[:port]/api/3`, from a user-supplied URL.
///
/// On top of the shared SSRF policy ([`HttpClient::base_url`]: no credentials, no private or
/// loopback hosts unless the client allows them) a public host must use https — the token
/// travels in a header — and the URL may carry no path but `/api/3`, no query and no fragment.
pub fn api_root(http: &HttpClient, base_url: &str) -> Result<reqwest::Url, ConnectorError> {
    let err = |m: &str| ConnectorError::new(PLATFORM, ErrorKind::Config, format!("base URL {m}"));
    let mut url = http.base_url(PLATFORM, base_url)?;
    // Plain http only reaches hosts the private-network policy let through (sandboxes).
    if url.scheme() != "https" && validate_base_url(PLATFORM, base_url, false).is_ok() {
        return Err(err("must use https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("must not have a query or fragment"));
    }
    let path = url.path().trim_end_matches('/');
    if !(path.is_empty() || path == "/api/3") {
        return Err(err(
            "must be the account's API URL, e.g. https://<account>.api-us1.com",
        ));
    }
    url.set_path("/api/3");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_key_never_reaches_debug_output() {
        let config = ActiveCampaignConfig::from_values(
            &json!({"api_key": "secret-token-123"}),
            &json!({"base_url": "https://acme.api-us1.com"}),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("secret-token-123"));
        assert_eq!(config.rate_limit, RateLimit::per_second(5));
        assert_eq!(config.page_size, 100);
    }

    #[test]
    fn api_roots_are_normalised() {
        let http = HttpClient::default();
        for given in [
            "https://acme.api-us1.com",
            "https://acme.api-us1.com/",
            "https://acme.api-us1.com/api/3",
            " https://acme.api-us1.com/api/3/ ",
        ] {
            assert_eq!(
                api_root(&http, given).unwrap().as_str(),
                "https://acme.api-us1.com/api/3",
                "{given}"
            );
        }
        for bad in [
            "http://acme.api-us1.com",
            "https://acme.api-us1.com/api/2",
            "https://acme.api-us1.com/admin",
            "https://acme.api-us1.com/api/3?x=1",
            "https://acme.api-us1.com#frag",
        ] {
            assert_eq!(
                api_root(&http, bad).unwrap_err().kind,
                ErrorKind::Config,
                "{bad}"
            );
        }
    }
}
