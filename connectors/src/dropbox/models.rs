//! The parts of Dropbox's answers the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::{Value, value::RawValue};

/// `ListFolderResult`.
#[derive(Deserialize)]
pub struct ListFolderResult {
    pub entries: Vec<Box<RawValue>>,
    pub cursor: String,
    pub has_more: bool,
}

/// The fields of a `Metadata` entry (file, folder or deleted) that ids and files need.
#[derive(Deserialize)]
pub struct EntryHead {
    #[serde(rename = ".tag")]
    pub tag: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Absent for entries outside the user's mounted folders.
    #[serde(default)]
    pub path_lower: Option<String>,
    #[serde(default)]
    pub path_display: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub rev: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub content_hash: Option<String>,
    /// False for cloud documents that can only be exported.
    #[serde(default)]
    pub is_downloadable: Option<bool>,
}

/// `FullAccount`'s id.
#[derive(Deserialize)]
pub struct AccountHead {
    pub account_id: String,
}

/// A JSON error answer (401, 409, 429): `error_summary` for people, `error` for programs.
#[derive(Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default)]
    pub error_summary: Option<String>,
    #[serde(default)]
    pub error: Option<Value>,
}

impl ErrorBody {
    /// The `.tag` of the error union (`reset`, `path`, `expired_access_token`, …).
    pub fn tag(&self) -> Option<&str> {
        self.error.as_ref()?.get(".tag")?.as_str()
    }

    /// `retry_after` of a 429's `RateLimitError`, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.error.as_ref()?.get("retry_after")?.as_u64()
    }
}
