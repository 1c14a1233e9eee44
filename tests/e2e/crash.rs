//! A worker SIGKILLed mid-extraction: another one finishes the job from the last committed part.

use crate::harness::*;
use entities::snapshot_part;
use sandbox::{FaultPlan, SandboxConfig};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_is_replaced_and_the_backup_resumes_without_duplicates() {
    let config = SandboxConfig::new(23)
        .with_records("stripe.customers", 10_000)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    // Slow pages, so the kill lands in the middle of the customers stream.
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 60,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("first worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = get_job(&stack, &tenant, &job_id).await.unwrap();
    let snapshot_id = job["snapshot_id"].as_str().unwrap().to_owned();

    // Wait until some customer parts are committed, then kill the worker outright.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let committed = snapshot_part::Entity::find()
            .filter(snapshot_part::Column::SnapshotId.eq(snapshot_id.as_str()))
            .filter(snapshot_part::Column::Stream.eq("customers"))
            .count(&stack.db)
            .await
            .unwrap();
        if committed >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no parts committed in time\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stack.kill_worker(0);
    let requests_before = stack.sandbox.stats().requests;
    let status = get_job(&stack, &tenant, &job_id).await.unwrap();
    assert_eq!(
        status["status"], "running",
        "the job was mid-flight when the worker died"
    );

    stack.sandbox.set_faults(FaultPlan::default());
    stack.spawn_worker().expect("second worker");
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 1).await;

    let manifest = assert_snapshot_is_dataset(&stack, &tenant, &snapshot_id)
        .await
        .expect("snapshot");

    // No part was stored under a key the manifest does not list (so never twice under
    // different keys), and the second worker resumed instead of starting over.
    let manifest_keys: HashSet<String> = manifest
        .streams
        .iter()
        .flat_map(|s| s.parts.iter().map(|p| p.key.clone()))
        .collect();
    for key in stack
        .puts
        .keys()
        .into_iter()
        .filter(|k| k.contains("/streams/"))
    {
        assert!(
            manifest_keys.contains(&key),
            "{key} was written but is not in the manifest"
        );
    }
    let log = stack.worker_log(1);
    assert!(
        log.contains("resuming after committed part"),
        "the second worker resumed:\n{log}"
    );
    let pages_total = stripe_pages(&stack.sandbox, &sandbox::stripe::STREAMS);
    let requests_after = stack.sandbox.stats().requests - requests_before;
    assert!(
        requests_after < pages_total,
        "the second worker fetched {requests_after} pages; starting over would take {pages_total}"
    );
    stack.shutdown().await;
}
