//! The checks every connector must pass, generic over a platform fixture.

use connectors::{Connector, ConnectorError, PageRequest, http::HttpClient, http::RetrySettings};
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

/// What a sync after [`Fixture::mutate`] must return, per stream: every id in `must`, and
/// nothing outside `must` and `may` (`may` covers records a platform's cursor semantics
/// legitimately return again, such as the boundary record of an inclusive timestamp filter).
#[derive(Debug, Default)]
pub struct Changes {
    pub must: BTreeMap<String, BTreeSet<String>>,
    pub may: BTreeMap<String, BTreeSet<String>>,
}

/// How to test one platform. Every connector's settings accept `page_size` and
/// `requests_per_second` (overriding the documented budget); the checks rely on both.
pub trait Fixture {
    const PLATFORM: &'static str;
    /// The fake, with enough records that every stream spans several pages.
    fn sandbox(seed: u64) -> SandboxConfig;
    /// The credentials a connection to the fake holds.
    fn credentials(sandbox: &Sandbox) -> Value;
    /// The connection's settings: the fake's base URL, a small page size, and `extra` merged in.
    fn config(sandbox: &Sandbox, base_url: &str, extra: &Value) -> Value;
    /// The records a full backup of `stream` must contain.
    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value>;
    /// A record's platform id.
    fn id(record: &Value) -> String {
        match &record["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
    /// Changes the platform's data as its users would between two runs.
    fn mutate(sandbox: &Sandbox) -> Changes;
    /// Revokes the connection's credential on the platform's side.
    fn revoke(sandbox: &Sandbox);
    /// For a record of a `files` stream: the bytes its file must download as (for exported
    /// documents, the exported bytes); `None` for a record without contents (a folder).
    fn file_contents(_sandbox: &Sandbox, _stream: &str, _record: &Value) -> Option<Vec<u8>> {
        None
    }
}

pub struct Env {
    pub sandbox: Sandbox,
    pub running: RunningSandbox,
}

pub async fn env<F: Fixture>(seed: u64) -> Env {
    let sandbox = Sandbox::new(F::sandbox(seed)).expect("sandbox config");
    let running = sandbox
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox serves");
    Env { sandbox, running }
}

/// The connector under test; quick in-process retries so fault tests stay short.
pub fn connector<F: Fixture>(env: &Env, extra: &Value) -> Arc<dyn Connector> {
    let retry = RetrySettings {
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(2),
        ..RetrySettings::default()
    };
    let config = F::config(&env.sandbox, &env.running.base_url(), extra);
    connectors::build(
        F::PLATFORM,
        &F::credentials(&env.sandbox),
        &config,
        &HttpClient::new(retry).allowing_private_networks(true),
    )
    .expect("connector builds")
}

/// Reads a whole stream; returns the records and the cursor reached.
pub async fn read_stream(
    c: &dyn Connector,
    stream: &str,
    since: Option<Value>,
) -> Result<(Vec<Value>, Option<Value>), ConnectorError> {
    let mut request = PageRequest {
        stream: stream.into(),
        since,
        ..Default::default()
    };
    let mut records = Vec::new();
    for _ in 0..100_000 {
        let page = c.read_page(&request).await?;
        for r in &page.records {
            records.push(serde_json::from_str::<Value>(r.json.get()).expect("records are JSON"));
        }
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => return Ok((records, request.cursor)),
        }
    }
    panic!("{stream}: pagination never ended");
}

fn by_id<F: Fixture>(records: &[Value]) -> BTreeMap<String, Value> {
    let mut map = BTreeMap::new();
    for r in records {
        let previous = map.insert(F::id(r), r.clone());
        assert!(previous.is_none(), "record {} returned twice", F::id(r));
    }
    map
}

fn streams<F: Fixture>() -> Vec<&'static connectors::StreamInfo> {
    connectors::platform(F::PLATFORM)
        .expect("platform registered")
        .streams
        .iter()
        .collect()
}

