//! Immutable backups against `moto_server`, an S3 implementation with Object Lock: with a lock
//! configured, every object of a snapshot is written retained (governance mode here), a
//! retained part cannot be deleted, and retention keeps an expired snapshot whole while its
//! objects are retained, then deletes every version of them in a run after.

use crate::harness::*;
use crate::retention::{ids_of, put_policy, run_retention};
use aws_sdk_s3::types::ObjectLockMode;
use entities::snapshot;
use sandbox::SandboxConfig;
use sea_orm::EntityTrait;
use serde_json::json;
use std::{collections::BTreeSet, time::Duration};
use storage::layout;

/// Long enough that two small backups and a retention run finish inside it on a loaded
/// machine; the test waits it out once.
const LOCK_SECS: i64 = 90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_lock_retains_snapshots_and_retention_waits_for_it() {
    let config = SandboxConfig::new(67)
        .with_records("stripe.customers", 200)
        .unwrap();
    let mut stack = Stack::start_on(Db::Postgres, config, Store::MotoWithObjectLock)
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let period = format!("{LOCK_SECS}s");
    stack
        .spawn_worker_with(&[
            ("LISTBACKUP_S3_OBJECT_LOCK_MODE", "governance"),
            ("LISTBACKUP_S3_OBJECT_LOCK_PERIOD", &period),
        ])
        .expect("worker");
    let mut snapshots = Vec::new();
    for _ in 0..2 {
        let job_id = start_backup(&stack, &tenant).await.unwrap();
        let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
        snapshots.push(job["snapshot_id"].as_str().unwrap().to_owned());
    }
    let (old, kept) = (snapshots[0].clone(), snapshots[1].clone());
    let prefix = layout::snapshot_prefix(&tenant.account_id, &tenant.source_id, &old);
    let client = stack.store.client();

    // Every object of the snapshot, manifest and parts, is retained in governance mode.
    let keys = stack.store.list(&prefix).await.unwrap();
    assert!(
        keys.iter().any(|k| k.ends_with("manifest.json")) && keys.len() > 2,
        "{keys:?}"
    );
    for key in &keys {
        let head = client
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.object_lock_mode(), Some(&ObjectLockMode::Governance));
        let until = head.object_lock_retain_until_date().unwrap().secs();
        assert!(
            until > chrono::Utc::now().timestamp() + 5,
            "{key} retained until {until}"
        );
    }

    // Deleting a retained part's data (its version) is refused by the store.
    let part = keys.iter().find(|k| k.contains("/streams/")).unwrap();
    let version = client
        .head_object()
        .bucket(BUCKET)
        .key(part)
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_owned();
    let refused = client
        .delete_object()
        .bucket(BUCKET)
        .key(part)
        .version_id(&version)
        .send()
        .await
        .expect_err("a retained version cannot be deleted");
    assert_eq!(
        refused.raw_response().map(|r| r.status().as_u16()),
        Some(403)
    );

    // Retention expires the older snapshot but keeps it whole while it is retained.
    put_policy(
        &stack,
        &tenant,
        &format!("/v1/sources/{}/retention-policy", tenant.source_id),
        json!({"keep_last": 1}),
    )
    .await;
    let run = run_retention(&stack, &tenant).await;
    assert_eq!(run["snapshots_deleted"], json!([]), "{run}");
    assert_eq!(
        ids_of(&run["snapshots_held"]),
        BTreeSet::from([old.clone()]),
        "{run}"
    );
    let until = run["snapshots_held"][0]["retained_until"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .unwrap_or_else(|| panic!("a retain-until date: {run}"));
    assert_eq!(stack.store.list(&prefix).await.unwrap(), keys);
    assert!(
        snapshot::Entity::find_by_id(&old)
            .one(&stack.db)
            .await
            .unwrap()
            .is_some()
    );
    read_snapshot_of(&stack, &tenant, &tenant.source_id, &old)
        .await
        .expect("the held snapshot still reads back whole");

    // After the retention ends, a run deletes it: every version, no delete marker left behind.
    let wait = (until.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_secs(2)).await;
    let run = run_retention(&stack, &tenant).await;
    assert_eq!(
        ids_of(&run["snapshots_deleted"]),
        BTreeSet::from([old.clone()]),
        "{run}"
    );
    assert_eq!(run["snapshots_held"], json!([]), "{run}");
    let versions = client
        .list_object_versions()
        .bucket(BUCKET)
        .prefix(&prefix)
        .send()
        .await
        .unwrap();
    assert!(
        versions.versions().is_empty() && versions.delete_markers().is_empty(),
        "{versions:?}"
    );
    assert!(
        snapshot::Entity::find_by_id(&old)
            .one(&stack.db)
            .await
            .unwrap()
            .is_none()
    );
    // The kept snapshot restores exactly, nothing stray beside it.
    let manifest = assert_snapshot_is_dataset(&stack, &tenant, &kept)
        .await
        .unwrap();
    assert_no_stray_objects(&stack, &tenant, &manifest)
        .await
        .unwrap();
    stack.shutdown().await;
}
