//! The Stripe streams and their list endpoints.

use crate::{AuthKind, PlatformInfo, StreamInfo};

const fn incremental(name: &'static str) -> StreamInfo {
    StreamInfo {
        name,
        incremental: true,
        files: false,
    }
}

pub static INFO: PlatformInfo = PlatformInfo {
    id: "stripe",
    name: "Stripe",
    auth: AuthKind::ApiKey,
    docs_url: "https://docs.stripe.com/api/pagination",
    streams: &[
        incremental("customers"),
        incremental("products"),
        incremental("prices"),
        incremental("invoices"),
        incremental("charges"),
        incremental("subscriptions"),
    ],
};

/// Extra query parameters a stream needs to list *everything*: subscriptions default to
/// non-canceled ones only.
pub fn extra_params(stream: &str) -> &'static [(&'static str, &'static str)] {
    match stream {
        "subscriptions" => &[("status", "all")],
        _ => &[],
    }
}
