//! The parts of Zendesk's responses the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use std::collections::BTreeMap;

/// Any Zendesk page: the records sit under the resource's name (`tickets`, `comments`, …),
/// next to the pagination fields.
pub type Body = BTreeMap<String, Box<RawValue>>;

/// `meta` of a cursor-paginated list.
#[derive(Deserialize)]
pub struct CursorMeta {
    pub has_more: bool,
    #[serde(default)]
    pub after_cursor: Option<String>,
}

/// The fields of any record the connector needs.
#[derive(Deserialize)]
pub struct RecordHead {
    pub id: Value,
}

/// Zendesk errors: `{"error": "Title", "description": "…"}`, `{"error": "Couldn't
/// authenticate you"}` or `{"error": {"title", "message"}}`.
#[derive(Deserialize)]
pub struct ErrorResponse {
    #[serde(default)]
    pub error: Value,
    #[serde(default)]
    pub description: Option<String>,
}

impl ErrorResponse {
    pub fn message(&self) -> String {
        let title = match &self.error {
            Value::String(s) => s.clone(),
            Value::Object(o) => o
                .get("message")
                .or_else(|| o.get("title"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        match &self.description {
            Some(d) if !d.is_empty() => format!("{title}: {d}"),
            _ => title,
        }
    }
}
