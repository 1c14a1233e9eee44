//! The Zendesk connector against the Zendesk sandbox, over real HTTP: the platform's traps.

use connectors::{
    Connector, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    sync::Arc,
    time::{Duration, Instant},
};

async fn sandbox(counts: &[(&str, u64)]) -> (Sandbox, sandbox::RunningSandbox) {
    let mut config = SandboxConfig::new(11);
    for (stream, n) in counts {
        config = config
            .with_records(&format!("zendesk.{stream}"), *n)
            .unwrap();
    }
    let sb = Sandbox::new(config).unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sb, running)
}

fn connector(sb: &Sandbox, base_url: &str, settings: Value) -> Arc<dyn Connector> {
    let mut config = json!({"base_url": base_url});
    config
        .as_object_mut()
        .unwrap()
        .extend(settings.as_object().cloned().unwrap_or_default());
    let retry = RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    };
    connectors::build(
        "zendesk",
        &json!({"email": sb.zendesk().email(), "api_token": sb.zendesk().api_token()}),
        &config,
        &HttpClient::new(retry).allowing_private_networks(true),
    )
    .unwrap()
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

fn ids(records: &[Value]) -> BTreeSet<u64> {
    records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn offset_paging_stops_at_10000_but_the_connector_backs_up_more_with_cursors() {
    const N: u64 = 10_050;
    let (sb, running) = sandbox(&[("tickets", N), ("organizations", N)]).await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", running.base_url()))
            .basic_auth(
                format!("{}/token", sb.zendesk().email()),
                Some(sb.zendesk().api_token()),
            )
            .send()
    };
    for resource in ["tickets", "organizations"] {
        let last = get(&format!("/api/v2/{resource}.json?page=100&per_page=100"))
            .await
            .unwrap();
        assert_eq!(last.status(), 200);
        let past = get(&format!("/api/v2/{resource}.json?page=101&per_page=100"))
            .await
            .unwrap();
        assert_eq!(
            past.status(),
            400,
            "the fake refuses offset pages past 10,000"
        );
    }

    sb.zendesk()
        .set_export_limit(1_000, Duration::from_secs(60));
    sb.reset_stats();
    let c = connector(
        &sb,
        &running.base_url(),
        json!({"requests_per_second": 1000, "export_requests_per_minute": 60_000}),
    );
    for stream in ["tickets", "organizations"] {
        let (records, _) = walk(c.as_ref(), stream, None).await;
        assert_eq!(records.len() as u64, N, "{stream}");
        assert_eq!(
            ids(&records),
            ids(&sb.zendesk().records(stream)),
            "{stream}"
        );
    }
    assert_eq!(
        sb.stats().bad_requests,
        0,
        "the connector never hit the offset cap"
    );
}

#[tokio::test]
async fn a_ticket_changed_in_the_last_minute_comes_with_the_next_sync() {
    let (sb, running) = sandbox(&[("tickets", 30)]).await;
    let c = connector(
        &sb,
        &running.base_url(),
        json!({"export_requests_per_minute": 600}),
    );
    let (first, cursor) = walk(c.as_ref(), "tickets", None).await;
    assert_eq!(first.len(), 30);

    let zendesk = sb.zendesk();
    zendesk.advance(100);
    zendesk.touch("tickets", 5);
    zendesk.grow("tickets", 1);
    zendesk.advance(30);
    // Both changes are 30 s old: the export holds them back.
    let (held_back, cursor_2) = walk(c.as_ref(), "tickets", cursor.clone()).await;
    assert!(held_back.is_empty(), "{held_back:?}");
    assert!(cursor_2.is_some());

    zendesk.advance(31);
    let (caught_up, cursor_3) = walk(c.as_ref(), "tickets", cursor_2.clone()).await;
    assert_eq!(
        ids(&caught_up),
        BTreeSet::from([zendesk.id_of("tickets", 5), zendesk.id_of("tickets", 30)])
    );
    assert_eq!(
        caught_up[0],
        zendesk.record("tickets", 5).unwrap(),
        "the updated version"
    );
    assert_ne!(cursor_3, cursor_2);

    let (again, _) = walk(c.as_ref(), "tickets", cursor_3).await;
    assert!(again.is_empty(), "nothing is returned twice");
}

