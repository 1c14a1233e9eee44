//! Zendesk in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

pub struct Zendesk;

/// Few tickets and users (each ticket costs a comments request) on small export pages, and
/// enough organizations and groups for several list pages.
const COUNTS: [(&str, u64); 4] = [
    ("tickets", 6),
    ("users", 8),
    ("organizations", 60),
    ("groups", 55),
];

impl Fixture for Zendesk {
    const PLATFORM: &'static str = "zendesk";

    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for (stream, n) in COUNTS {
            config = config
                .with_records(&format!("zendesk.{stream}"), n)
                .unwrap();
        }
        config
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        json!({"email": sandbox.zendesk().email(), "api_token": sandbox.zendesk().api_token()})
    }

    /// The fake keeps Zendesk's 10 exports/min, which these tests stay under (two pages per
    /// export stream); the connector's own export pacing is raised so they do not wait 6 s.
    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({
            "base_url": base_url,
            "page_size": 50,
            "export_page_size": 5,
            "export_requests_per_minute": 600,
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.zendesk().records(stream)
    }

    /// New and updated tickets and users, then a clock past the exports' last-minute
    /// exclusion. The export cursor sits after the last item returned, so nothing comes back
    /// twice: `may` stays empty.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let zendesk = sandbox.zendesk();
        let mut changes = Changes::default();
        zendesk.advance(600);
        for stream in ["tickets", "users"] {
            let before = zendesk.count(stream);
            zendesk.grow(stream, 3);
            zendesk.touch(stream, 1);
            zendesk.touch(stream, before - 2);
            let mut must: std::collections::BTreeSet<String> = (before..before + 3)
                .map(|i| zendesk.id_of(stream, i).to_string())
                .collect();
            must.insert(zendesk.id_of(stream, 1).to_string());
            must.insert(zendesk.id_of(stream, before - 2).to_string());
            changes.must.insert(stream.to_owned(), must);
        }
        zendesk.advance(120);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.zendesk().revoke_token();
    }
}

crate::conformance!(Zendesk);
