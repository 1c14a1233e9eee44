//! GoHighLevel connection settings. The tokens are not here: they live in the token store.

use super::PLATFORM;
use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

pub const DEFAULT_BASE_URL: &str = "https://services.leadconnectorhq.com";

const DAY_MS: i64 = 86_400_000;
/// Appointments are read from 2020-01-01T00:00:00Z unless `appointments_from` says otherwise.
pub const DEFAULT_APPOINTMENTS_FROM_MS: i64 = 1_577_836_800_000;
/// Appointments are read up to this far ahead of now (future bookings are data too).
pub const APPOINTMENTS_AHEAD_MS: i64 = 366 * DAY_MS;
/// One `/calendars/events` request covers this many days unless `appointments_window_days`
/// says otherwise: small enough that a busy calendar's answer stays a reasonable size.
pub const DEFAULT_APPOINTMENTS_WINDOW_DAYS: u64 = 92;

/// A GHL location (sub-account) id: ASCII letters and digits (20 of them in practice). Parsed
/// once here, so it can go into paths, queries and bodies unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationId(String);

impl LocationId {
    pub fn parse(raw: &str) -> Result<Self, ConnectorError> {
        let id = raw.trim();
        if (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(id.to_owned()))
        } else {
            Err(ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                "`location_id` must be a GoHighLevel location id (8-64 letters and digits)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Holds no secret (tokens and the OAuth app are elsewhere), so `Debug` is derived.
#[derive(Debug, Clone)]
pub struct GoHighLevelConfig {
    pub base_url: String,
    pub location_id: LocationId,
    /// Contacts and opportunities per page: 1..=100.
    pub page_size: u32,
    pub rate_limit: RateLimit,
    /// Start of the appointment time range, epoch ms.
    pub appointments_from_ms: i64,
    /// Width of one appointments request, ms.
    pub appointments_window_ms: i64,
}

impl GoHighLevelConfig {
    /// Reads `{"location_id", "base_url"?, "page_size"?, "requests_per_second"?,
    /// "appointments_from"? (epoch ms), "appointments_window_days"?}`.
    pub fn from_value(config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new(PLATFORM, ErrorKind::Config, m);
        let location_id = config
            .get("location_id")
            .and_then(Value::as_str)
            .ok_or_else(|| err("settings need `location_id` (the GoHighLevel location)"))
            .and_then(LocationId::parse)?;
        let base_url = config
            .get("base_url")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_BASE_URL)
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let number = |name: &str, range: std::ops::RangeInclusive<u64>, message: &str| match config
            .get(name)
        {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| range.contains(n))
                .map(Some)
                .ok_or_else(|| err(message)),
        };
        let page_size = settings::page_size(PLATFORM, config, 100)?;
        let rate_limit = settings::rate_limit(PLATFORM, config, super::INFO.rate_limit)?;
        let appointments_from_ms = number(
            "appointments_from",
            0..=4_102_444_800_000,
            "`appointments_from` must be epoch milliseconds before 2100",
        )?
        .map_or(DEFAULT_APPOINTMENTS_FROM_MS, |n| n as i64);
        let window_days = number(
            "appointments_window_days",
            1..=366,
            "`appointments_window_days` must be between 1 and 366",
        )?
        .unwrap_or(DEFAULT_APPOINTMENTS_WINDOW_DAYS);
        Ok(Self {
            base_url,
            location_id,
            page_size,
            rate_limit,
            appointments_from_ms,
            appointments_window_ms: window_days as i64 * DAY_MS,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn location_ids_are_validated() {
        assert!(LocationId::parse("ve9EPM428h8vShlRW1KT").is_ok());
        for bad in [
            "",
            "short",
            "ve9EPM428h8v/../x",
            "ve9EPM428h8v&x=1",
            "ve9EPM428h8vShlRW1K ü",
        ] {
            assert!(LocationId::parse(bad).is_err(), "{bad}");
        }
        let err = GoHighLevelConfig::from_value(&json!({})).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        let config =
            GoHighLevelConfig::from_value(&json!({"location_id": " ve9EPM428h8vShlRW1KT "}))
                .unwrap();
        assert_eq!(config.location_id.as_str(), "ve9EPM428h8vShlRW1KT");
        assert_eq!(config.page_size, 100);
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        for bad in [
            json!({"location_id": "ve9EPM428h8vShlRW1KT", "page_size": 101}),
            json!({"location_id": "ve9EPM428h8vShlRW1KT", "appointments_window_days": 0}),
            json!({"location_id": 42}),
        ] {
            assert!(GoHighLevelConfig::from_value(&bad).is_err(), "{bad}");
        }
    }
}
