//! The Stripe streams and their list endpoints.

use crate::{AuthKind, PlatformInfo, StreamInfo, http::RateLimit};

pub static INFO: PlatformInfo = PlatformInfo {
    id: "stripe",
    name: "Stripe",
    auth: AuthKind::ApiKey,
    docs_url: "https://docs.stripe.com/api/pagination",
    streams: &[
        StreamInfo::incremental("customers"),
        StreamInfo::incremental("products"),
        StreamInfo::incremental("prices"),
        StreamInfo::incremental("invoices"),
        StreamInfo::incremental("charges"),
        StreamInfo::incremental("subscriptions"),
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
