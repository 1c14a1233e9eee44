//! The ActiveCampaign fake over real HTTP, as a connector sees it.

use reqwest::StatusCode;
use sandbox::activecampaign::{ActiveCampaignFake, DEFAULT_API_KEY};
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;
use std::collections::BTreeSet;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    client: reqwest::Client,
}

impl Harness {
    async fn start(contacts: u64) -> Self {
        let config = SandboxConfig::new(31)
            .with_records("activecampaign.contacts", contacts)
            .unwrap();
        let sandbox = Sandbox::new(config).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self {
            sandbox,
            running,
            client: reqwest::Client::new(),
        }
    }

    async fn get_with(&self, path: &str, key: Option<&str>) -> (StatusCode, Option<String>, Value) {
        let mut request = self
            .client
            .get(format!("{}/api/3/{path}", self.running.base_url()));
        if let Some(key) = key {
            request = request.header("Api-Token", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, retry_after, response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.get_with(path, Some(DEFAULT_API_KEY)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}

fn ids(body: &Value, stream: &str) -> Vec<String> {
    body[stream]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_missing_wrong_or_revoked_token_is_403_with_acs_message() {
    let h = Harness::start(5).await;
    for key in [None, Some("wrong"), Some("")] {
        let (status, _, body) = h.get_with("contacts", key).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["message"], "No Result found for Subscriber with id 0");
    }
    h.get("contacts").await;
    h.sandbox.activecampaign().revoke_key();
    let (status, _, _) = h.get_with("contacts", Some(DEFAULT_API_KEY)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn lists_are_shaped_like_activecampaigns() {
    let h = Harness::start(130).await;
    let body = h.get("contacts?limit=500&orders[id]=ASC").await;
    assert_eq!(body["meta"]["total"], "130", "totals are strings");
    assert_eq!(ids(&body, "contacts").len(), 100, "limit is capped at 100");
    assert_eq!(
        ids(&h.get("deals").await, "deals").len(),
        20,
        "default limit 20"
    );
    let body = h
        .get("contacts?orders[id]=ASC&id_greater=125&limit=3")
        .await;
    assert_eq!(ids(&body, "contacts"), ["126", "127", "128"]);
    assert_eq!(body["meta"]["total"], "5");
    let (status, _, body) = h
        .get_with(
            "contacts?filters[updated_after]=tomorrow",
            Some(DEFAULT_API_KEY),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["errors"][0]["title"].is_string());
    let (status, _, _) = h.get_with("unicorns", Some(DEFAULT_API_KEY)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn updated_after_returns_new_and_touched_records() {
    let h = Harness::start(40).await;
    let ac = h.sandbox.activecampaign();
    let newest = ac.record("contacts", 39)["udate"]
        .as_str()
        .unwrap()
        .to_owned();
    ac.touch("contacts", 3);
    ac.grow("contacts", 2);
    let query = format!(
        "contacts?orders[id]=ASC&filters[updated_after]={}",
        newest.replace('+', "%2B")
    );
    let body = h.get(&query).await;
    assert_eq!(
        ids(&body, "contacts"),
        ["4", "40", "41", "42"],
        "inclusive bound"
    );
}

/// The trap the connector's keyset avoids: contacts list newest first, so offset pages shift
/// when contacts are added mid-walk.
#[tokio::test]
async fn offset_paging_over_contacts_duplicates_when_contacts_are_added() {
    let h = Harness::start(30).await;
    let mut seen = Vec::new();
    for offset in (0..30).step_by(10) {
        seen.extend(ids(
            &h.get(&format!("contacts?limit=10&offset={offset}")).await,
            "contacts",
        ));
        h.sandbox.activecampaign().grow("contacts", 2);
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert!(
        unique.len() < seen.len(),
        "offset paging returned duplicates"
    );
    let missing = (0..30)
        .map(ActiveCampaignFake::id_of)
        .filter(|id| !unique.contains(id))
        .count();
    assert!(missing > 0, "and skipped existing contacts");
}

#[tokio::test]
async fn faults_answer_in_acs_shape_with_retry_after() {
    let h = Harness::start(5).await;
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        retry_after_secs: 3,
        ..FaultPlan::default()
    });
    let (status, retry_after, body) = h.get_with("lists", Some(DEFAULT_API_KEY)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after.as_deref(), Some("3"));
    assert!(body["message"].is_string());
    assert_eq!(h.sandbox.stats().rate_limited, 1);
}
