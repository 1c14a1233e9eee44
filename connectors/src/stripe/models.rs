//! The parts of Stripe's responses the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
pub struct ListResponse {
    pub data: Vec<Box<RawValue>>,
    pub has_more: bool,
}

/// The fields of any listed object that pagination and cursors need.
#[derive(Deserialize)]
pub struct ObjectHead {
    pub id: String,
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Deserialize)]
pub struct ErrorBody {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}
