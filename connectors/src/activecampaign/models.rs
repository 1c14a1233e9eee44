//! The parts of ActiveCampaign's answers the connector reads; records stay raw JSON.
//!
//! A list answer is `{"<stream>": [...], "meta": {"total": "123"}}`; errors are
//! `{"message": "..."}` or `{"errors": [{"title": "..."}]}`. Timestamps are ISO 8601 in the
//! account's time zone (`2020-09-13T07:26:40-05:00`), so cursors compare as instants, not text.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};

#[derive(Deserialize, Default)]
pub struct Meta {
    /// ActiveCampaign sends the total as a string; a number is accepted too.
    #[serde(default)]
    pub total: Option<Value>,
}

impl Meta {
    pub fn total(&self) -> Option<u64> {
        match self.total.as_ref()? {
            Value::String(s) => s.trim().parse().ok(),
            other => other.as_u64(),
        }
    }
}

/// The fields of a listed record that paging and cursors need.
#[derive(Deserialize)]
pub struct RecordHead {
    pub id: Value,
    #[serde(default)]
    pub udate: Option<String>,
    #[serde(default)]
    pub mdate: Option<String>,
}

impl RecordHead {
    /// Ids are numeric strings; a bare number is accepted too.
    pub fn id(&self) -> Option<String> {
        match &self.id {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn updated(&self, field: &str) -> Option<&str> {
        match field {
            "udate" => self.udate.as_deref(),
            "mdate" => self.mdate.as_deref(),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
pub struct ErrorItem {
    #[serde(default)]
    pub title: String,
}

/// The raw records of a list answer and its meta.
pub struct ListPage {
    pub records: Vec<Box<RawValue>>,
    pub meta: Meta,
}

/// Splits a list answer into the `stream` array and `meta`; `None` when the array is missing.
pub fn list_page(stream: &str, bytes: &[u8]) -> Result<ListPage, serde_json::Error> {
    let mut fields: std::collections::HashMap<String, Box<RawValue>> =
        serde_json::from_slice(bytes)?;
    let records = match fields.remove(stream) {
        Some(raw) => serde_json::from_str(raw.get())?,
        None => {
            return Err(serde::de::Error::custom(format!(
                "no `{stream}` array in the answer"
            )));
        }
    };
    let meta = match fields.remove("meta") {
        Some(raw) => serde_json::from_str(raw.get())?,
        None => Meta::default(),
    };
    Ok(ListPage { records, meta })
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS]][Z|±HH:MM]` as Unix seconds; no offset reads as UTC (only
/// comparisons between one account's timestamps depend on it). `None` for anything else.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 10 {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let mut parts = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || y < 1 {
        return None;
    }
    let rest = rest.strip_prefix(['T', ' ']).unwrap_or(rest);
    let (clock, offset) = rest.split_at(rest.find(['Z', '+', '-']).unwrap_or(rest.len()));
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if !clock.is_empty() {
        let mut fields = clock.split(':').map(|f| f.parse::<i64>().ok());
        let (h, min) = (fields.next()??, fields.next()??);
        let s = fields.next().unwrap_or(Some(0))?;
        if fields.next().is_some()
            || !(0..24).contains(&h)
            || !(0..60).contains(&min)
            || !(0..=60).contains(&s)
        {
            return None;
        }
        secs += h * 3_600 + min * 60 + s;
    }
    let offset = match offset {
        "" | "Z" => 0,
        _ => {
            let (h, m) = offset.get(1..)?.split_once(':')?;
            let (h, m) = (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?);
            if !(0..=14).contains(&h) || !(0..60).contains(&m) {
                return None;
            }
            if offset.starts_with('-') {
                -(h * 3_600 + m * 60)
            } else {
                h * 3_600 + m * 60
            }
        }
    };
    Some(secs - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_as_instants_across_offsets() {
        assert_eq!(
            parse_timestamp("2020-09-13T07:26:40-05:00"),
            Some(1_600_000_000)
        );
        assert_eq!(parse_timestamp("2020-09-13T12:26:40Z"), Some(1_600_000_000));
        assert_eq!(
            parse_timestamp("2020-09-13 13:26:40+01:00"),
            Some(1_600_000_000)
        );
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        // Winter (-06:00) and summer (-05:00) offsets of one account still order correctly.
        assert!(
            parse_timestamp("2021-03-14T01:59:00-06:00")
                < parse_timestamp("2021-03-14T03:01:00-05:00")
        );
        for bad in [
            "",
            "soon",
            "2020-13-01",
            "2020-09-13T24:00:00",
            "2020-09-13T07",
            "2020-09-13T07:00:00+",
            "ééééééééééé",
            "2020-09-13T07:00:00+15:00",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn list_pages_read_string_totals_and_raw_records() {
        let page = list_page(
            "deals",
            br#"{"deals":[{"id":"1"},{"id":2}],"meta":{"total":"12"}}"#,
        )
        .unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(page.meta.total(), Some(12));
        assert!(list_page("deals", br#"{"contacts":[]}"#).is_err());
        assert!(list_page("deals", b"<html>").is_err());
        let head: RecordHead = serde_json::from_str(page.records[1].get()).unwrap();
        assert_eq!(head.id().as_deref(), Some("2"));
    }
}