pub async fn full_backup_equals_dataset<F: Fixture>() {
    let env = env::<F>(101).await;
    let c = connector::<F>(&env, &Value::Null);
    c.check().await.expect("credentials check");
    for stream in streams::<F>() {
        let (records, _) = read_stream(c.as_ref(), stream.name, None)
            .await
            .expect("full read");
        let expected = F::dataset(&env.sandbox, stream.name);
        assert!(
            !expected.is_empty(),
            "{}: the fixture's dataset is empty",
            stream.name
        );
        assert_eq!(
            by_id::<F>(&records),
            by_id::<F>(&expected),
            "{}: a full backup equals the dataset",
            stream.name
        );
    }
}

pub async fn sync_after_changes_captures_them<F: Fixture>() {
    let env = env::<F>(202).await;
    let c = connector::<F>(&env, &Value::Null);
    let mut cursors = BTreeMap::new();
    for stream in streams::<F>().into_iter().filter(|s| s.incremental) {
        let (_, cursor) = read_stream(c.as_ref(), stream.name, None)
            .await
            .expect("full read");
        cursors.insert(stream.name, cursor);
    }
    let changes = F::mutate(&env.sandbox);
    for (stream, cursor) in cursors {
        let (records, next) = read_stream(c.as_ref(), stream, cursor.clone())
            .await
            .expect("sync read");
        let got: BTreeSet<String> = by_id::<F>(&records).into_keys().collect();
        let must = changes.must.get(stream).cloned().unwrap_or_default();
        let may = changes.may.get(stream).cloned().unwrap_or_default();
        assert!(
            must.is_subset(&got),
            "{stream}: the sync missed {:?}",
            must.difference(&got).collect::<Vec<_>>()
        );
        let extra: Vec<&String> = got
            .iter()
            .filter(|id| !must.contains(*id) && !may.contains(*id))
            .collect();
        assert!(
            extra.is_empty(),
            "{stream}: the sync returned unchanged records {extra:?}"
        );
        if !must.is_empty() {
            assert_ne!(
                next, cursor,
                "{stream}: the cursor advances past the changes"
            );
        }
    }
}

pub async fn faults_do_not_change_the_result<F: Fixture>() {
    let env = env::<F>(303).await;
    let c = connector::<F>(&env, &Value::Null);
    env.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(3),
        retry_after_secs: 1,
        server_error_every: Some(5),
        ..FaultPlan::default()
    });
    for stream in streams::<F>() {
        let (records, _) = read_stream(c.as_ref(), stream.name, None)
            .await
            .expect("read despite faults");
        assert_eq!(
            by_id::<F>(&records),
            by_id::<F>(&F::dataset(&env.sandbox, stream.name)),
            "{}",
            stream.name
        );
    }
    let stats = env.sandbox.stats();
    assert!(
        stats.rate_limited > 0 && stats.server_errors > 0,
        "faults were injected: {stats:?}"
    );
}

