//! The Mailchimp connector against the Mailchimp sandbox, over real HTTP: the platform's traps.

use connectors::{
    Connector, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

async fn sandbox(lists: u64, members: u64) -> (Sandbox, RunningSandbox) {
    let config = SandboxConfig::new(11)
        .with_records("mailchimp.lists", lists)
        .and_then(|c| c.with_records("mailchimp.members", members))
        .unwrap();
    let sb = Sandbox::new(config).unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sb, running)
}

fn http() -> HttpClient {
    HttpClient::new(RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    })
    .allowing_private_networks(true)
}

fn connector(running: &RunningSandbox, credentials: Value, page_size: u64) -> Arc<dyn Connector> {
    connectors::build(
        "mailchimp",
        &credentials,
        &json!({
            "base_url": format!("{}/3.0", running.base_url()),
            "page_size": page_size,
            "requests_per_second": 100,
        }),
        &http(),
    )
    .unwrap()
}

fn key(sb: &Sandbox) -> Value {
    json!({"api_key": sb.mailchimp().api_key()})
}

fn member_key(record: &Value) -> String {
    format!(
        "{}/{}",
        record["list_id"].as_str().unwrap(),
        record["id"].as_str().unwrap()
    )
}

/// Reads a whole stream; returns the records and the final cursor.
async fn walk(
    c: &dyn Connector,
    stream: &str,
    since: Option<Value>,
) -> (Vec<Value>, Option<Value>) {
    let mut request = PageRequest {
        stream: stream.into(),
        since,
        ..Default::default()
    };
    let mut records = Vec::new();
    loop {
        let page = c.read_page(&request).await.unwrap();
        records.extend(
            page.records
                .iter()
                .map(|r| serde_json::from_str::<Value>(r.json.get()).unwrap()),
        );
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => return (records, request.cursor),
        }
    }
}

#[test]
fn the_data_center_comes_from_the_key_and_cannot_pick_the_host() {
    assert_eq!(
        connectors::mailchimp::base_url_for_key("abc-us21").unwrap(),
        "https://us21.api.mailchimp.com/3.0"
    );
    // The derived URL passes the production SSRF policy.
    let production = HttpClient::default();
    assert!(
        connectors::build(
            "mailchimp",
            &json!({"api_key": "abc-us21"}),
            &json!({}),
            &production
        )
        .is_ok()
    );
    for bad in ["abc", "abc-us21.evil.com", "abc-us21/../x", "abc-", ""] {
        let err = connectors::build(
            "mailchimp",
            &json!({"api_key": bad}),
            &json!({}),
            &production,
        )
        .err()
        .unwrap_or_else(|| panic!("`{bad}` must be refused"));
        assert_eq!(err.kind, ErrorKind::Config, "{bad}: {err}");
    }
    // A base URL override is still subject to the SSRF policy.
    let err = connectors::build(
        "mailchimp",
        &json!({"api_key": "abc-us21"}),
        &json!({"base_url": "http://169.254.169.254/3.0"}),
        &production,
    )
    .err()
    .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
}

#[tokio::test]
async fn the_fake_refuses_a_count_over_1000_in_mailchimps_error_shape() {
    let (sb, running) = sandbox(1, 5).await;
    let url = format!(
        "{}/3.0/lists/{}/members",
        running.base_url(),
        sb.mailchimp().list_id(0)
    );
    let client = reqwest::Client::new();
    let get = |count: &'static str| {
        client
            .get(&url)
            .basic_auth("anystring", Some(sb.mailchimp().api_key()))
            .query(&[("count", count)])
            .send()
    };
    let refused = get("1001").await.unwrap();
    assert_eq!(refused.status(), 400);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("count"),
        "{problem}"
    );
    let ok: Value = get("1000").await.unwrap().json().await.unwrap();
    assert_eq!(ok["total_items"], 5);
    assert_eq!(ok["members"].as_array().map(Vec::len), Some(5));
    // And the connector never asks for more.
    let err = connectors::build("mailchimp", &key(&sb), &json!({"page_size": 1001}), &http())
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Config);
}

#[tokio::test]
async fn members_of_every_list_are_backed_up_once() {
    let (sb, running) = sandbox(4, 23).await;
    sb.mailchimp().grow(1, 9);
    sb.mailchimp().grow(3, 1);
    let c = connector(&running, key(&sb), 7);
    let (records, cursor) = walk(c.as_ref(), "members", None).await;
    assert_eq!(records, sb.mailchimp().records("members"));
    let keys: BTreeSet<String> = records.iter().map(member_key).collect();
    assert_eq!(keys.len(), 23 * 4 + 10);
    for list in 0..4 {
        let id = sb.mailchimp().list_id(list);
        let n = records
            .iter()
            .filter(|r| r["list_id"] == id.as_str())
            .count() as u64;
        assert_eq!(n, sb.mailchimp().members_in(list), "list {list}");
    }
    let newest = records
        .iter()
        .map(|r| r["last_changed"].as_str().unwrap())
        .max()
        .map(Value::from);
    assert_eq!(cursor, newest);
    c.check().await.unwrap();
}

