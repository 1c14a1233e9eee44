//! Slack connection settings. The tokens are not here: they live in the credentials (or the
//! token store) and the OAuth app in the environment or `oauth_app`.

use super::PLATFORM;
use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://slack.com";
/// Slack recommends no more than 200 items per page of its list methods.
pub const DEFAULT_PAGE_SIZE: u32 = 200;
/// `conversations.history` serves up to 999 messages a page.
pub const MAX_PAGE_SIZE: u32 = 999;
/// History and replies of apps distributed outside the Marketplace: 15 messages a page.
pub const NON_MARKETPLACE_PAGE_SIZE: u32 = 15;
/// How far before a conversation's cursor a sync looks again for edits and new replies.
pub const DEFAULT_LOOKBACK_DAYS: u64 = 7;

/// Holds no secret, so `Debug` is derived.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// Scheme and host; Web API methods are `{base_url}/api/{method}`.
    pub base_url: String,
    /// Items per page of every list method (`limit`, `files.list`'s `count`).
    pub page_size: u32,
    /// Messages per page of `conversations.history` and `conversations.replies`.
    pub message_page_size: u32,
    /// A sync re-reads this much history before each conversation's cursor.
    pub lookback: Duration,
    /// The app is distributed outside the Slack Marketplace: history and replies get one
    /// request a minute (and 15 messages a page).
    pub non_marketplace_app: bool,
    /// The window Slack's per-minute tier budgets apply to (a minute; sandboxes shorten it).
    pub tier_window: Duration,
    /// `requests_per_second`: one budget for every method instead of Slack's tiers.
    pub requests_per_second: Option<RateLimit>,
}

impl SlackConfig {
    /// Reads `{"base_url"?, "page_size"?, "lookback_days"?, "non_marketplace_app"?,
    /// "requests_per_second"?, "tier_window_secs"?}`.
    pub fn from_value(config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new(PLATFORM, ErrorKind::Config, m);
        let base_url = settings::base_url(PLATFORM, config, DEFAULT_BASE_URL)?;
        let non_marketplace_app = match config.get("non_marketplace_app") {
            None | Some(Value::Null) => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| err("`non_marketplace_app` must be true or false"))?,
        };
        let page_size = settings::number(
            PLATFORM,
            config,
            "page_size",
            1..=u64::from(MAX_PAGE_SIZE),
            u64::from(DEFAULT_PAGE_SIZE),
        )? as u32;
        let message_page_size = if non_marketplace_app {
            page_size.min(NON_MARKETPLACE_PAGE_SIZE)
        } else {
            page_size
        };
        let lookback_days = settings::number(
            PLATFORM,
            config,
            "lookback_days",
            0..=365,
            DEFAULT_LOOKBACK_DAYS,
        )?;
        let tier_window_secs = settings::number(PLATFORM, config, "tier_window_secs", 1..=60, 60)?;
        let requests_per_second = match config.get("requests_per_second") {
            None | Some(Value::Null) => None,
            Some(_) => Some(settings::rate_limit(
                PLATFORM,
                config,
                RateLimit::per_second(1),
            )?),
        };
        Ok(Self {
            base_url,
            page_size,
            message_page_size,
            lookback: Duration::from_secs(lookback_days * 86_400),
            non_marketplace_app,
            tier_window: Duration::from_secs(tier_window_secs),
            requests_per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_bounds_and_the_non_marketplace_page() {
        let c = SlackConfig::from_value(&Value::Null).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!((c.page_size, c.message_page_size), (200, 200));
        assert_eq!(c.lookback, Duration::from_secs(7 * 86_400));
        assert_eq!(c.tier_window, Duration::from_secs(60));
        assert!(c.requests_per_second.is_none() && !c.non_marketplace_app);
        let c = SlackConfig::from_value(&json!({"non_marketplace_app": true, "page_size": 100}))
            .unwrap();
        assert_eq!((c.page_size, c.message_page_size), (100, 15));
        let c = SlackConfig::from_value(&json!({"requests_per_second": 20, "lookback_days": 0}))
            .unwrap();
        assert_eq!(c.requests_per_second, Some(RateLimit::per_second(20)));
        assert!(c.lookback.is_zero());
        for bad in [
            json!({"page_size": 0}),
            json!({"page_size": 1000}),
            json!({"lookback_days": -1}),
            json!({"non_marketplace_app": "yes"}),
            json!({"tier_window_secs": 0}),
            json!({"base_url": 3}),
            json!({"requests_per_second": 0}),
        ] {
            assert!(SlackConfig::from_value(&bad).is_err(), "{bad}");
        }
    }
}
