//! Real processes, no simulated crashes: the worker SIGKILLed at four points of a backup (another
//! one finishes the job), and the Temporal server SIGKILLed and restarted mid-run (the same
//! worker and API carry on). Every backup must still hold exactly the dataset, with no object
//! orphaned or stored twice and the job's counts right.

use crate::harness::*;
use sandbox::{FaultPlan, SandboxConfig};
use serde_json::Value;
use std::time::{Duration, Instant};
use storage::{layout, manifest::Manifest};

/// Enough customers for several parts of `LISTBACKUP_PART_SIZE_MB=1`.
const CUSTOMERS: u64 = 4_000;
/// The stream the kill points are placed in: the only one of several parts. Other streams run
/// beside it (a run extracts several at once) and are wherever they are when the worker dies.
const STREAM: &str = "customers";
const PATIENCE: Duration = Duration::from_secs(240);

/// Where the first worker is when it is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillPoint {
    /// A page request in flight at the platform, a part of the stream committed before it.
    Extracting,
    /// Right after a part was committed, before anything of the next one is stored.
    BetweenParts,
    /// The second part's PUT in flight at the S3 endpoint: stored, never answered or recorded.
    Uploading,
    /// The manifest's PUT in flight: stored, never answered, the snapshot not complete.
    Finalizing,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_with_a_page_request_in_flight_is_replaced() {
    kill_worker_and_resume(KillPoint::Extracting).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_right_after_a_part_commit_is_replaced() {
    kill_worker_and_resume(KillPoint::BetweenParts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_during_a_part_upload_is_replaced() {
    kill_worker_and_resume(KillPoint::Uploading).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_writing_the_manifest_is_replaced() {
    kill_worker_and_resume(KillPoint::Finalizing).await;
}

/// Backs up the sandbox, SIGKILLs the worker at `point`, starts another and checks the job
/// finishes from where the first one was, with exactly the dataset.
async fn kill_worker_and_resume(point: KillPoint) {
    let config = SandboxConfig::new(23)
        .with_records("stripe.customers", CUSTOMERS)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let gate = stack.puts.gate().clone();
    let held = format!("/customers/{}", layout::part_file_name(2));
    match point {
        // Slow pages, so the kill lands inside the customers stream.
        KillPoint::Extracting | KillPoint::BetweenParts => stack.sandbox.set_faults(FaultPlan {
            delay_ms: 80,
            ..FaultPlan::default()
        }),
        KillPoint::Uploading => gate.hold(&held),
        KillPoint::Finalizing => gate.hold("/manifest.json"),
    }
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("first worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = get_job(&stack, &tenant, &job_id).await.unwrap();
    let snapshot_id = job["snapshot_id"].as_str().unwrap().to_owned();

    match point {
        KillPoint::Extracting | KillPoint::BetweenParts => {
            wait_until(&stack, "a part committed", async || {
                committed_parts_of(&stack, &snapshot_id, Some(STREAM)).await >= 1
            })
            .await;
            if point == KillPoint::Extracting {
                // Two more pages answered: the request in flight now is inside the next part.
                let answered = stack.sandbox.stats().requests;
                wait_until(&stack, "a page request in flight", async || {
                    stack.sandbox.stats().requests >= answered + 2
                        && stack.sandbox.requests_in_flight() > 0
                })
                .await;
            }
        }
        KillPoint::Uploading | KillPoint::Finalizing => {
            let held = gate.wait_held(1, PATIENCE).await;
            assert!(held, "no PUT reached the gate\n{}", stack.worker_log(0));
        }
    }
    stack.kill_worker(0);
    let parts_at_kill = committed_parts_of(&stack, &snapshot_id, Some(STREAM)).await;
    let stored_at_kill = stream_puts(&stack, Some(STREAM));
    match point {
        KillPoint::Extracting | KillPoint::BetweenParts => assert_eq!(
            stored_at_kill, parts_at_kill,
            "the kill landed before the next part was stored"
        ),
        KillPoint::Uploading => assert_eq!(
            (parts_at_kill, stored_at_kill),
            (1, 2),
            "the second part was stored but not recorded"
        ),
        KillPoint::Finalizing => {
            assert_eq!(
                stream_puts(&stack, None),
                committed_parts(&stack, &snapshot_id).await,
                "every part was committed"
            );
            let key = layout::manifest_key(&tenant.account_id, &tenant.source_id, &snapshot_id);
            let manifest = stack.store.get_opt(&key).await.unwrap();
            assert!(manifest.is_some(), "the manifest was stored");
        }
    }
    let status = get_job(&stack, &tenant, &job_id).await.unwrap();
    assert_eq!(status["status"], "running", "the job was mid-flight");

    stack.sandbox.set_faults(FaultPlan::default());
    let requests_before = stack.sandbox.stats().requests;
    stack.spawn_worker().expect("second worker");
    gate.release();
    let job = expect_success(&stack, &tenant, &job_id, PATIENCE, 1).await;
    assert_exact_backup(&stack, &tenant, &job, &snapshot_id).await;
    if point == KillPoint::Uploading {
        let rewritten = (stack.puts.keys().iter())
            .filter(|k| k.contains(&held))
            .count();
        assert_eq!(
            rewritten, 2,
            "the stored, unrecorded part was written again under its key"
        );
    }

    // The second worker carried on from the committed parts instead of starting over.
    let requests_after = stack.sandbox.stats().requests - requests_before;
    let log = stack.worker_log(1);
    if point == KillPoint::Finalizing {
        assert_eq!(requests_after, 0, "nothing was extracted again:\n{log}");
    } else {
        assert!(
            log.contains("resuming after committed part"),
            "the second worker resumed:\n{log}"
        );
        let pages_total = stripe_pages(&stack.sandbox, &sandbox::stripe::STREAMS);
        assert!(
            requests_after < pages_total,
            "the second worker fetched {requests_after} pages; starting over would take {pages_total}"
        );
    }
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_temporal_server_killed_and_restarted_mid_run_loses_nothing() {
    let config = SandboxConfig::new(29)
        .with_records("stripe.customers", CUSTOMERS)
        .unwrap();
    let mut stack = Stack::start_durable(Db::Postgres, config)
        .await
        .expect("stack");
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 50,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = get_job(&stack, &tenant, &job_id).await.unwrap();
    let snapshot_id = job["snapshot_id"].as_str().unwrap().to_owned();
    wait_until(&stack, "a part committed", async || {
        committed_parts(&stack, &snapshot_id).await >= 1
    })
    .await;

    // Down long enough for the worker's polls and the activity's heartbeats to fail.
    stack
        .restart_temporal(Duration::from_secs(5))
        .await
        .expect("Temporal restarts");
    stack.sandbox.set_faults(FaultPlan::default());
    let job = expect_success(&stack, &tenant, &job_id, PATIENCE, 0).await;
    assert_exact_backup(&stack, &tenant, &job, &snapshot_id).await;
    assert!(stack.worker_alive(0), "the worker outlived the outage");

    // The API's client reconnected too: it starts another backup, which the worker runs.
    let again = start_backup(&stack, &tenant).await.expect("start again");
    let job = expect_success(&stack, &tenant, &again, PATIENCE, 0).await;
    assert_eq!(job["status"], "succeeded");
    stack.shutdown().await;
}

/// The snapshot holds exactly the dataset, nothing under it is stray, and the job counts as many
/// records as the manifest and the dataset.
async fn assert_exact_backup(stack: &Stack, tenant: &Tenant, job: &Value, snapshot_id: &str) {
    let manifest: Manifest = assert_snapshot_is_dataset(stack, tenant, snapshot_id)
        .await
        .expect("snapshot");
    assert_no_stray_objects(stack, tenant, &manifest)
        .await
        .expect("no stray objects");
    let dataset = stripe_records(&stack.sandbox);
    assert_eq!(manifest.records, dataset, "manifest records");
    assert_eq!(job["records"], dataset, "job records: {job}");
}

/// Parts stored (indexes aside): of stream `only`, or of every stream.
fn stream_puts(stack: &Stack, only: Option<&str>) -> u64 {
    let prefix = format!(
        "/streams/{}",
        only.map_or(String::new(), |s| format!("{s}/"))
    );
    let keys = stack.puts.keys();
    keys.iter()
        .filter(|k| k.contains(&prefix) && !layout::is_index_key(k))
        .count() as u64
}

/// Polls `reached` every 10 ms; fails the test after [`PATIENCE`].
async fn wait_until(stack: &Stack, what: &str, mut reached: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !reached().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not in time\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
