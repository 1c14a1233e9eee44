//! The Google Drive streams and the documented request budget.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

pub static INFO: PlatformInfo = PlatformInfo {
    id: "googledrive",
    name: "Google Drive",
    auth: AuthKind::OAuth2,
    docs_url: "https://developers.google.com/workspace/drive/api/reference/rest/v3",
    streams: &[
        // Every file and folder; a sync reads the changes feed, deletions as tombstones.
        StreamInfo::incremental("files").with_files().with_deletes(),
        // Shared drives, read whole every time.
        StreamInfo::full("drives"),
    ],
    // 12,000 queries per minute per user (and per project), evenly spaced (5 ms apart).
    rate_limit: RateLimit {
        requests: 12_000,
        per: Duration::from_secs(60),
    },
};
