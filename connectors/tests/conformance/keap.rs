//! Keap in the conformance suite: OAuth tokens from the sandbox's authority, v1 and v2 paging.

use crate::harness::{Changes, Fixture, oauth_credentials, sandbox_oauth_app};
use sandbox::{Sandbox, SandboxConfig, keap::STREAMS};
use serde_json::{Value, json};

pub struct Keap;

impl Fixture for Keap {
    const PLATFORM: &'static str = "keap";

    /// 75 records: two pages of 50, the second one short (v1's end signal).
    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for stream in STREAMS {
            config = config.with_records(&format!("keap.{stream}"), 75).unwrap();
        }
        config
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        oauth_credentials(sandbox, Self::PLATFORM)
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({
            "base_url": base_url,
            "page_size": 50,
            "oauth_app": sandbox_oauth_app(base_url, Self::PLATFORM),
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.keap().records(stream).collect()
    }

    /// Contacts filter on `start_update_time` (inclusive): new and edited contacts are
    /// captured, and the newest contact already seen may come back once.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let keap = sandbox.keap();
        let before = keap.count("contacts");
        let boundary = keap.id_of("contacts", before - 1).to_string();
        keap.grow("contacts", 5);
        keap.touch("contacts", 3);
        keap.touch("contacts", 10);
        let mut must: std::collections::BTreeSet<String> = (before..before + 5)
            .map(|i| keap.id_of("contacts", i).to_string())
            .collect();
        must.extend([3, 10].map(|i| keap.id_of("contacts", i).to_string()));
        let mut changes = Changes::default();
        changes.must.insert("contacts".into(), must);
        changes.may.insert("contacts".into(), [boundary].into());
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.oauth().revoke_all("keap");
    }
}

crate::conformance!(Keap);
