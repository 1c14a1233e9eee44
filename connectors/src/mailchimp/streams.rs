//! The Mailchimp streams, their collection endpoints and the order each is walked in.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};

pub static INFO: PlatformInfo = PlatformInfo {
    id: "mailchimp",
    name: "Mailchimp",
    auth: AuthKind::ApiKey,
    docs_url: "https://mailchimp.com/developer/marketing/docs/fundamentals/",
    streams: &[
        StreamInfo::full("lists"),
        StreamInfo::incremental("members"),
        StreamInfo::full("campaigns"),
        StreamInfo::full("reports"),
        StreamInfo::full("templates"),
    ],
    // Mailchimp documents a limit of 10 simultaneous connections per user and no per-second
    // rate. A connector sends one request at a time; 10 requests/s keeps a whole account's
    // streams (read in parallel) well inside the connection limit at typical latencies.
    rate_limit: RateLimit::per_second(10),
};

/// Mailchimp's largest `count`.
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// The stable sort a collection is walked in: creation time ascending, so records created
/// during a walk come after it and updated ones keep their place. Reports have no sort
/// parameter; they are served in campaign creation order.
pub fn stable_order(stream: &str) -> &'static [(&'static str, &'static str)] {
    match stream {
        "lists" | "templates" => &[("sort_field", "date_created"), ("sort_dir", "ASC")],
        "campaigns" => &[("sort_field", "create_time"), ("sort_dir", "ASC")],
        "members" => &[("sort_field", "timestamp_signup"), ("sort_dir", "ASC")],
        _ => &[],
    }
}
