//! Cancelling a running backup keeps what is committed; retrying continues the same snapshot.

use crate::harness::*;
use entities::{SnapshotStatus, snapshot};
use sandbox::{FaultPlan, SandboxConfig};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use std::time::Duration;

async fn post(stack: &Stack, tenant: &Tenant, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_backup_is_retried_from_its_committed_parts() {
    let config = SandboxConfig::new(31)
        .with_records("stripe.customers", 10_000)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 40,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let snapshot_id = get_job(&stack, &tenant, &job_id).await.unwrap()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Only a failed or cancelled job can be retried.
    let (status, body) = post(
        &stack,
        &tenant,
        &format!("/v1/jobs/{job_id}/retry"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    wait_for_parts(&stack, &snapshot_id, 2).await;
    let (status, body) = post(
        &stack,
        &tenant,
        &format!("/v1/jobs/{job_id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let cancelled = wait_for_job(&stack, &tenant, &job_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert!(
        cancelled["error"]
            .as_str()
            .unwrap()
            .contains("cancelled by api_key:"),
        "{cancelled}"
    );
    let snap = snapshot::Entity::find_by_id(&snapshot_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.status, SnapshotStatus::Cancelled);
    let manifest_key =
        storage::layout::manifest_key(&tenant.account_id, &tenant.source_id, &snapshot_id);
    assert!(
        stack.store.get_opt(&manifest_key).await.unwrap().is_none(),
        "no manifest for a cancelled snapshot"
    );
    let (status, _) = post(
        &stack,
        &tenant,
        &format!("/v1/jobs/{job_id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, 409, "a finished job cannot be cancelled");

    // Retry, leaving one stream out: the new job continues the same snapshot.
    stack.sandbox.set_faults(FaultPlan::default());
    let requests_before = stack.sandbox.stats().requests;
    let (status, body) = post(
        &stack,
        &tenant,
        &format!("/v1/jobs/{job_id}/retry"),
        json!({"skip_streams": ["unicorns"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(
        &stack,
        &tenant,
        &format!("/v1/jobs/{job_id}/retry"),
        json!({"skip_streams": ["subscriptions"]}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let retry_id = body["job_id"].as_str().unwrap().to_owned();
    let retried = expect_success(&stack, &tenant, &retry_id, Duration::from_secs(240), 0).await;
    assert_eq!(retried["retry_of"], job_id.as_str());
    assert_eq!(
        retried["snapshot_id"],
        snapshot_id.as_str(),
        "the retry completes the same snapshot"
    );

    let streams: Vec<&str> = sandbox::stripe::STREAMS
        .into_iter()
        .filter(|s| *s != "subscriptions")
        .collect();
    assert_snapshot_streams(&stack, &tenant, &snapshot_id, &streams)
        .await
        .expect("snapshot");
    let pages_total = stripe_pages(&stack.sandbox, &streams);
    let requests = stack.sandbox.stats().requests - requests_before;
    assert!(
        requests < pages_total,
        "the retry fetched {requests} pages; starting over would take {pages_total}"
    );
    stack.shutdown().await;
}
