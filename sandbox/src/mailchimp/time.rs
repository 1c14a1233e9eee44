//! Mailchimp timestamps (ISO 8601, written `2020-09-13T12:26:40+00:00`) to and from epoch
//! seconds, for comparing `last_changed` values and `since_last_changed` filters.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(format(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(format(1_600_000_000), "2020-09-13T12:26:40+00:00");
        for secs in [0, 1_600_000_000, 951_782_400, 4_102_444_799] {
            assert_eq!(parse(&format(secs)), Some(secs), "{secs}");
        }
        assert_eq!(parse("2020-09-13T12:26:40Z"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13T14:26:40.123+02:00"), Some(1_600_000_000));
        assert_eq!(parse("2020-09-13 12:26:40"), Some(1_600_000_000));
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for bad in [
            "",
            "2020-09-13",
            "2020-13-01T00:00:00Z",
            "2021-02-29T00:00:00Z",
            "2020-09-13T12:26:40 00:00",
            "2020-09-13T12:26:40+0000",
            "2020-09-13T1é:26:40Z",
            "yesterday at noon, roughly",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
