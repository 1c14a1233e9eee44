//! Google Drive connection settings (the OAuth tokens live in the token store, not here).

use super::export::ExportFormat;
use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

/// The API root; `files`, `changes` and `drives` are appended.
pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com/drive/v3";
/// Where users grant access (authorization-code flow, `access_type=offline`).
pub const AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Where codes and refresh tokens are exchanged.
pub const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// Google's token endpoint takes the client credentials in the form body.
pub const CREDENTIALS_IN_BODY: bool = true;

/// The largest page `files.list` and `changes.list` serve.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The largest page `drives.list` serves.
pub const MAX_DRIVES_PAGE_SIZE: u32 = 100;

#[derive(Clone, Debug)]
pub struct GoogleDriveConfig {
    /// The API root, `https://www.googleapis.com/drive/v3` unless a sandbox is used.
    pub base_url: String,
    /// Files or changes per page: 1..=1000 (shared drives: at most 100).
    pub page_size: u32,
    /// The documented 12,000 queries per minute unless `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
    /// The format Google Docs, Sheets and Slides are exported in.
    pub export_format: ExportFormat,
}

impl GoogleDriveConfig {
    /// Reads `{"base_url"?, "page_size"?, "requests_per_second"?, "export_format"?}`
    /// (`export_format`: `"ooxml"`, the default, or `"opendocument"`).
    pub fn from_values(config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new(super::PLATFORM, ErrorKind::Config, m);
        let base_url = settings::base_url(super::PLATFORM, config, DEFAULT_BASE_URL)?;
        let export_format = match config.get("export_format") {
            None | Some(Value::Null) => ExportFormat::Ooxml,
            Some(Value::String(s)) if s == "ooxml" => ExportFormat::Ooxml,
            Some(Value::String(s)) if s == "opendocument" => ExportFormat::OpenDocument,
            Some(_) => return Err(err("`export_format` must be \"ooxml\" or \"opendocument\"")),
        };
        Ok(Self {
            base_url,
            page_size: settings::page_size(super::PLATFORM, config, MAX_PAGE_SIZE)?,
            rate_limit: settings::rate_limit(
                super::PLATFORM,
                config,
                super::streams::INFO.rate_limit,
            )?,
            export_format,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_bounds() {
        let c = GoogleDriveConfig::from_values(&Value::Null).unwrap();
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.page_size, 1000);
        assert_eq!(c.rate_limit.requests, 12_000);
        assert_eq!(c.export_format, ExportFormat::Ooxml);
        let c = GoogleDriveConfig::from_values(&json!({"export_format": "opendocument"})).unwrap();
        assert_eq!(c.export_format, ExportFormat::OpenDocument);
        for bad in [
            json!({"page_size": 0}),
            json!({"page_size": 1001}),
            json!({"base_url": 5}),
            json!({"requests_per_second": 0}),
            json!({"export_format": "pdf"}),
        ] {
            assert!(GoogleDriveConfig::from_values(&bad).is_err(), "{bad}");
        }
    }
}
