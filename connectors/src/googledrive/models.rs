//! The parts of Drive's answers the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::value::RawValue;

/// `files.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileList {
    #[serde(default)]
    pub files: Vec<Box<RawValue>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub incomplete_search: bool,
}

/// `changes.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeList {
    #[serde(default)]
    pub changes: Vec<Box<RawValue>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
    #[serde(default)]
    pub new_start_page_token: Option<String>,
}

/// `drives.list`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DriveList {
    #[serde(default)]
    pub drives: Vec<Box<RawValue>>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `changes.getStartPageToken`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartPageToken {
    pub start_page_token: String,
}

/// One change: what the files stream needs to tell a file update from a removal.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeHead {
    /// `file` or `drive` (a shared drive itself changed).
    #[serde(default)]
    pub change_type: Option<String>,
    #[serde(default)]
    pub removed: bool,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub file: Option<Box<RawValue>>,
}

/// The fields of a file its record id and file reference need.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileHead {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub trashed: bool,
    /// int64 as a decimal string, present on binary files only.
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub md5_checksum: Option<String>,
    #[serde(default)]
    pub sha256_checksum: Option<String>,
    /// int64 as a decimal string; bumped by every change to the file.
    #[serde(default)]
    pub version: Option<String>,
}

/// A shared drive's id.
#[derive(Deserialize)]
pub struct DriveHead {
    pub id: String,
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"domain", "reason",
/// "location"}]}}`, read leniently.
#[derive(Deserialize, Default)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ErrorDetail,
}

#[derive(Deserialize, Default)]
pub struct ErrorDetail {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Deserialize, Default)]
pub struct ErrorItem {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub location: Option<String>,
}
