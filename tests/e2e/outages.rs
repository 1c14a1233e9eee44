//! Outages mid-backup: the database ending every connection, the object store down for 30
//! seconds, a platform throttling, failing, cutting answers short and answering too slowly.
//! Each backup still succeeds with exactly the dataset, the job's counts, and no part stored
//! outside the manifest. (An access token expiring mid-run and a revoked grant are in `oauth`.)

use crate::harness::*;
use sandbox::{FaultPlan, SandboxConfig};
use serde_json::Value;
use std::{collections::BTreeSet, time::Duration};

fn customers(seed: u64, n: u64) -> SandboxConfig {
    SandboxConfig::new(seed)
        .with_records("stripe.customers", n)
        .expect("valid records spec")
}

async fn snapshot_of(stack: &Stack, tenant: &Tenant, job_id: &str) -> String {
    get_job(stack, tenant, job_id).await.expect("job")["snapshot_id"]
        .as_str()
        .expect("a snapshot")
        .to_owned()
}

/// The job has the dataset's count, its snapshot is exactly the dataset, and the store holds
/// exactly the manifest's parts: every part written is listed, none orphaned.
async fn assert_exact_backup(stack: &Stack, tenant: &Tenant, job: &Value) {
    assert_eq!(job["records"], stripe_records(&stack.sandbox), "{job}");
    let snapshot_id = job["snapshot_id"].as_str().expect("a snapshot");
    let manifest = assert_snapshot_is_dataset(stack, tenant, snapshot_id)
        .await
        .expect("snapshot");
    let listed: BTreeSet<String> = manifest.object_keys().map(str::to_owned).collect();
    let written: BTreeSet<String> = stack
        .puts
        .keys()
        .into_iter()
        .filter(|k| k.contains("/streams/"))
        .collect();
    assert_eq!(written, listed, "the parts written are the manifest's");
    let prefix =
        storage::layout::snapshot_prefix(&tenant.account_id, &tenant.source_id, snapshot_id);
    let stored: BTreeSet<String> = stack
        .store
        .list(&format!("{prefix}streams/"))
        .await
        .expect("list")
        .into_iter()
        .collect();
    assert_eq!(
        stored, listed,
        "the store holds the manifest's parts, no others"
    );
}

async fn get_ok(stack: &Stack, tenant: &Tenant, path: &str) {
    let r = http()
        .get(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("the API answers");
    assert_eq!(r.status(), 200, "GET {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_survives_postgres_ending_every_connection_twice() {
    let mut stack = Stack::start(Db::Postgres, customers(41, 10_000))
        .await
        .expect("stack");
    // Slow pages, so both kills land during extraction.
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 40,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let snapshot_id = snapshot_of(&stack, &tenant, &job_id).await;

    let mut parts = 1;
    for kill in 1..=2 {
        parts = wait_for_parts(&stack, &snapshot_id, parts + 1).await;
        let job = get_job(&stack, &tenant, &job_id).await.expect("job");
        assert_eq!(job["status"], "running", "kill {kill} lands mid-run");
        let ended = stack.terminate_db_connections().await.expect("terminate");
        assert!(
            ended >= 2,
            "kill {kill}: the API's and the worker's connections: {ended}"
        );
        // The API's next requests find their pooled connections gone and use new ones.
        get_job(&stack, &tenant, &job_id)
            .await
            .expect("the job is readable right after the kill");
        let jobs = format!("/v1/accounts/{}/jobs", tenant.account_id);
        get_ok(&stack, &tenant, &jobs).await;
        get_ok(
            &stack,
            &tenant,
            &format!("/v1/sources/{}", tenant.source_id),
        )
        .await;
    }
    stack.sandbox.set_faults(FaultPlan::default());
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(120), 0).await;
    assert_exact_backup(&stack, &tenant, &job).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_waits_out_the_object_store_down_for_30_seconds() {
    let mut stack = Stack::start(Db::Sqlite, customers(43, 10_000))
        .await
        .expect("stack");
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 60,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let snapshot_id = snapshot_of(&stack, &tenant, &job_id).await;

    wait_for_parts(&stack, &snapshot_id, 2).await;
    stack.stop_s3().await;
    let written = stack.puts.keys().len();
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        stack.puts.keys().len(),
        written,
        "nothing stored while down"
    );
    let job = get_job(&stack, &tenant, &job_id).await.expect("job");
    assert_eq!(
        job["status"], "running",
        "the job waits for the store: {job}"
    );
    let log = stack.worker_log(0);
    assert!(
        log.contains("StorageError"),
        "part uploads failed and were retried:\n{log}"
    );

    stack.restart_s3().await.expect("the store is back");
    stack.sandbox.set_faults(FaultPlan::default());
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(120), 0).await;
    assert_exact_backup(&stack, &tenant, &job).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_rides_out_throttling_5xx_resets_and_timeouts() {
    let mut stack = Stack::start(Db::Postgres, customers(47, 1_000))
        .await
        .expect("stack");
    // Bursts of two: 429s with and without Retry-After, 500/502/503 in turn, answers cut off
    // mid-body, and answers held past the worker's 2-second timeout; every page pretty-printed
    // (records stored compact, one per line).
    stack.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(23),
        retry_after_secs: 1,
        bare_rate_limit_every: Some(19),
        server_error_every: Some(13),
        server_error_statuses: vec![500, 502, 503],
        reset_every: Some(29),
        slow_every: Some(37),
        slow_ms: 4_000,
        burst: 2,
        pretty_json: true,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack
        .spawn_worker_with(&[("LISTBACKUP_PLATFORM_TIMEOUT_SECS", "2")])
        .expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(150), 0).await;

    let stats = stack.sandbox.stats();
    assert!(stats.rate_limited >= 4, "429s, both kinds: {stats:?}");
    assert!(stats.server_errors >= 3, "500, 502 and 503: {stats:?}");
    assert!(stats.resets >= 2, "answers cut off: {stats:?}");
    let log = stack.worker_log(0);
    let timeouts = log.matches("operation timed out").count();
    assert!(timeouts >= 2, "slow answers timed out ({timeouts}):\n{log}");
    assert_exact_backup(&stack, &tenant, &job).await;
    stack.shutdown().await;
}
