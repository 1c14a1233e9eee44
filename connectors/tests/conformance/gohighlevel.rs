//! GoHighLevel in the conformance suite: an OAuth connection to the fake's first location.

use crate::harness::{Changes, Fixture, oauth_credentials, sandbox_oauth_app};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

pub struct GoHighLevel;

/// 2023-12-01T00:00:00Z: a little before the fake's first appointment.
const APPOINTMENTS_FROM: i64 = 1_701_388_800_000;

fn location(sandbox: &Sandbox) -> String {
    sandbox.gohighlevel().location_ids()[0].clone()
}

impl Fixture for GoHighLevel {
    const PLATFORM: &'static str = "gohighlevel";

    fn sandbox(seed: u64) -> SandboxConfig {
        let counts = [
            ("contacts", 120),
            ("opportunities", 120),
            ("calendars", 2),
            ("appointments", 40),
        ];
        counts
            .iter()
            .fold(SandboxConfig::new(seed), |config, (stream, n)| {
                config
                    .with_records(&format!("gohighlevel.{stream}"), *n)
                    .unwrap()
            })
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        oauth_credentials(sandbox, Self::PLATFORM)
    }

    fn config(sandbox: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({
            "base_url": format!("{base_url}/gohighlevel"),
            "location_id": location(sandbox),
            "oauth_app": sandbox_oauth_app(base_url, Self::PLATFORM),
            "page_size": 50,
            "requests_per_second": 50,
            "appointments_from": APPOINTMENTS_FROM,
            "appointments_window_days": 366,
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.gohighlevel().records(&location(sandbox), stream)
    }

    /// New contacts and edited ones are captured (`dateUpdated >= cursor`); the newest contact
    /// already seen may come back once (inclusive filter).
    fn mutate(sandbox: &Sandbox) -> Changes {
        let ghl = sandbox.gohighlevel();
        let loc = location(sandbox);
        let before = ghl.count(&loc, "contacts");
        let boundary = ghl.id_of(&loc, "contacts", before - 1);
        let edited: Vec<String> = [3, 40, 77]
            .into_iter()
            .filter_map(|i| ghl.touch(&loc, i))
            .collect();
        ghl.grow(&loc, "contacts", 5);
        let mut changes = Changes::default();
        let mut must: std::collections::BTreeSet<String> = (before..before + 5)
            .map(|i| ghl.id_of(&loc, "contacts", i))
            .collect();
        must.extend(edited);
        changes.must.insert("contacts".into(), must);
        changes.may.insert("contacts".into(), [boundary].into());
        // Growth elsewhere must not leak into a contacts sync.
        ghl.grow(&loc, "opportunities", 3);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.oauth().revoke_all("gohighlevel");
    }
}

crate::conformance!(GoHighLevel);