#[tokio::test]
async fn the_export_limit_is_waited_out_as_retry_after_asks() {
    let (sb, running) = sandbox(&[("tickets", 60)]).await;
    sb.zendesk().set_export_limit(4, Duration::from_secs(1));
    let c = connector(
        &sb,
        &running.base_url(),
        json!({"export_page_size": 5, "export_requests_per_minute": 60_000, "requests_per_second": 1000}),
    );
    let started = Instant::now();
    let (records, _) = walk(c.as_ref(), "tickets", None).await;
    assert_eq!(ids(&records), ids(&sb.zendesk().records("tickets")));
    assert!(
        sb.zendesk().export_throttled() > 0,
        "the export budget ran out"
    );
    assert_eq!(sb.stats().rate_limited, sb.zendesk().export_throttled());
    // 13 requests at 4 per second: at least three windows had to pass.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn exports_are_paced_to_their_own_budget() {
    let (sb, running) = sandbox(&[("tickets", 30)]).await;
    // 300/min is one export every 200 ms; the fake allows one per 150 ms window.
    sb.zendesk().set_export_limit(1, Duration::from_millis(150));
    let c = connector(
        &sb,
        &running.base_url(),
        json!({"export_page_size": 5, "export_requests_per_minute": 300, "requests_per_second": 1000}),
    );
    let started = Instant::now();
    let (records, _) = walk(c.as_ref(), "tickets", None).await;
    assert_eq!(records.len(), 30);
    assert_eq!(sb.zendesk().export_throttled(), 0, "never throttled");
    assert!(started.elapsed() >= Duration::from_millis(5 * 200 * 9 / 10));
}

#[tokio::test]
async fn comments_of_every_ticket_are_walked_across_pages() {
    let (sb, running) = sandbox(&[("tickets", 7)]).await;
    let c = connector(
        &sb,
        &running.base_url(),
        json!({"page_size": 2, "requests_per_second": 1000}),
    );
    let (records, cursor) = walk(c.as_ref(), "ticket_comments", None).await;
    assert_eq!(ids(&records), ids(&sb.zendesk().records("ticket_comments")));
    assert_eq!(records.len(), sb.zendesk().records("ticket_comments").len());
    assert_eq!(cursor, None);
}

#[tokio::test]
async fn oauth_tokens_work_and_wrong_tokens_are_permanent_without_the_secret() {
    let (sb, running) = sandbox(&[("tickets", 3)]).await;
    let http = HttpClient::default().allowing_private_networks(true);
    let config = json!({"base_url": running.base_url()});
    let oauth = connectors::build(
        "zendesk",
        &json!({"access_token": sb.zendesk().oauth_token()}),
        &config,
        &http,
    )
    .unwrap();
    oauth.check().await.unwrap();

    let wrong = connectors::build(
        "zendesk",
        &json!({"email": sb.zendesk().email(), "api_token": "not-the-token-xyz"}),
        &config,
        &http,
    )
    .unwrap();
    let err = wrong.check().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.is_temporary());
    assert!(
        err.to_string().contains("Couldn't authenticate you"),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-token-xyz"), "{err}");
}

#[tokio::test]
async fn bad_settings_are_config_errors() {
    let http = HttpClient::default();
    let creds = json!({"email": "a@b.c", "api_token": "t"});
    for (creds, config) in [
        (json!({}), json!({"subdomain": "acme"})),
        (json!({"email": "a@b.c"}), json!({"subdomain": "acme"})),
        (creds.clone(), json!({})),
        (creds.clone(), json!({"subdomain": "evil.com/x"})),
        (creds.clone(), json!({"base_url": "http://169.254.169.254"})),
        (
            creds.clone(),
            json!({"subdomain": "acme", "page_size": 101}),
        ),
        (
            creds.clone(),
            json!({"subdomain": "acme", "export_page_size": 1001}),
        ),
        (
            creds.clone(),
            json!({"subdomain": "acme", "requests_per_second": 0}),
        ),
    ] {
        let err = connectors::build("zendesk", &creds, &config, &http)
            .err()
            .expect("refused");
        assert_eq!(err.kind, ErrorKind::Config, "{creds} {config}");
    }
    let c = connectors::build("zendesk", &creds, &json!({"subdomain": "acme"}), &http).unwrap();
    let err = c
        .read_page(&PageRequest {
            stream: "macros".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
    let err = c
        .read_page(&PageRequest {
            stream: "ticket_comments".into(),
            page_token: Some("garbage".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
}
