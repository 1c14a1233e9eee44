//! The parts of Keap's answers the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::value::RawValue;

/// The fields of any listed record that ids and cursors need.
#[derive(Deserialize)]
pub struct RecordHead {
    pub id: serde_json::Value,
    #[serde(default)]
    pub update_time: Option<String>,
}

/// Gateway errors (`{"fault": {"faultstring", "detail": {"errorcode"}}}`), v1 errors
/// (`{"message"}`) and v2 errors (`{"code", "message", "status"}`) in one lenient shape.
#[derive(Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default)]
    pub fault: Option<Fault>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Deserialize)]
pub struct Fault {
    #[serde(default)]
    pub faultstring: String,
    #[serde(default)]
    pub detail: Option<FaultDetail>,
}

#[derive(Deserialize)]
pub struct FaultDetail {
    #[serde(default)]
    pub errorcode: String,
}

/// A list answer: the stream's array under its own name plus paging fields.
pub type ListBody = std::collections::HashMap<String, Box<RawValue>>;

/// Parses Keap's RFC 3339 timestamps to unix milliseconds, to compare them: they are not
/// comparable as strings once precisions differ (`…:00Z` vs `…:00.120Z`).
pub fn timestamp_millis(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let s = s.trim();
    if b.len() < 20 || !s.is_ascii() || b[4] != b'-' || b[7] != b'-' || b[13] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        millis = format!("{:0<3}", frac.get(..digits.min(3))?).parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            let (oh, om) = rest.get(1..)?.split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::timestamp_millis;

    #[test]
    fn timestamps_compare_across_precisions() {
        assert_eq!(
            timestamp_millis("2020-09-13T12:26:40.000Z"),
            Some(1_600_000_000_000)
        );
        assert_eq!(
            timestamp_millis("2020-09-13T14:26:40.12+02:00"),
            Some(1_600_000_000_120)
        );
        assert!(
            timestamp_millis("2020-09-13T12:26:40Z") < timestamp_millis("2020-09-13T12:26:40.5Z")
        );
        assert_eq!(timestamp_millis("yesterday"), None);
        assert_eq!(timestamp_millis("2020-09-13T12:26:40.Ω"), None);
    }
}
