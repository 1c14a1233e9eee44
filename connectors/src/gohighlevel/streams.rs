//! The GoHighLevel streams and the documented request budget.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

/// The API version every request names in the `Version` header.
pub const API_VERSION: &str = "2021-07-28";

pub static INFO: PlatformInfo = PlatformInfo {
    id: "gohighlevel",
    name: "GoHighLevel",
    auth: AuthKind::OAuth2,
    docs_url: "https://highlevel.stoplight.io/docs/integrations",
    streams: &[
        StreamInfo::incremental("contacts"),
        StreamInfo::full("opportunities"),
        StreamInfo::full("calendars"),
        StreamInfo::full("appointments"),
    ],
    // 100 requests per 10 s per app per location ("burst"); each connection is one location
    // and gets its own budget. The daily 200,000 is far above what a backup needs.
    rate_limit: RateLimit {
        requests: 100,
        per: Duration::from_secs(10),
    },
};
