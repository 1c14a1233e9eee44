//! What an operator does to a run with the `temporal` CLI, as `docs/operations.md` tells it:
//! a reset run carries on and its job follows it; a terminated run's job does not stay `running`
//! for ever, blocking its source.

use crate::harness::*;
use entities::job;
use sandbox::{FaultPlan, SandboxConfig};
use sea_orm::EntityTrait;
use std::{process::Command, time::Duration};

/// Runs `temporal workflow <args>` against the stack's server, as an operator would.
fn temporal_workflow(stack: &Stack, args: &[&str]) {
    let out = Command::new(temporal_exe())
        .arg("workflow")
        .args(args)
        .args([
            "--address",
            &stack.temporal.target,
            "--namespace",
            "default",
        ])
        .output()
        .expect("the temporal CLI runs");
    assert!(
        out.status.success(),
        "temporal workflow {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn job_row(stack: &Stack, job_id: &str) -> job::Model {
    job::Entity::find_by_id(job_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_run_is_followed_and_a_terminated_run_ends_its_job() {
    let config = SandboxConfig::new(17)
        .with_records("stripe.customers", 3_000)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 40,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    let temporal = stack.client.clone();
    stack.spawn_worker().expect("worker");

    // Reset: the worker dies mid-run, the operator resets the run to its last workflow task
    // and starts a worker again. The job follows the new run and completes the same snapshot.
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let before = job_row(&stack, &job_id).await;
    wait_for_parts(&stack, &before.snapshot_id, 2).await;
    stack.kill_worker(0);
    temporal_workflow(
        &stack,
        &[
            "reset",
            "--workflow-id",
            &before.workflow_id,
            "--type",
            "LastWorkflowTask",
            "--reason",
            "operator reset after a worker crash",
        ],
    );
    let passed = api::reconcile::reconcile_once(&stack.db, &temporal, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(passed.relinked, 1, "{passed:?}");
    assert_eq!(passed.ended, 0, "{passed:?}");
    let relinked = job_row(&stack, &job_id).await;
    assert_ne!(
        relinked.run_id, before.run_id,
        "the job follows the new run"
    );
    stack.sandbox.set_faults(FaultPlan::default());
    stack.spawn_worker().expect("second worker");
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(180), 1).await;
    assert_snapshot_is_dataset(&stack, &tenant, &before.snapshot_id)
        .await
        .expect("the reset run's snapshot is the dataset");

    // Terminate: the run ends without recording anything; the pass ends the job, and the
    // source takes a new backup.
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 40,
        ..FaultPlan::default()
    });
    let job_id = start_backup(&stack, &tenant).await.expect("second backup");
    let running = job_row(&stack, &job_id).await;
    wait_for_parts(&stack, &running.snapshot_id, 1).await;
    temporal_workflow(
        &stack,
        &[
            "terminate",
            "--workflow-id",
            &running.workflow_id,
            "--reason",
            "terminated by an operator",
        ],
    );
    let passed = api::reconcile::reconcile_once(&stack.db, &temporal, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(passed.ended, 1, "{passed:?}");
    let ended = get_job(&stack, &tenant, &job_id).await.unwrap();
    assert_eq!(ended["status"], "failed", "{ended}");
    assert!(
        ended["error"].as_str().unwrap().contains("terminated"),
        "{ended}"
    );
    let snapshot = entities::snapshot::Entity::find_by_id(running.snapshot_id.clone())
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.status, entities::SnapshotStatus::Failed);
    // Nothing more to do on a second pass.
    let again = api::reconcile::reconcile_once(&stack.db, &temporal, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(again, api::reconcile::Reconciled::default());

    stack.sandbox.set_faults(FaultPlan::default());
    let next = start_backup(&stack, &tenant)
        .await
        .expect("the source is free again");
    expect_success(&stack, &tenant, &next, Duration::from_secs(180), 1).await;
    stack.shutdown().await;
}
