//! The Stripe streams and their list endpoints.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};

pub static INFO: PlatformInfo = PlatformInfo {
    id: "stripe",
    name: "Stripe",
    auth: AuthKind::ApiKey,
    docs_url: "https://docs.stripe.com/api/pagination",
    // Payment intents and refunds are state machines whose creation state is transient
    // (`processing`, `pending`): a sync by `created` would keep that state forever, so they are
    // read in full. Balance transactions (ledger entries) and events never change after
    // creation but for a balance transaction's `status` reaching `available` on its fixed
    // `available_on`; see `docs.md`.
    streams: &[
        StreamInfo::incremental("customers"),
        StreamInfo::incremental("products"),
        StreamInfo::incremental("prices"),
        StreamInfo::incremental("invoices"),
        StreamInfo::incremental("charges"),
        StreamInfo::full("payment_intents"),
        StreamInfo::incremental("subscriptions"),
        StreamInfo::full("refunds"),
        StreamInfo::incremental("balance_transactions"),
        StreamInfo::incremental("events"),
    ],
    // Stripe allows 100 read requests/s in live mode and 25 in test mode; live keys get the
    // higher budget in `StripeConfig`.
    rate_limit: RateLimit::per_second(25),
};

/// Stripe's live-mode budget.
pub const LIVE_RATE_LIMIT: RateLimit = RateLimit::per_second(100);

/// Extra query parameters a stream needs to list *everything*: subscriptions default to
/// non-canceled ones only.
pub fn extra_params(stream: &str) -> &'static [(&'static str, &'static str)] {
    match stream {
        "subscriptions" => &[("status", "all")],
        _ => &[],
    }
}

/// Events a sync can no longer read: created after the cursor but before the oldest event
/// Stripe still lists.
#[derive(Debug, PartialEq, Eq)]
pub struct ExpiredEvents {
    /// The oldest event the sync listed, if it listed any.
    pub oldest_listed: Option<i64>,
}

/// Whether an events sync from `since` lost events to Stripe's 30-day window, judged from the
/// oldest event its last page listed. The cursor is the `created` of an event the previous run
/// stored, and `created[gte]` includes it: a listing that does not reach back to `since`
/// means Stripe no longer has that event, nor any created between it and `oldest`.
/// `first_page` tells an empty listing (everything expired) from an empty last page after
/// others, which proves nothing.
pub fn expired_events(since: i64, oldest: Option<i64>, first_page: bool) -> Option<ExpiredEvents> {
    match oldest {
        Some(oldest) if oldest > since => Some(ExpiredEvents {
            oldest_listed: Some(oldest),
        }),
        None if first_page => Some(ExpiredEvents {
            oldest_listed: None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_that_reaches_the_cursor_lost_nothing() {
        assert_eq!(expired_events(100, Some(100), true), None);
        assert_eq!(expired_events(100, Some(90), false), None);
        assert_eq!(
            expired_events(100, Some(160), false),
            Some(ExpiredEvents {
                oldest_listed: Some(160)
            })
        );
        assert_eq!(
            expired_events(100, None, true),
            Some(ExpiredEvents {
                oldest_listed: None
            })
        );
        assert_eq!(expired_events(100, None, false), None);
    }
}
