//! Generated events: one for every object created, with the object as it was then.
//!
//! Event `8i + k` is the event of record `i` of [`SOURCES`]`[k]`, so it exists exactly when
//! that record does, shares its `created` second, and its type follows the record's state at
//! creation (`charge.succeeded`, `charge.failed`, `invoice.paid`, …). Stripe lists events of
//! the last 30 days only ([`super::EVENT_RETENTION_SECS`]); the listing applies that window.

use rand::Rng;
use serde_json::{Value, json};

use super::{Stream, StripeFake, billing, charges, opaque_id, payments};

/// The objects whose creation emits an event, in the order of their events within a second.
pub(super) const SOURCES: [Stream; 8] = [
    Stream::Customers,
    Stream::Products,
    Stream::Prices,
    Stream::Subscriptions,
    Stream::Invoices,
    Stream::PaymentIntents,
    Stream::Charges,
    Stream::Refunds,
];

/// Events per second of the shared timeline, at most.
pub(super) const PER_SECOND: u64 = SOURCES.len() as u64;

/// The API version events are rendered in.
const API_VERSION: &str = "2024-06-20";

/// The stream and record event `index` describes.
pub(super) fn source(index: u64) -> (Stream, u64) {
    (SOURCES[(index % PER_SECOND) as usize], index / PER_SECOND)
}

/// The event type, from the object's state when it was created.
pub(super) fn event_type(fake: &StripeFake, index: u64) -> &'static str {
    let (stream, record) = source(index);
    match stream {
        Stream::Customers => "customer.created",
        Stream::Products => "product.created",
        Stream::Prices => "price.created",
        Stream::Subscriptions => match billing::subscription_status(fake, record) {
            "canceled" | "incomplete_expired" => "customer.subscription.deleted",
            "paused" => "customer.subscription.paused",
            "past_due" | "unpaid" => "customer.subscription.updated",
            _ => "customer.subscription.created",
        },
        Stream::Invoices => match billing::invoice(fake, record)["status"].as_str() {
            Some("paid") => "invoice.paid",
            Some("open") => "invoice.finalized",
            Some("void") => "invoice.voided",
            Some("uncollectible") => "invoice.marked_uncollectible",
            _ => "invoice.created",
        },
        Stream::PaymentIntents => match payments::intent_status(record, false) {
            "succeeded" => "payment_intent.succeeded",
            "processing" => "payment_intent.processing",
            _ => "payment_intent.payment_failed",
        },
        Stream::Charges => match charges::status(record, false) {
            "succeeded" => "charge.succeeded",
            "pending" => "charge.pending",
            _ => "charge.failed",
        },
        Stream::Refunds => "refund.created",
        // Not in SOURCES, so no event index names them.
        Stream::BalanceTransactions | Stream::Events => "unknown",
    }
}

/// Whether `pattern` (an event type, or a group of them with `*` wildcards) matches `event_type`.
pub(super) fn type_matches(pattern: &str, event_type: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(mut rest) = event_type.strip_prefix(parts.next().unwrap_or_default()) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

pub(super) fn record(fake: &StripeFake, index: u64) -> Value {
    let (stream, record) = source(index);
    let mut rng = fake.rng(Stream::Events, index);
    // Most objects come from API requests; the rest from the dashboard or Stripe itself.
    let request = if rng.gen_bool(0.8) {
        let key: String = (0..32)
            .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
            .collect();
        json!({
            "id": opaque_id(&mut rng, "req_"),
            "idempotency_key": format!(
                "{}-{}-4{}-a{}-{}", &key[..8], &key[8..12], &key[13..16], &key[17..20], &key[20..]),
        })
    } else {
        json!({ "id": null, "idempotency_key": null })
    };
    json!({
        "id": fake.id(Stream::Events, index),
        "object": "event",
        "api_version": API_VERSION,
        "created": fake.created(record),
        "data": { "object": fake.generate_at(stream, record, false) },
        "livemode": false,
        "pending_webhooks": 0,
        "request": request,
        "type": event_type(fake, index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_stripe() {
        assert!(type_matches("charge.succeeded", "charge.succeeded"));
        assert!(!type_matches("charge.succeeded", "charge.succeeded.x"));
        assert!(type_matches("charge.*", "charge.failed"));
        assert!(type_matches("customer.*", "customer.subscription.created"));
        assert!(!type_matches("customer.*", "charge.failed"));
        assert!(type_matches("*.created", "refund.created"));
        assert!(type_matches("*", "invoice.paid"));
        assert!(type_matches(
            "customer.*.created",
            "customer.subscription.created"
        ));
        assert!(!type_matches(
            "customer.*.deleted",
            "customer.subscription.created"
        ));
        assert!(!type_matches("charge", "charge.failed"));
    }

    #[test]
    fn indices_name_a_source() {
        for (slot, stream) in SOURCES.into_iter().enumerate() {
            assert_eq!(source(41 * PER_SECOND + slot as u64), (stream, 41));
        }
    }
}
