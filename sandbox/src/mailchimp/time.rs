//! Mailchimp timestamps (ISO 8601, written `2020-09-13T12:26:40+00:00`) to and from epoch
//! seconds, for comparing `last_changed` values and `since_last_changed` filters. The
//! connector has its own reading of the same format (and its tests); the fake stays independent.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Formats seconds since the Unix epoch the way Mailchimp writes timestamps.
pub fn format(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

/// Parses RFC 3339 (`Z` or `±HH:MM`), or a date and time without a zone, read as UTC.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|at| at.and_utc().timestamp())
}
