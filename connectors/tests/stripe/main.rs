//! The Stripe connector against the Stripe sandbox, over real HTTP.

use connectors::{
    ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
};
use sandbox::stripe::SETTLEMENT_SECS;
use sandbox::{FaultPlan, Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
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
        let incremental = c.info().stream(stream).unwrap().incremental;
        let newest = incremental.then(|| expected[0]["created"].clone());
        assert_eq!(cursor, newest, "{stream}");
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

/// Log lines written while it is installed on this thread (the tests' runtime has one).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn take(&self) -> String {
        let mut bytes = self.0.lock().unwrap();
        String::from_utf8(std::mem::take(&mut *bytes)).unwrap()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

const DAY: u64 = 86_400;
const EXPIRED: &str = "Stripe keeps events for 30 days";

fn ids(records: &[Value]) -> Vec<&str> {
    records.iter().map(|r| r["id"].as_str().unwrap()).collect()
}

/// Trap: Stripe lists events of the last 30 days only. A sync whose cursor fell out of that
/// window stores what is left without failing, and says that events were lost.
#[tokio::test]
async fn an_events_sync_after_30_days_stores_what_is_left_and_warns() {
    let logs = Logs::default();
    let _guard = logs.capture();
    // Counted streams of one size grow in step on the fake's shared timeline.
    let (sb, running) = sandbox(50).await;
    let stripe = sb.stripe();
    let c = connector(&running.base_url(), stripe.api_key(), 100);
    let (all, cursor) = walk(c.as_ref(), "events", None).await;
    assert_eq!(all, stripe.records("events").collect::<Vec<_>>());

    // A sync within the window: the new events, the boundary second again, no warning.
    for stream in sandbox::stripe::COUNTED_STREAMS {
        stripe.grow(stream, 1);
    }
    let (new, cursor) = walk(c.as_ref(), "events", cursor.clone()).await;
    let newest: Vec<Value> = stripe.records("events").take(new.len()).collect();
    assert_eq!(new, newest);
    assert!(new.len() > 7, "one second's events at least");
    assert!(!logs.take().contains(EXPIRED));

    // Syncs stop for five weeks; customers sign up in the third.
    stripe.advance(20 * DAY);
    stripe.grow("customers", 5);
    stripe.advance(15 * DAY);
    let (left, next) = walk(c.as_ref(), "events", cursor.clone()).await;
    let listed: Vec<Value> = stripe.records("events").collect();
    assert_eq!(ids(&left), ids(&listed), "exactly what Stripe still lists");
    assert_eq!(left.len(), 5);
    assert!(next.and_then(|n| n.as_i64()) > cursor.as_ref().and_then(Value::as_i64));
    let log = logs.take();
    assert!(log.contains(EXPIRED), "the gap is reported: {log}");
    assert!(log.contains(&format!("since={}", cursor.unwrap())), "{log}");

    // When nothing at all is listed any more, that is a gap too.
    stripe.advance(31 * DAY);
    let (none, _) = walk(
        c.as_ref(),
        "events",
        Some(json!(stripe.now() - 40 * DAY as i64)),
    )
    .await;
    assert!(none.is_empty());
    assert!(logs.take().contains(EXPIRED));
}

/// Payment intents and refunds change after creation (`processing` → `succeeded`, `pending`
/// → `succeeded`), so they are read whole on every run: a sync stores their current state.
#[tokio::test]
async fn payment_intents_and_refunds_are_read_whole_so_a_sync_sees_them_settle() {
    let (sb, running) = sandbox(100).await;
    let stripe = sb.stripe();
    let c = connector(&running.base_url(), stripe.api_key(), 100);
    let streams = [("payment_intents", "processing"), ("refunds", "pending")];
    let mut waiting = Vec::new();
    for (stream, status) in streams {
        let (before, cursor) = walk(c.as_ref(), stream, None).await;
        assert_eq!(cursor, None, "{stream}: no cursor, so nothing to sync from");
        let these: Vec<Value> = before
            .iter()
            .filter(|r| r["status"] == status)
            .cloned()
            .collect();
        assert!(!these.is_empty(), "{stream}: some are {status}");
        // None is the newest: a `created` filter from this run would skip them next time.
        let newest = before[0]["created"].as_i64().unwrap();
        assert!(
            these
                .iter()
                .all(|r| r["created"].as_i64().unwrap() < newest)
        );
        waiting.push((stream, these, newest));
    }

    stripe.advance(SETTLEMENT_SECS as u64);
    for (stream, these, newest) in waiting {
        let (after, _) = walk(c.as_ref(), stream, Some(json!(newest))).await;
        assert_eq!(
            after,
            stripe.records(stream).collect::<Vec<_>>(),
            "{stream}"
        );
        for old in these {
            let now = after.iter().find(|r| r["id"] == old["id"]).unwrap();
            assert_eq!(now["status"], "succeeded", "{stream} {}", old["id"]);
        }
    }
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
