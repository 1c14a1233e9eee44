//! Two worker processes, twenty concurrent jobs on one rotating-refresh-token connection: the
//! connection's rate budget holds for both workers together (the platform never throttles),
//! each expiry of the access token costs exactly one refresh, and every job succeeds with a
//! snapshot equal to the dataset.

use crate::harness::*;
use entities::repo;
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

const JOBS: usize = 20;
/// Keap's spike arrest in this test, and the connection's budget.
const RATE: u32 = 5;

/// Polls `check` every 50 ms until it holds, or fails after `patience`.
async fn until(what: &str, patience: Duration, check: impl Fn() -> bool) {
    let deadline = Instant::now() + patience;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not after {patience:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that a Keap snapshot holds every record of the sandbox's dataset, once, unchanged.
async fn assert_keap_snapshot(stack: &Stack, tenant: &Tenant, source_id: &str, job: &Value) {
    let snapshot_id = job["snapshot_id"].as_str().expect("snapshot id");
    let (manifest, streams) = read_snapshot_of(stack, tenant, source_id, snapshot_id)
        .await
        .expect("snapshot reads back");
    assert_eq!(manifest.streams.len(), sandbox::keap::STREAMS.len());
    for stream in sandbox::keap::STREAMS {
        let expected: Vec<Value> = stack.sandbox.keap().records(stream).collect();
        let got = &streams[stream];
        assert_eq!(
            manifest.stream(stream).expect("stream in manifest").records,
            expected.len() as u64,
            "{stream}: manifest count"
        );
        assert!(got == &expected, "{stream}: records equal the dataset");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_one_rate_budget_and_one_refresh_per_expiry() {
    // A small dataset (about eight requests a job) under a tight limit: the spike arrest and the
    // connection's budget at 5 requests/s, which twenty jobs easily outrun, so two workers each
    // pacing alone (5/s apiece) would be throttled within seconds.
    let mut config = SandboxConfig::new(66);
    for stream in sandbox::keap::STREAMS {
        let n = if stream == "contacts" { 12 } else { 7 };
        config = config.with_records(&format!("keap.{stream}"), n).unwrap();
    }
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    stack.sandbox.keap().set_spike_limit(Some(RATE));
    let tenant = stack.provision().await.expect("provision");

    let base = stack.sandbox_url();
    let credentials = sandbox_grant(&stack.sandbox, "keap");
    let settings = json!({
        "base_url": base,
        "page_size": 10,
        "requests_per_second": RATE,
        "oauth_app": sandbox_oauth_app(&base, "keap"),
    });
    let sealed = stack.master.seal_string(&credentials.to_string()).unwrap();
    let conn = repo::create_connection(
        &stack.db,
        &tenant.account_id,
        "keap",
        "Keap",
        sealed,
        settings,
    )
    .await
    .unwrap();
    let mut sources = Vec::new();
    for n in 0..JOBS {
        let source = repo::create_source(&stack.db, &conn, &format!("Keap {n}"), &[])
            .await
            .unwrap();
        sources.push(source.id);
    }
    stack.spawn_worker().expect("worker 0");
    stack.spawn_worker().expect("worker 1");

    let mut jobs = Vec::new();
    for source_id in &sources {
        jobs.push(start_backup_of(&stack, &tenant, source_id).await.unwrap());
    }

    // The access token expires mid-run: the platform's clock jumps past its life while every
    // job holds it, between pages or waiting for its slot.
    let sandbox = &stack.sandbox;
    until("jobs under way", Duration::from_secs(60), || {
        sandbox.stats().ok >= 40
    })
    .await;
    sandbox.oauth().advance(2 * 24 * 3600);

    let mut finished = BTreeMap::new();
    for (source_id, job_id) in sources.iter().zip(&jobs) {
        let job = expect_success(&stack, &tenant, job_id, Duration::from_secs(180), 0).await;
        finished.insert(source_id.clone(), job);
    }
    let stats = stack.sandbox.stats();
    assert_eq!(
        stack.sandbox.oauth().refresh_count(),
        1,
        "one expiry, one refresh, across {JOBS} jobs and two workers"
    );
    assert_eq!(
        stats.rate_limited, 0,
        "the platform never throttled the two workers: {stats:?}"
    );
    assert!(
        stats.requests >= 120,
        "the run was long enough to overrun an unshared budget: {stats:?}"
    );
    assert!(
        stats.unauthorized >= 1,
        "the expiry was noticed mid-run: {stats:?}"
    );
    for worker in 0..2 {
        assert!(
            stack.worker_log(worker).contains("part committed"),
            "worker {worker} took part in the run"
        );
    }
    for (source_id, job) in &finished {
        assert_keap_snapshot(&stack, &tenant, source_id, job).await;
    }
    stack.shutdown().await;
}
