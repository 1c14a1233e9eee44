//! The parts of HubSpot's responses the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};

/// A list (`/crm/v3/objects/{type}`, `/crm/v3/owners`, `/crm/v3/pipelines/{type}`) or
/// search answer; only search answers carry `total`.
#[derive(Deserialize)]
pub struct ListResponse {
    #[serde(default)]
    pub results: Vec<Box<RawValue>>,
    #[serde(default)]
    pub paging: Option<Paging>,
    #[serde(default)]
    pub total: Option<u64>,
}

impl ListResponse {
    /// `paging.next.after`, when there is a next page.
    pub fn next_after(&self) -> Option<String> {
        self.paging
            .as_ref()
            .and_then(|p| p.next.as_ref())
            .map(|n| match &n.after {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    }
}

#[derive(Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub next: Option<Next>,
}

#[derive(Deserialize)]
pub struct Next {
    pub after: Value,
}

/// The fields of any record that ids and cursors need.
#[derive(Deserialize)]
pub struct RecordHead {
    pub id: Value,
    #[serde(default)]
    pub properties: Option<Map<String, Value>>,
    #[serde(default, rename = "updatedAt")]
    pub updated_at: Option<String>,
}

impl RecordHead {
    /// The id as a string (HubSpot sends strings; numbers are tolerated).
    pub fn id(&self) -> Option<String> {
        match &self.id {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The last-modified time in ms: the property when present, else `updatedAt`.
    pub fn modified_ms(&self, property: &str) -> Option<i64> {
        self.properties
            .as_ref()
            .and_then(|p| p.get(property))
            .and_then(Value::as_str)
            .and_then(parse_time)
            .or_else(|| self.updated_at.as_deref().and_then(parse_time))
    }
}

/// HubSpot times: ISO 8601 (`2020-09-13T12:26:40.123Z`) or epoch milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    text.parse::<i64>().ok().or_else(|| {
        chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

/// `GET /crm/v3/properties/{type}`: only the names are needed.
#[derive(Deserialize)]
pub struct PropertyList {
    #[serde(default)]
    pub results: Vec<PropertyDefinition>,
}

#[derive(Deserialize)]
pub struct PropertyDefinition {
    pub name: String,
}

#[derive(Deserialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub category: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_in_both_forms() {
        assert_eq!(
            parse_time("2020-09-13T12:26:40.123Z"),
            Some(1_600_000_000_123)
        );
        assert_eq!(parse_time("1600000000123"), Some(1_600_000_000_123));
        assert_eq!(parse_time("yesterday"), None);
    }
}
