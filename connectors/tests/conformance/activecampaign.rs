//! ActiveCampaign in the conformance suite.

use crate::harness::{Changes, Fixture};
use sandbox::{Sandbox, SandboxConfig, activecampaign::STREAMS};
use serde_json::{Value, json};

pub struct ActiveCampaign;

/// Incremental streams and the field their cursor follows.
const INCREMENTAL: [&str; 2] = ["contacts", "deals"];

impl Fixture for ActiveCampaign {
    const PLATFORM: &'static str = "activecampaign";

    /// Small streams: at page size 10 each spans 2-3 pages, so the fault check (a 1 s
    /// `Retry-After` every third request) stays a few seconds long.
    fn sandbox(seed: u64) -> SandboxConfig {
        let mut config = SandboxConfig::new(seed);
        for stream in STREAMS {
            let n = if stream == "contacts" { 30 } else { 20 };
            config = config
                .with_records(&format!("activecampaign.{stream}"), n)
                .unwrap();
        }
        config
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        json!({"api_key": sandbox.activecampaign().api_key()})
    }

    /// The documented 5 req/s would make every check slow; only the rate-limit check, which
    /// sets its own `requests_per_second`, is about pacing.
    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({"base_url": base_url, "page_size": 10, "requests_per_second": 200});
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.activecampaign().records(stream).collect()
    }

    /// New records and edited old ones are both captured (`filters[updated_after]` is
    /// inclusive, so the newest record of the previous run may come back once).
    fn mutate(sandbox: &Sandbox) -> Changes {
        let ac = sandbox.activecampaign();
        let mut changes = Changes::default();
        for stream in INCREMENTAL {
            let before = ac.count(stream);
            let boundary = sandbox::activecampaign::ActiveCampaignFake::id_of(before - 1);
            let mut must: std::collections::BTreeSet<String> = [2, 7, 11]
                .into_iter()
                .filter_map(|index| ac.touch(stream, index))
                .collect();
            ac.grow(stream, 4);
            must.extend(
                (before..before + 4).map(sandbox::activecampaign::ActiveCampaignFake::id_of),
            );
            changes.must.insert(stream.to_owned(), must);
            changes.may.insert(stream.to_owned(), [boundary].into());
        }
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.activecampaign().revoke_key();
    }
}

crate::conformance!(ActiveCampaign);
