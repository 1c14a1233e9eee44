//! The GoHighLevel streams and the documented request budget.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

/// The API version every request names in the `Version` header.
pub const API_VERSION: &str = "2021-07-28";

const fn stream(name: &'static str, incremental: bool) -> StreamInfo {
    StreamInfo {
        name,
        incremental,
        files: false,
    }
}

pub static INFO: PlatformInfo = PlatformInfo {
    id: "gohighlevel",
    name: "GoHighLevel",
    auth: AuthKind::OAuth2,
    docs_url: "https://highlevel.stoplight.io/docs/integrations",
    streams: &[
        stream("contacts", true),
        stream("opportunities", false),
        stream("calendars", false),
        stream("appointments", false),
    ],
    // 100 requests per 10 s per app per location ("burst"); each connection is one location
    // and gets its own budget. The daily 200,000 is far above what a backup needs.
    rate_limit: RateLimit {
        requests: 100,
        per: Duration::from_secs(10),
    },
};
