//! The Slack streams, and the Web API methods they call with each method's rate-limit tier.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};
use std::time::Duration;

pub static INFO: PlatformInfo = PlatformInfo {
    id: "slack",
    name: "Slack",
    auth: AuthKind::OAuth2,
    docs_url: "https://docs.slack.dev/reference/methods",
    streams: &[
        StreamInfo::full("channels"),
        StreamInfo::full("members"),
        StreamInfo::incremental("messages"),
        StreamInfo::incremental("threads"),
        StreamInfo::incremental("files").with_files(),
    ],
    // Tier 3, the tier of the methods that carry the data (history, replies, files); each
    // method is paced to its own tier (see `Method`).
    rate_limit: RateLimit {
        requests: 50,
        per: Duration::from_secs(60),
    },
};

/// A Web API method (or the file host) the connector calls. Slack's limits are per method,
/// workspace and app, so each gets its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    AuthTest,
    ConversationsList,
    UsersList,
    History,
    Replies,
    FilesList,
    /// `url_private_download` on `files.slack.com`: not a Web API method; Slack documents no
    /// limit for it, so it is paced like a Tier 4 method.
    Download,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::AuthTest,
        Method::ConversationsList,
        Method::UsersList,
        Method::History,
        Method::Replies,
        Method::FilesList,
        Method::Download,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::AuthTest => "auth.test",
            Method::ConversationsList => "conversations.list",
            Method::UsersList => "users.list",
            Method::History => "conversations.history",
            Method::Replies => "conversations.replies",
            Method::FilesList => "files.list",
            Method::Download => "files.download",
        }
    }

    /// Requests a minute Slack allows: Tier 2 is 20, Tier 3 50, Tier 4 100. History and
    /// replies of apps distributed outside the Marketplace get 1.
    pub fn per_minute(self, non_marketplace_app: bool) -> u32 {
        match self {
            Method::History | Method::Replies if non_marketplace_app => 1,
            Method::ConversationsList | Method::UsersList => 20,
            Method::History | Method::Replies | Method::FilesList => 50,
            Method::AuthTest | Method::Download => 100,
        }
    }

    /// Position in [`Method::ALL`].
    pub fn slot(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_list_and_tiers_follow_the_docs() {
        for (slot, method) in Method::ALL.into_iter().enumerate() {
            assert_eq!(method.slot(), slot);
        }
        assert_eq!(Method::UsersList.per_minute(false), 20);
        assert_eq!(Method::History.per_minute(false), 50);
        assert_eq!(Method::History.per_minute(true), 1);
        assert_eq!(Method::FilesList.per_minute(true), 50);
    }
}
