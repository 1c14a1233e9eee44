//! Stripe in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::stripe::{COUNTED_STREAMS, SETTLEMENT_SECS, STREAMS};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub struct Stripe;

impl Fixture for Stripe {
    const PLATFORM: &'static str = "stripe";

    /// 60 of each counted stream: two pages (of 50) of each, of payment intents and of balance
    /// transactions, nine of events (~430), one of refunds (12).
    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for stream in COUNTED_STREAMS {
            config = config
                .with_records(&format!("stripe.{stream}"), 60)
                .unwrap();
        }
        config
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        json!({"api_key": sandbox.stripe().api_key()})
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({"base_url": base_url, "page_size": 50});
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.stripe().records(stream).collect()
    }

    /// Two days pass (pending payments settle, funds become available) and every counted
    /// stream grows, with the payment intents, refunds, balance transactions and events of the
    /// new objects. Stripe's incremental filter is `created[gte]`: a sync must return the new
    /// objects, and may return again those of the newest second already seen.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let stripe = sandbox.stripe();
        let before: Vec<(BTreeSet<String>, BTreeSet<String>)> = STREAMS
            .iter()
            .map(|stream| {
                let records: Vec<Value> = stripe.records(stream).collect();
                let newest = records.first().map(|r| r["created"].clone());
                let boundary = records
                    .iter()
                    .filter(|r| Some(&r["created"]) == newest.as_ref())
                    .map(Self::id)
                    .collect();
                (records.iter().map(Self::id).collect(), boundary)
            })
            .collect();
        stripe.advance(SETTLEMENT_SECS as u64);
        for stream in COUNTED_STREAMS {
            stripe.grow(stream, 5);
        }
        let mut changes = Changes::default();
        for (stream, (ids, boundary)) in STREAMS.iter().zip(before) {
            let new: BTreeSet<String> = stripe
                .records(stream)
                .map(|r| Self::id(&r))
                .filter(|id| !ids.contains(id))
                .collect();
            assert!(!new.is_empty(), "{stream}: growing adds records");
            changes.must.insert((*stream).to_owned(), new);
            changes.may.insert((*stream).to_owned(), boundary);
        }
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.stripe().revoke_key();
    }
}

crate::conformance!(Stripe);
