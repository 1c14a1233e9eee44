//! Mailchimp in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub struct Mailchimp;

/// A member's identity: its id (the hash of its email) repeats across audiences.
fn member_key(record: &Value) -> String {
    format!(
        "{}/{}",
        record["list_id"].as_str().unwrap_or_default(),
        record["id"].as_str().unwrap_or_default()
    )
}

impl Fixture for Mailchimp {
    const PLATFORM: &'static str = "mailchimp";

    /// With the page size of 20 below, members (per list), campaigns, reports and templates
    /// each span several pages.
    fn sandbox(seed: u64) -> SandboxConfig {
        [
            ("mailchimp.lists", 3),
            ("mailchimp.members", 45),
            ("mailchimp.campaigns", 25),
            ("mailchimp.reports", 25),
            ("mailchimp.templates", 21),
        ]
        .into_iter()
        .fold(SandboxConfig::new(seed), |config, (spec, n)| {
            config.with_records(spec, n).unwrap()
        })
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        json!({"api_key": sandbox.mailchimp().api_key()})
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({"base_url": format!("{base_url}/3.0"), "page_size": 20});
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.mailchimp().records(stream)
    }

    fn id(record: &Value) -> String {
        if record.get("email_address").is_some() {
            return member_key(record);
        }
        match &record["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// New members in two audiences and updated ones in two others must come back; members
    /// changed in the cursor's own second may (the connector re-reads that second).
    fn mutate(sandbox: &Sandbox) -> Changes {
        let mc = sandbox.mailchimp();
        let boundary = mc
            .records("members")
            .iter()
            .map(|m| m["last_changed"].as_str().unwrap_or_default().to_owned())
            .max()
            .unwrap_or_default();
        let may: BTreeSet<String> = mc
            .records("members")
            .iter()
            .filter(|m| m["last_changed"] == boundary.as_str())
            .map(member_key)
            .collect();
        let mut must = BTreeSet::new();
        for (list, n) in [(0, 3), (2, 2)] {
            let before = mc.members_in(list);
            mc.grow(list, n);
            must.extend((before..before + n).map(|i| member_key(&mc.member(list, i))));
        }
        for (list, index) in [(1, 5), (0, 0)] {
            mc.touch(list, index);
            must.insert(member_key(&mc.member(list, index)));
        }
        let mut changes = Changes::default();
        changes.must.insert("members".into(), must);
        changes.may.insert("members".into(), may);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.mailchimp().revoke_key();
    }
}

crate::conformance!(Mailchimp);
