//! The HubSpot streams and the endpoints and properties each one reads.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

pub static INFO: PlatformInfo = PlatformInfo {
    id: "hubspot",
    name: "HubSpot",
    // A private app's token today; OAuth (refreshing 30-minute access tokens) is for later.
    auth: AuthKind::ApiKey,
    docs_url: "https://developers.hubspot.com/docs/api/crm/search",
    streams: &[
        StreamInfo::incremental("contacts"),
        StreamInfo::incremental("companies"),
        StreamInfo::incremental("deals"),
        StreamInfo::incremental("tickets"),
        StreamInfo::full("owners"),
        StreamInfo::full("pipelines"),
    ],
    // 100 requests per 10 s per private app on Free/Starter portals (190 on Pro/Enterprise):
    // the lower figure is the safe default.
    rate_limit: RateLimit {
        requests: 100,
        per: Duration::from_secs(10),
    },
};

/// The search endpoints' own budget: about 4-5 requests per second per portal.
pub const SEARCH_RATE_LIMIT: RateLimit = RateLimit::per_second(4);

/// The pipelines stream reads these object types' pipelines.
pub const PIPELINE_OBJECTS: [&str; 2] = ["deals", "tickets"];

/// True for the CRM object streams (listed at `/crm/v3/objects/{stream}`, searchable).
pub fn is_object(stream: &str) -> bool {
    matches!(stream, "contacts" | "companies" | "deals" | "tickets")
}

/// The property holding a CRM object's last-modified time: contacts predate the `hs_` prefix.
pub fn modified_property(stream: &str) -> &'static str {
    match stream {
        "contacts" => "lastmodifieddate",
        _ => "hs_lastmodifieddate",
    }
}
