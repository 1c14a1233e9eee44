//! The parts of Mailchimp's responses the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};
use std::collections::HashMap;

/// A collection page: `{"<stream>": [...], "total_items": n, ...}`. Read as a map of raw
/// values so the records are never re-serialized.
pub type Collection = HashMap<String, Box<RawValue>>;

/// The fields of a listed object that ids, pagination and cursors need.
#[derive(Deserialize)]
pub struct ObjectHead {
    /// Hex strings for most objects, integers for templates.
    pub id: Value,
    #[serde(default)]
    pub last_changed: Option<String>,
}

/// Mailchimp's problem document (RFC 7807).
#[derive(Deserialize, Default)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub detail: String,
}
