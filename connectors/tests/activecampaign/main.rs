//! The ActiveCampaign connector's traps, against the ActiveCampaign sandbox over real HTTP:
//! a user-supplied base URL (SSRF), contacts added during a walk, and the per-account budget.

use connectors::{
    Connector, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::{FaultPlan, Sandbox, SandboxConfig, activecampaign::ActiveCampaignFake};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

async fn sandbox(contacts: u64, lists: u64) -> (Sandbox, sandbox::RunningSandbox) {
    let sb = Sandbox::new(
        SandboxConfig::new(11)
            .with_records("activecampaign.contacts", contacts)
            .unwrap()
            .with_records("activecampaign.lists", lists)
            .unwrap(),
    )
    .unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sb, running)
}

fn connector(base_url: &str, key: &str, settings: Value) -> Arc<dyn Connector> {
    let retry = RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    };
    let mut config = json!({"base_url": base_url});
    config
        .as_object_mut()
        .unwrap()
        .extend(settings.as_object().cloned().unwrap_or_default());
    connectors::build(
        "activecampaign",
        &json!({"api_key": key}),
        &config,
        &HttpClient::new(retry).allowing_private_networks(true),
    )
    .unwrap()
}

/// Reads a whole stream, calling `between` after each page.
async fn walk(c: &dyn Connector, stream: &str, mut between: impl FnMut(usize)) -> Vec<Value> {
    let mut request = PageRequest {
        stream: stream.into(),
        ..Default::default()
    };
    let mut records = Vec::new();
    for page_number in 0.. {
        let page = c.read_page(&request).await.unwrap();
        records.extend(
            page.records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.json.get()).unwrap()),
        );
        between(page_number);
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    records
}

#[test]
fn base_urls_are_checked_before_any_request() {
    let production = HttpClient::default();
    let build = |http: &HttpClient, url: &str| {
        connectors::build(
            "activecampaign",
            &json!({"api_key": "token"}),
            &json!({"base_url": url}),
            http,
        )
    };
    for refused in [
        "http://127.0.0.1:8080",
        "https://localhost/api/3",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.7",
        "https://[::1]/api/3",
        "https://metadata.internal",
        // The token would cross the internet in clear text.
        "http://acme.api-us1.com",
        "https://user:pw@acme.api-us1.com",
        "https://acme.api-us1.com/api/3/../../admin",
        "https://acme.api-us1.com/api/3?redirect=http://10.0.0.1",
        "ftp://acme.api-us1.com",
        "acme.api-us1.com",
        "",
    ] {
        let err = build(&production, refused).err().expect(refused);
        assert_eq!(err.kind, ErrorKind::Config, "{refused}: {err}");
    }
    assert!(build(&production, "https://acme.api-us1.com").is_ok());
    assert!(build(&production, "https://acme.api-us1.com/api/3/").is_ok());
    // Sandboxes and tests opt in to private networks; credentials in the URL stay refused.
    let sandboxed = HttpClient::default().allowing_private_networks(true);
    assert!(build(&sandboxed, "http://127.0.0.1:8080").is_ok());
    assert!(build(&sandboxed, "http://user:pw@127.0.0.1:8080").is_err());
    assert!(build(&sandboxed, "http://acme.api-us1.com").is_err());
}

#[test]
fn bad_settings_are_config_errors() {
    let http = HttpClient::default();
    let url = "https://acme.api-us1.com";
    for (creds, config) in [
        (json!({}), json!({"base_url": url})),
        (json!({"api_key": " "}), json!({"base_url": url})),
        (json!({"api_key": "t"}), json!({})),
        (
            json!({"api_key": "t"}),
            json!({"base_url": url, "page_size": 101}),
        ),
        (
            json!({"api_key": "t"}),
            json!({"base_url": url, "page_size": "10"}),
        ),
        (
            json!({"api_key": "t"}),
            json!({"base_url": url, "requests_per_second": 0}),
        ),
    ] {
        let err = connectors::build("activecampaign", &creds, &config, &http)
            .err()
            .expect("refused");
        assert_eq!(err.kind, ErrorKind::Config, "{creds} {config}");
    }
}

#[tokio::test]
async fn contacts_added_during_a_walk_neither_duplicate_nor_skip() {
    let (sb, running) = sandbox(50, 5).await;
    let c = connector(
        &running.base_url(),
        sb.activecampaign().api_key(),
        json!({"page_size": 10, "requests_per_second": 500}),
    );
    let existing: BTreeSet<String> = (0..50).map(ActiveCampaignFake::id_of).collect();
    let records = walk(c.as_ref(), "contacts", |page| {
        if page < 3 {
            sb.activecampaign().grow("contacts", 4);
        }
    })
    .await;
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "no contact twice: {ids:?}");
    assert!(existing.is_subset(&unique), "every existing contact");
    // The keyset walks in id order, so contacts added behind it are read at the end.
    assert_eq!(unique.len() as u64, sb.activecampaign().count("contacts"));
}

#[tokio::test]
async fn a_wrong_or_revoked_token_is_unauthorized_at_once_and_not_echoed() {
    let (sb, running) = sandbox(5, 5).await;
    let wrong = connector(&running.base_url(), "wrong-token-0123456789", json!({}));
    let err = wrong.check().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.status, Some(403));
    assert!(!err.to_string().contains("0123456789"), "{err}");
    let right = connector(
        &running.base_url(),
        sb.activecampaign().api_key(),
        json!({}),
    );
    right.check().await.unwrap();
    sb.activecampaign().revoke_key();
    let err = right.check().await.unwrap_err();
    assert!(!err.is_temporary());
    assert_eq!(sb.stats().requests, 3, "no retries: {:?}", sb.stats());
}

#[tokio::test]
async fn connections_to_one_account_share_its_five_requests_per_second() {
    // 20 lists at 2 per page: 10 requests per connection. Two connections paced separately
    // would send 10/s and exhaust the account's bucket within the run.
    let (sb, running) = sandbox(5, 20).await;
    sb.set_faults(FaultPlan {
        max_requests_per_sec: Some(5),
        ..FaultPlan::default()
    });
    let key = sb.activecampaign().api_key().to_owned();
    let settings = json!({"page_size": 2});
    let (a, b) = (
        connector(&running.base_url(), &key, settings.clone()),
        connector(&running.base_url(), &key, settings),
    );
    let started = Instant::now();
    let (first, second) = tokio::join!(
        walk(a.as_ref(), "lists", |_| ()),
        walk(b.as_ref(), "lists", |_| ())
    );
    assert_eq!((first.len(), second.len()), (20, 20));
    let stats = sb.stats();
    assert_eq!(stats.rate_limited, 0, "never throttled: {stats:?}");
    assert_eq!(stats.requests, 20, "{stats:?}");
    let floor = Duration::from_secs_f64(19.0 / 5.0 * 0.9);
    assert!(
        started.elapsed() >= floor,
        "paced together: {:?}",
        started.elapsed()
    );
}