pub async fn revoked_credentials_fail_fast<F: Fixture>() {
    let env = env::<F>(404).await;
    let c = connector::<F>(&env, &Value::Null);
    F::revoke(&env.sandbox);
    let stream = streams::<F>()[0].name;
    let before = env.sandbox.stats().requests;
    let err = c
        .read_page(&PageRequest {
            stream: stream.into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert!(
        !err.is_temporary(),
        "a revoked credential is not retried: {err}"
    );
    assert!(
        matches!(
            err.kind,
            connectors::ErrorKind::Unauthorized | connectors::ErrorKind::Forbidden
        ),
        "reported as an auth failure: {err:?}"
    );
    // At most one preparatory request and the refused one: no retry loop.
    let requests = env.sandbox.stats().requests - before;
    assert!(
        requests <= 2,
        "it fails at once, not after {requests} requests"
    );
}

pub async fn the_rate_limit_is_never_exceeded<F: Fixture>() {
    const PER_SECOND: u32 = 20;
    let env = env::<F>(505).await;
    env.sandbox.set_faults(FaultPlan {
        max_requests_per_sec: Some(PER_SECOND),
        ..FaultPlan::default()
    });
    // Small pages: many more requests than the platform's burst allowance.
    let c = connector::<F>(
        &env,
        &serde_json::json!({"requests_per_second": PER_SECOND, "page_size": 10}),
    );
    let started = Instant::now();
    for stream in streams::<F>() {
        read_stream(c.as_ref(), stream.name, None)
            .await
            .expect("read");
    }
    let stats = env.sandbox.stats();
    assert_eq!(
        stats.rate_limited, 0,
        "the platform never had to throttle: {stats:?}"
    );
    let floor = Duration::from_secs_f64(
        (stats.requests.saturating_sub(1)) as f64 / f64::from(PER_SECOND) * 0.9,
    );
    assert!(
        started.elapsed() >= floor,
        "requests were paced ({} requests in {:?})",
        stats.requests,
        started.elapsed()
    );
}

/// Every record of a `files` stream that has contents carries a [`connectors::FileRef`], and
/// downloading it yields exactly the platform's bytes; records without contents carry none.
pub async fn files_download_as_stored<F: Fixture>() {
    let env = env::<F>(606).await;
    let c = connector::<F>(&env, &Value::Null);
    for stream in streams::<F>().into_iter().filter(|s| s.files) {
        let mut request = PageRequest {
            stream: stream.name.into(),
            ..Default::default()
        };
        let mut downloaded = 0;
        loop {
            let page = c.read_page(&request).await.expect("read");
            for r in &page.records {
                let json: Value = serde_json::from_str(r.json.get()).expect("records are JSON");
                let expected = F::file_contents(&env.sandbox, stream.name, &json);
                match (&r.file, expected) {
                    (Some(file), Some(expected)) => {
                        let got = download_all(c.as_ref(), file).await.expect("download");
                        assert!(
                            got == expected,
                            "{}/{}: downloaded {} bytes, the platform holds {}",
                            stream.name,
                            r.id,
                            got.len(),
                            expected.len()
                        );
                        downloaded += 1;
                    }
                    (None, None) => {}
                    (file, expected) => panic!(
                        "{}/{}: file reference {file:?} but contents expected: {}",
                        stream.name,
                        r.id,
                        expected.is_some()
                    ),
                }
            }
            request.cursor = page.cursor;
            match page.next_page_token {
                Some(t) => request.page_token = Some(t),
                None => break,
            }
        }
        assert!(downloaded > 0, "{}: the dataset has files", stream.name);
    }
}

/// Downloads a whole file into memory (test sizes only).
pub async fn download_all(
    c: &dyn Connector,
    file: &connectors::FileRef,
) -> Result<Vec<u8>, ConnectorError> {
    use futures::StreamExt;
    let mut body = c.download(file).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

/// Tokens the sandbox's authorization server issued for `platform`, as an OAuth connection
/// holds them.
pub fn oauth_credentials(sandbox: &Sandbox, platform: &str) -> Value {
    let issued = sandbox.oauth().issue(platform);
    connectors::oauth::TokenSet {
        access_token: issued.access_token,
        refresh_token: Some(issued.refresh_token),
        expires_at: Some(issued.expires_at),
        obtained_at: None,
    }
    .to_credentials()
}

/// The `oauth_app` setting that sends an OAuth connector to the sandbox's authorization
/// server for `platform`.
pub fn sandbox_oauth_app(base_url: &str, platform: &str) -> Value {
    serde_json::json!({
        "client_id": sandbox::oauth::CLIENT_ID,
        "client_secret": sandbox::oauth::CLIENT_SECRET,
        "authorize_url": format!("{base_url}/oauth/{platform}/authorize"),
        "token_url": format!("{base_url}/oauth/{platform}/token"),
    })
}

/// Instantiates every check for a fixture.
#[macro_export]
macro_rules! conformance {
    ($fixture:ty) => {
        #[tokio::test]
        async fn full_backup_equals_dataset() {
            $crate::harness::full_backup_equals_dataset::<$fixture>().await
        }
        #[tokio::test]
        async fn sync_after_changes_captures_them() {
            $crate::harness::sync_after_changes_captures_them::<$fixture>().await
        }
        #[tokio::test]
        async fn faults_do_not_change_the_result() {
            $crate::harness::faults_do_not_change_the_result::<$fixture>().await
        }
        #[tokio::test]
        async fn revoked_credentials_fail_fast() {
            $crate::harness::revoked_credentials_fail_fast::<$fixture>().await
        }
        #[tokio::test]
        async fn the_rate_limit_is_never_exceeded() {
            $crate::harness::the_rate_limit_is_never_exceeded::<$fixture>().await
        }
        #[tokio::test]
        async fn files_download_as_stored() {
            $crate::harness::files_download_as_stored::<$fixture>().await
        }
    };
}
