//! The ActiveCampaign streams, how each pages, and which field dates its last change.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};

pub static INFO: PlatformInfo = PlatformInfo {
    id: "activecampaign",
    name: "ActiveCampaign",
    auth: AuthKind::ApiKey,
    docs_url: "https://developers.activecampaign.com/reference/overview",
    streams: &[
        StreamInfo::incremental("contacts"),
        StreamInfo::incremental("deals"),
        StreamInfo::full("lists"),
        StreamInfo::full("campaigns"),
        StreamInfo::full("automations"),
    ],
    // "5 requests per second per account", shared by every user's key of the account.
    rate_limit: RateLimit::per_second(5),
};

/// How a stream's pages follow one another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `orders[id]=ASC&id_greater=<last id>`: stable while records are added.
    Keyset,
    /// `offset=<records so far>`.
    Offset,
}

pub fn paging(stream: &str) -> Paging {
    if stream == "contacts" {
        Paging::Keyset
    } else {
        Paging::Offset
    }
}

/// The field holding a record's last change, for streams synced with `filters[updated_after]`.
pub fn updated_field(stream: &str) -> Option<&'static str> {
    match stream {
        "contacts" => Some("udate"),
        "deals" => Some("mdate"),
        _ => None,
    }
}
