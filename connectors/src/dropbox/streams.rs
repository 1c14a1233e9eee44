//! The Dropbox streams and the request budget a connection gets.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};

pub static INFO: PlatformInfo = PlatformInfo {
    id: "dropbox",
    name: "Dropbox",
    auth: AuthKind::OAuth2,
    docs_url: "https://www.dropbox.com/developers/documentation/http/documentation",
    streams: &[
        // Every file and folder; a sync reads what changed since the saved cursor, deletions
        // included, and file records carry their contents.
        StreamInfo::incremental("files").with_files().with_deletes(),
        // The user's account (`users/get_current_account`): one record.
        StreamInfo::full("account"),
    ],
    // Dropbox publishes no number; 10 requests a second per connection, evenly spaced, stays
    // well clear of the throttling reported in practice. 429s (always with `Retry-After`)
    // are the reactive side.
    rate_limit: RateLimit::per_second(10),
};
