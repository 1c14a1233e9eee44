//! HubSpot in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::{Sandbox, SandboxConfig, hubspot::STREAMS};
use serde_json::{Value, json};

pub struct HubSpot;

/// The CRM object streams: the ones a sync searches.
const OBJECTS: [&str; 4] = ["contacts", "companies", "deals", "tickets"];

impl Fixture for HubSpot {
    const PLATFORM: &'static str = "hubspot";

    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for stream in STREAMS {
            let n = match stream {
                "owners" => 30,
                "pipelines" => 6,
                _ => 120,
            };
            config = config
                .with_records(&format!("hubspot.{stream}"), n)
                .unwrap();
        }
        config
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        json!({"access_token": sandbox.hubspot().access_token()})
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({"base_url": base_url, "page_size": 50});
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.hubspot().records(stream).collect()
    }

    /// HubSpot's search on the last-modified property sees new *and* modified records.
    /// The cursor filter is inclusive (`GTE`), so the newest record already seen may come
    /// back once.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let hubspot = sandbox.hubspot();
        let mut changes = Changes::default();
        for stream in OBJECTS {
            let before = hubspot.count(stream);
            let boundary = hubspot.id_of(stream, before - 1);
            let touched = [3, 10, 42];
            hubspot.touch(stream, touched);
            hubspot.grow(stream, 5);
            let must = touched
                .into_iter()
                .chain(before..before + 5)
                .map(|i| hubspot.id_of(stream, i))
                .collect();
            changes.must.insert(stream.to_owned(), must);
            changes.may.insert(stream.to_owned(), [boundary].into());
        }
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.hubspot().revoke_token();
    }
}

crate::conformance!(HubSpot);
