//! The parts of GoHighLevel's responses the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};

#[derive(Deserialize)]
pub struct ContactsPage {
    pub contacts: Vec<Box<RawValue>>,
}

/// What paging needs from a contact: its id and the sort values to continue after it.
#[derive(Deserialize)]
pub struct ContactHead {
    pub id: String,
    #[serde(default, rename = "searchAfter")]
    pub search_after: Option<Vec<Value>>,
}

#[derive(Deserialize)]
pub struct OpportunitiesPage {
    pub opportunities: Vec<Box<RawValue>>,
    #[serde(default)]
    pub meta: Option<OpportunitiesMeta>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpportunitiesMeta {
    #[serde(default)]
    pub start_after_id: Option<String>,
    #[serde(default)]
    pub start_after: Option<Value>,
    #[serde(default)]
    pub next_page: Option<Value>,
    #[serde(default)]
    pub next_page_url: Option<String>,
}

#[derive(Deserialize)]
pub struct CalendarsPage {
    pub calendars: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
pub struct EventsPage {
    pub events: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
pub struct RecordHead {
    pub id: String,
}

/// `{"statusCode": 400, "message": "…" | ["…"], "error": "Bad Request"}`.
#[derive(Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub error: Option<String>,
}
