//! The Keap streams: which API version lists each, and whether it can be read incrementally.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

/// How a stream is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /crm/rest/v2/{name}` with `page_size` + `page_token`.
    V2,
    /// `GET /crm/rest/v1/{name}` with `limit` + `offset`.
    V1,
}

pub static INFO: PlatformInfo = PlatformInfo {
    id: "keap",
    name: "Keap",
    auth: AuthKind::OAuth2,
    docs_url: "https://developer.keap.com/docs/restv2/",
    streams: &[
        StreamInfo::incremental("contacts"),
        StreamInfo::full("companies"),
        StreamInfo::full("orders"),
        StreamInfo::full("products"),
        StreamInfo::full("opportunities"),
        StreamInfo::full("tags"),
    ],
    // 1500 requests a minute per client key, evenly spaced (40 ms apart), which also keeps
    // under the 25/s spike arrest.
    rate_limit: RateLimit {
        requests: 1500,
        per: Duration::from_secs(60),
    },
};

pub fn endpoint(stream: &str) -> Endpoint {
    match stream {
        "orders" | "products" => Endpoint::V1,
        _ => Endpoint::V2,
    }
}
