//! The Stripe connector against the Stripe sandbox, over real HTTP.

use connectors::{
    ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::{FaultPlan, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn sandbox(customers: u64) -> (Sandbox, sandbox::RunningSandbox) {
    let sb = Sandbox::new(
        SandboxConfig::new(5)
            .with_records("stripe.customers", customers)
            .unwrap(),
    )
    .unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (sb, running)
}

fn connector(
    base_url: &str,
    key: &str,
    page_size: u64,
) -> std::sync::Arc<dyn connectors::Connector> {
    let retry = RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    };
    connectors::build(
        "stripe",
        &json!({"api_key": key}),
        &json!({"base_url": base_url, "page_size": page_size}),
        &HttpClient::new(retry).allowing_private_networks(true),
    )
    .unwrap()
}

/// Reads a whole stream; returns the records and the final cursor.
async fn walk(
    c: &dyn connectors::Connector,
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

#[tokio::test]
async fn a_full_walk_returns_every_record_once_and_the_newest_created_as_cursor() {
    let (sb, running) = sandbox(250).await;
    let c = connector(&running.base_url(), sb.stripe().api_key(), 100);
    for stream in sandbox::stripe::STREAMS {
        let (records, cursor) = walk(c.as_ref(), stream, None).await;
        let expected: Vec<Value> = sb.stripe().records(stream).collect();
        assert_eq!(records, expected, "{stream}");
        assert_eq!(cursor, Some(expected[0]["created"].clone()), "{stream}");
    }
    c.check().await.unwrap();
}

#[tokio::test]
async fn a_sync_reads_only_what_was_created_since_the_cursor() {
    let (sb, running) = sandbox(120).await;
    let c = connector(&running.base_url(), sb.stripe().api_key(), 50);
    let (_, cursor) = walk(c.as_ref(), "customers", None).await;
    sb.stripe().grow("customers", 7);
    let (new, next_cursor) = walk(c.as_ref(), "customers", cursor.clone()).await;
    // `created[gte]` also returns the boundary record, so a sync never misses one created in
    // the same second as the cursor.
    assert_eq!(new.len(), 8);
    assert!(
        new.iter()
            .all(|r| r["created"].as_i64() >= cursor.as_ref().and_then(Value::as_i64))
    );
    assert!(next_cursor.and_then(|v| v.as_i64()) > cursor.and_then(|v| v.as_i64()));
}

#[tokio::test]
async fn a_wrong_key_is_a_permanent_unauthorized_error_without_the_key_in_it() {
    let (_sb, running) = sandbox(10).await;
    let c = connector(&running.base_url(), "sk_test_wrong_secret_value", 10);
    let err = c
        .read_page(&PageRequest {
            stream: "customers".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized);
    assert!(!err.is_temporary());
    assert!(!err.to_string().contains("wrong_secret_value"), "{err}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_as_the_platform_asks() {
    let (sb, running) = sandbox(300).await;
    sb.set_faults(FaultPlan {
        rate_limit_every: Some(2),
        retry_after_secs: 1,
        server_error_every: Some(5),
        ..FaultPlan::default()
    });
    let c = connector(&running.base_url(), sb.stripe().api_key(), 100);
    let started = Instant::now();
    let (records, _) = walk(c.as_ref(), "customers", None).await;
    assert_eq!(records.len(), 300);
    let stats = sb.stats();
    assert!(stats.rate_limited >= 2, "{stats:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(stats.rate_limited),
        "each 429 waited its Retry-After"
    );
}

#[tokio::test]
async fn bad_settings_are_config_errors() {
    let http = HttpClient::default();
    for (creds, config) in [
        (json!({}), json!({})),
        (json!({"api_key": "  "}), json!({})),
        (json!({"api_key": "sk_x"}), json!({"base_url": "ftp://x"})),
        (json!({"api_key": "sk_x"}), json!({"page_size": 101})),
        (json!({"api_key": "sk_x"}), json!({"page_size": 0})),
    ] {
        let err = connectors::build("stripe", &creds, &config, &http)
            .err()
            .expect("refused");
        assert_eq!(err.kind, ErrorKind::Config, "{creds} {config}");
    }
    assert_eq!(
        connectors::build("myspace", &json!({}), &json!({}), &http)
            .err()
            .unwrap()
            .kind,
        ErrorKind::Config
    );
    let c = connectors::build("stripe", &json!({"api_key": "sk_x"}), &json!({}), &http).unwrap();
    let err = c
        .read_page(&PageRequest {
            stream: "unicorns".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Config);
}

#[test]
fn retry_after_is_read_as_seconds() {
    let mut headers = reqwest::header::HeaderMap::new();
    assert_eq!(connectors::http::retry_after(&headers), None);
    headers.insert("retry-after", "3".parse().unwrap());
    assert_eq!(
        connectors::http::retry_after(&headers),
        Some(Duration::from_secs(3))
    );
    headers.insert("retry-after", "soon".parse().unwrap());
    assert_eq!(connectors::http::retry_after(&headers), None);
}
