//! The Zendesk streams, and how each is read.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

pub static INFO: PlatformInfo = PlatformInfo {
    id: "zendesk",
    name: "Zendesk Support",
    auth: AuthKind::ApiKey,
    docs_url: "https://developer.zendesk.com/api-reference/introduction/pagination/",
    streams: &[
        StreamInfo::incremental("tickets"),
        StreamInfo::incremental("users"),
        StreamInfo::full("organizations"),
        StreamInfo::full("groups"),
        StreamInfo::full("ticket_comments"),
    ],
    // Zendesk allows 200 requests/min on the smallest plan (up to 2500 on larger ones); a
    // connection raises it with `requests_per_second`.
    rate_limit: RateLimit {
        requests: 200,
        per: Duration::from_secs(60),
    },
};

/// How a stream is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// `GET /api/v2/incremental/{name}/cursor.json`: `start_time` first, then `cursor`.
    Export(&'static str),
    /// `GET /api/v2/{name}.json` with cursor pagination.
    List(&'static str),
    /// Every ticket's `GET /api/v2/tickets/{id}/comments.json`.
    TicketComments,
}

pub fn plan(stream: &str) -> Option<Plan> {
    Some(match stream {
        "tickets" => Plan::Export("tickets"),
        "users" => Plan::Export("users"),
        "organizations" => Plan::List("organizations"),
        "groups" => Plan::List("groups"),
        "ticket_comments" => Plan::TicketComments,
        _ => return None,
    })
}
