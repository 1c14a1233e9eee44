//! The HubSpot connector against the HubSpot sandbox, over real HTTP: the 10,000-result
//! search trap, resumable page tokens and the fake's own search behaviour.

use connectors::{
    Connector, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::{collections::BTreeSet, sync::Arc, time::Duration};

/// More changed records than one HubSpot search query can return.
const TOUCHED: u64 = 25_000;

async fn sandbox(contacts: u64) -> (Sandbox, RunningSandbox) {
    let sb = Sandbox::new(
        SandboxConfig::new(8)
            .with_records("hubspot.contacts", contacts)
            .unwrap(),
    )
    .unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sb, running)
}

fn connector(sb: &Sandbox, base_url: &str, token: &str) -> Arc<dyn Connector> {
    let retry = RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    };
    connectors::build(
        "hubspot",
        &json!({"access_token": token}),
        &json!({"base_url": base_url, "page_size": 100, "requests_per_second": 1000}),
        &HttpClient::new(retry).allowing_private_networks(true),
    )
    .map_err(|e| format!("{e} (seed {})", sb.hubspot().seed()))
    .unwrap()
}

/// Reads a whole stream; returns the records, the final cursor and the number of pages.
async fn walk(
    c: &dyn Connector,
    stream: &str,
    since: Option<Value>,
) -> (Vec<Value>, Option<Value>, usize) {
    walk_with(&[c], stream, since).await
}

/// [`walk`] with the pages read by each connector in turn: a page token carries all the
/// state, as when an activity resumes from a checkpoint in another worker.
async fn walk_with(
    connectors: &[&dyn Connector],
    stream: &str,
    since: Option<Value>,
) -> (Vec<Value>, Option<Value>, usize) {
    let mut request = PageRequest {
        stream: stream.into(),
        since,
        ..Default::default()
    };
    let mut records = Vec::new();
    for pages in 1.. {
        let c = connectors[pages % connectors.len()];
        let page = c.read_page(&request).await.unwrap();
        records.extend(
            page.records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.json.get()).unwrap()),
        );
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => return (records, request.cursor, pages),
        }
    }
    unreachable!()
}

fn since_filter(from: i64) -> Value {
    json!({"filterGroups": [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": from.to_string()}
    ]}], "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 200})
}

#[tokio::test]
async fn the_fake_search_stops_silently_at_ten_thousand_results() {
    let (sb, running) = sandbox(TOUCHED).await;
    let before = sb.hubspot().now_ms();
    assert_eq!(sb.hubspot().touch("contacts", 0..TOUCHED), TOUCHED);
    let client = reqwest::Client::new();
    let url = format!("{}/crm/v3/objects/contacts/search", running.base_url());
    let token = sb.hubspot().access_token().to_owned();
    let mut body = since_filter(before + 1);
    let mut seen = BTreeSet::new();
    loop {
        let answer: Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["total"], TOUCHED, "the total tells the truth");
        for record in answer["results"].as_array().unwrap() {
            assert!(seen.insert(record["id"].as_str().unwrap().to_owned()));
        }
        match answer["paging"]["next"]["after"].as_str() {
            Some(after) => body["after"] = after.into(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10_000, "no page past 10,000 is offered");
    body["after"] = "10000".into();
    let refused = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_sync_over_more_than_ten_thousand_changes_returns_each_exactly_once() {
    let (sb, running) = sandbox(TOUCHED + 500).await;
    let c = connector(&sb, &running.base_url(), sb.hubspot().access_token());
    let resumed = connector(&sb, &running.base_url(), sb.hubspot().access_token());
    let cursor = sb.hubspot().now_ms();
    // 25,000 contacts change and 500 are new: 25,500 changes in one window.
    let touched: Vec<u64> = (0..TOUCHED).collect();
    sb.hubspot().touch("contacts", touched.iter().copied());
    sb.hubspot().grow("contacts", 500);
    let (records, next, pages) = walk_with(
        &[c.as_ref(), resumed.as_ref()],
        "contacts",
        Some(cursor.into()),
    )
    .await;
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no record twice");
    let expected: BTreeSet<String> = touched
        .iter()
        .copied()
        .chain(TOUCHED + 500..TOUCHED + 1_000)
        .map(|i| sb.hubspot().id_of("contacts", i))
        .collect();
    assert_eq!(ids.len(), expected.len());
    assert!(
        ids.iter().all(|id| expected.contains(id)),
        "only changed records"
    );
    assert_eq!(
        next,
        Some(sb.hubspot().now_ms().into()),
        "the cursor is the newest change"
    );
    assert!(pages >= 255, "{pages} pages of at most 100");
    // Records come oldest change first, so a resumed sync never moves the cursor back.
    let times: Vec<&str> = records
        .iter()
        .map(|r| r["properties"]["lastmodifieddate"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn a_sync_with_nothing_changed_keeps_the_cursor() {
    let (sb, running) = sandbox(50).await;
    let c = connector(&sb, &running.base_url(), sb.hubspot().access_token());
    let (all, cursor, _) = walk(c.as_ref(), "contacts", None).await;
    assert_eq!(all.len(), 50);
    assert_eq!(
        cursor,
        Some(sb.hubspot().modified_of("contacts", 49).into())
    );
    let since = cursor.clone().unwrap().as_i64().unwrap() + 1;
    let (changes, next, pages) = walk(c.as_ref(), "contacts", Some(since.into())).await;
    assert!(changes.is_empty());
    assert_eq!((next, pages), (Some(since.into()), 1));
}

#[tokio::test]
async fn bad_tokens_and_streams_are_permanent_errors() {
    let (sb, running) = sandbox(10).await;
    let c = connector(&sb, &running.base_url(), "pat-na1-wrong");
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.to_string().contains("pat-na1-wrong"), "{err}");
    let c = connector(&sb, &running.base_url(), sb.hubspot().access_token());
    let unknown = PageRequest {
        stream: "leads".into(),
        ..Default::default()
    };
    assert_eq!(
        c.read_page(&unknown).await.unwrap_err().kind,
        ErrorKind::Config
    );
    let forged = PageRequest {
        stream: "deals".into(),
        since: Some(0.into()),
        page_token: Some("{not json".into()),
        ..Default::default()
    };
    assert_eq!(
        c.read_page(&forged).await.unwrap_err().kind,
        ErrorKind::Config
    );
    assert_eq!(sb.stats().rate_limited, 0);
}