#[tokio::test]
async fn a_sync_returns_the_members_changed_since_the_cursor() {
    let (sb, running) = sandbox(3, 30).await;
    let c = connector(&running, key(&sb), 8);
    let (_, cursor) = walk(c.as_ref(), "members", None).await;
    let mc = sb.mailchimp();
    mc.touch(0, 3);
    mc.touch(2, 29);
    mc.grow(1, 2);
    let (changed, next) = walk(c.as_ref(), "members", cursor.clone()).await;
    let got: BTreeSet<String> = changed.iter().map(member_key).collect();
    let must: BTreeSet<String> = [
        mc.member(0, 3),
        mc.member(2, 29),
        mc.member(1, 30),
        mc.member(1, 31),
    ]
    .iter()
    .map(member_key)
    .collect();
    assert!(
        must.is_subset(&got),
        "missed {:?}",
        must.difference(&got).collect::<Vec<_>>()
    );
    // Beyond the changes, only members changed in the cursor's own second come back.
    for extra in changed.iter().filter(|r| !must.contains(&member_key(r))) {
        assert_eq!(Some(&extra["last_changed"]), cursor.as_ref(), "{extra}");
    }
    assert!(
        next.as_ref().and_then(Value::as_str) > cursor.as_ref().and_then(Value::as_str),
        "the cursor advances: {next:?} after {cursor:?}"
    );
    // Nothing changed since: the sync returns only the cursor's second and keeps the cursor.
    let (again, kept) = walk(c.as_ref(), "members", next.clone()).await;
    assert_eq!(kept, next);
    assert!(
        again
            .iter()
            .all(|r| Some(&r["last_changed"]) == next.as_ref())
    );
}

#[tokio::test]
async fn changes_during_a_walk_neither_skip_nor_repeat_members() {
    let (sb, running) = sandbox(2, 40).await;
    let c = connector(&running, key(&sb), 10);
    let before: BTreeSet<String> = sb
        .mailchimp()
        .records("members")
        .iter()
        .map(member_key)
        .collect();
    let mut request = PageRequest {
        stream: "members".into(),
        ..Default::default()
    };
    let mut seen = Vec::new();
    for page_number in 0.. {
        let page = c.read_page(&request).await.unwrap();
        seen.extend(page.records.iter().map(|r| r.id.clone()));
        if page_number == 1 {
            // Users sign up and update their profiles while the backup runs.
            sb.mailchimp().grow(0, 5);
            sb.mailchimp().touch(0, 2);
            sb.mailchimp().touch(0, 35);
            sb.mailchimp().touch(1, 0);
        }
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no member twice");
    assert!(before.is_subset(&unique), "no member skipped");
    assert_eq!(
        unique.len(),
        before.len() + 5,
        "members added mid-walk appear at the end"
    );

    // The trap, for contrast: the fake's default order (newest change first) shifts under
    // the same kind of changes, and a naive offset walk repeats and skips members.
    let url = format!(
        "{}/3.0/lists/{}/members",
        running.base_url(),
        sb.mailchimp().list_id(1)
    );
    let client = reqwest::Client::new();
    let mut naive = Vec::new();
    for offset in (0..40).step_by(10) {
        let page: Value = client
            .get(&url)
            .basic_auth("x", Some(sb.mailchimp().api_key()))
            .query(&[("count", "10"), ("offset", &offset.to_string())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        naive.extend(page["members"].as_array().unwrap().iter().map(member_key));
        // A member not read yet changes, jumps to the front and pushes the others back.
        sb.mailchimp().touch(1, 1 + offset / 10);
    }
    let naive_unique: BTreeSet<&String> = naive.iter().collect();
    assert!(
        naive_unique.len() < naive.len(),
        "the unstable order repeats members"
    );
}

#[tokio::test]
async fn credentials_oauth_works_and_a_wrong_key_fails_fast() {
    let (sb, running) = sandbox(1, 3).await;
    let oauth = connector(
        &running,
        json!({"access_token": sb.mailchimp().oauth_token(), "dc": "us21"}),
        10,
    );
    oauth.check().await.unwrap();
    let (lists, _) = walk(oauth.as_ref(), "lists", None).await;
    assert_eq!(lists.len(), 1);

    let wrong = connector(&running, json!({"api_key": "0000-us21"}), 10);
    let before = sb.stats().requests;
    let err = wrong.check().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert_eq!(err.status, Some(401));
    assert!(err.message.contains("API Key Invalid"), "{err}");
    assert!(
        !err.message.contains("0000-us21"),
        "the key is never echoed"
    );
    assert_eq!(sb.stats().requests - before, 1, "refused once, not retried");
}
