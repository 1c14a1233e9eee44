//! Settings every connector reads the same way: bounded whole numbers with a default, the page
//! size, and the `requests_per_second` override of a platform's documented budget. One reading
//! keeps the conventions (and their error messages) identical across platforms.

use crate::{ConnectorError, ErrorKind, http::RateLimit};
use serde_json::Value;
use std::ops::RangeInclusive;

/// The whole-number setting `name`, within `range`; `default` when absent or null.
pub fn number(
    platform: &'static str,
    config: &Value,
    name: &str,
    range: RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConnectorError> {
    match config.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
            let message = format!(
                "`{name}` must be between {} and {}",
                range.start(),
                range.end()
            );
            ConnectorError::new(platform, ErrorKind::Config, message)
        }),
    }
}

/// `base_url`, trimmed and without a trailing `/`; `default` when absent or null. (Whether it
/// may be used is [`crate::http::HttpClient::base_url`]'s decision.)
pub fn base_url(
    platform: &'static str,
    config: &Value,
    default: &str,
) -> Result<String, ConnectorError> {
    let url = match config.get("base_url") {
        None | Some(Value::Null) => default,
        Some(v) => v.as_str().ok_or_else(|| {
            ConnectorError::new(platform, ErrorKind::Config, "`base_url` must be a string")
        })?,
    };
    Ok(url.trim().trim_end_matches('/').to_owned())
}

/// `page_size`: 1 to the platform's maximum, `max` by default.
pub fn page_size(platform: &'static str, config: &Value, max: u32) -> Result<u32, ConnectorError> {
    number(
        platform,
        config,
        "page_size",
        1..=u64::from(max),
        u64::from(max),
    )
    .map(|n| n as u32)
}

/// `requests_per_second` (1 to 1000) when set, else the platform's `documented` budget.
pub fn rate_limit(
    platform: &'static str,
    config: &Value,
    documented: RateLimit,
) -> Result<RateLimit, ConnectorError> {
    match config.get("requests_per_second") {
        None | Some(Value::Null) => Ok(documented),
        Some(_) => number(platform, config, "requests_per_second", 1..=1000, 1)
            .map(|n| RateLimit::per_second(n as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_default_bound_and_name_the_field() {
        let documented = RateLimit::per_second(25);
        assert_eq!(page_size("t", &json!({}), 100).unwrap(), 100);
        assert_eq!(
            page_size("t", &json!({"page_size": null}), 100).unwrap(),
            100
        );
        assert_eq!(page_size("t", &json!({"page_size": 7}), 100).unwrap(), 7);
        assert_eq!(rate_limit("t", &json!({}), documented).unwrap(), documented);
        assert_eq!(
            base_url("t", &json!({}), "https://a/").unwrap(),
            "https://a"
        );
        assert_eq!(
            base_url("t", &json!({"base_url": " http://b/v3/ "}), "https://a").unwrap(),
            "http://b/v3"
        );
        assert!(base_url("t", &json!({"base_url": 5}), "https://a").is_err());
        assert_eq!(
            rate_limit("t", &json!({"requests_per_second": 5}), documented).unwrap(),
            RateLimit::per_second(5)
        );
        for bad in [
            json!({"page_size": 0}),
            json!({"page_size": 101}),
            json!({"page_size": "10"}),
            json!({"page_size": -1}),
        ] {
            let err = page_size("t", &bad, 100).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Config);
            assert!(
                err.message
                    .contains("`page_size` must be between 1 and 100"),
                "{err}"
            );
        }
        for bad in [
            json!({"requests_per_second": 0}),
            json!({"requests_per_second": 1001}),
            json!({"requests_per_second": 2.5}),
        ] {
            assert!(rate_limit("t", &bad, documented).is_err(), "{bad}");
        }
    }
}
