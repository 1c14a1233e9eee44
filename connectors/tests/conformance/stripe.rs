//! Stripe in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::{Sandbox, SandboxConfig, stripe::STREAMS};
use serde_json::{Value, json};

pub struct Stripe;

impl Fixture for Stripe {
    const PLATFORM: &'static str = "stripe";

    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for stream in STREAMS {
            config = config
                .with_records(&format!("stripe.{stream}"), 120)
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

    /// Stripe's incremental filter is `created[gte]`: new objects are captured, and the newest
    /// object already seen may come back once (same `created` second).
    fn mutate(sandbox: &Sandbox) -> Changes {
        let mut changes = Changes::default();
        for stream in STREAMS {
            let before = sandbox.stripe().count(stream);
            let boundary = sandbox.stripe().id_of(stream, before - 1);
            sandbox.stripe().grow(stream, 5);
            changes.must.insert(
                stream.to_owned(),
                (before..before + 5)
                    .map(|i| sandbox.stripe().id_of(stream, i))
                    .collect(),
            );
            changes.may.insert(stream.to_owned(), [boundary].into());
        }
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.stripe().revoke_key();
    }
}

crate::conformance!(Stripe);
