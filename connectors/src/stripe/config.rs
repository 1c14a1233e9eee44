//! Stripe connection settings.

use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

pub const DEFAULT_BASE_URL: &str = "https://api.stripe.com";

#[derive(Clone)]
pub struct StripeConfig {
    pub api_key: String,
    pub base_url: String,
    /// Objects per page: 1..=100.
    pub page_size: u32,
    /// The request budget: Stripe's documented limit for the key's mode, unless
    /// `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl StripeConfig {
    /// Reads `{"api_key": "sk_…"}` credentials and `{"base_url": …, "page_size": …}` settings.
    pub fn from_values(credentials: &Value, config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new("stripe", ErrorKind::Config, m);
        let api_key = credentials
            .get("api_key")
            .and_then(Value::as_str)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| err("credentials need `api_key` (a Stripe secret or restricted key)"))?
            .trim()
            .to_owned();
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/')
            .to_owned();
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(err("`base_url` must be an http(s) URL"));
        }
        let page_size = settings::page_size("stripe", config, 100)?;
        let documented = if api_key.starts_with("sk_live_") || api_key.starts_with("rk_live_") {
            super::streams::LIVE_RATE_LIMIT
        } else {
            super::streams::INFO.rate_limit
        };
        let rate_limit = settings::rate_limit("stripe", config, documented)?;
        Ok(Self {
            api_key,
            base_url,
            page_size,
            rate_limit,
        })
    }
}
