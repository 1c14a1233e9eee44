//! Retention through the worker: a policy set through the API, a dry run that deletes nothing,
//! a run that deletes the expired snapshots' objects and rows while the kept one still restores
//! exactly; and retention sweeping blobs again and again while a Dropbox backup runs, after
//! which every blob a complete snapshot names is stored and decrypts to its sha256.

use crate::harness::*;
use entities::{SnapshotStatus, activity_log, snapshot, snapshot_part};
use sandbox::{FaultPlan, SandboxConfig};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};
use storage::{layout, part::open_part, part::sha256_hex};

pub(crate) async fn put_policy(stack: &Stack, tenant: &Tenant, path: &str, body: Value) {
    let r = http()
        .put(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn post_run(stack: &Stack, tenant: &Tenant, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!(
            "{}/v1/accounts/{}/retention/runs",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Starts a run and waits for it to succeed; returns its view.
pub(crate) async fn run_retention(stack: &Stack, tenant: &Tenant) -> Value {
    let (status, started) = post_run(stack, tenant, json!({})).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let run: Value = http()
            .get(format!("{}/v1/retention-runs/{id}", stack.api_base))
            .bearer_auth(&tenant.api_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match run["status"].as_str() {
            Some("succeeded") => return run,
            Some("running") => {}
            _ => panic!("run failed: {run}\n{}", stack.worker_log(0)),
        }
        assert!(
            Instant::now() < deadline,
            "run {id} still running\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn complete_snapshots(stack: &Stack, source_id: &str) -> Vec<snapshot::Model> {
    snapshot::Entity::find()
        .filter(snapshot::Column::SourceId.eq(source_id))
        .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
        .all(&stack.db)
        .await
        .unwrap()
}

pub(crate) fn ids_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["snapshot_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_expired_snapshots_and_kept_ones_restore_exactly() {
    let config = SandboxConfig::new(61)
        .with_records("stripe.customers", 300)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let mut snapshots = Vec::new();
    for _ in 0..3 {
        let job_id = start_backup(&stack, &tenant).await.unwrap();
        let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
        snapshots.push(job["snapshot_id"].as_str().unwrap().to_owned());
    }
    let expired: BTreeSet<String> = snapshots[..2].iter().cloned().collect();
    let kept = snapshots[2].clone();
    put_policy(
        &stack,
        &tenant,
        &format!("/v1/sources/{}/retention-policy", tenant.source_id),
        json!({"keep_last": 1}),
    )
    .await;
    let prefix = |snap: &str| layout::snapshot_prefix(&tenant.account_id, &tenant.source_id, snap);

    // A dry run names them and deletes nothing.
    let before: usize = {
        let mut n = 0;
        for s in &snapshots {
            n += stack.store.list(&prefix(s)).await.unwrap().len();
        }
        n
    };
    let (status, dry) = post_run(&stack, &tenant, json!({"dry_run": true})).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(ids_of(&dry["snapshots_deleted"]), expired);
    assert_eq!(ids_of(&dry["kept"]), BTreeSet::from([kept.clone()]));
    let mut after = 0;
    for s in &snapshots {
        after += stack.store.list(&prefix(s)).await.unwrap().len();
    }
    assert_eq!(after, before, "a dry run deletes no object");
    assert_eq!(complete_snapshots(&stack, &tenant.source_id).await.len(), 3);

    // The run deletes them: objects, rows, and says so in its result and the activity log.
    let run = run_retention(&stack, &tenant).await;
    assert_eq!(ids_of(&run["snapshots_deleted"]), expired, "{run}");
    assert!(run["snapshot_bytes_freed"].as_u64().unwrap() > 0);
    for s in &expired {
        assert!(
            stack.store.list(&prefix(s)).await.unwrap().is_empty(),
            "{s}'s objects are gone"
        );
        assert!(
            snapshot::Entity::find_by_id(s)
                .one(&stack.db)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            snapshot_part::Entity::find()
                .filter(snapshot_part::Column::SnapshotId.eq(s))
                .count(&stack.db)
                .await
                .unwrap(),
            0
        );
    }
    let logged = activity_log::Entity::find()
        .filter(activity_log::Column::Action.eq("snapshot.expired"))
        .count(&stack.db)
        .await
        .unwrap();
    assert_eq!(logged, 2);
    // The kept snapshot restores exactly, and nothing else is left under it.
    let manifest = assert_snapshot_is_dataset(&stack, &tenant, &kept)
        .await
        .unwrap();
    assert_no_stray_objects(&stack, &tenant, &manifest)
        .await
        .unwrap();

    // A second run finds nothing more to delete.
    let again = run_retention(&stack, &tenant).await;
    assert_eq!(again["snapshots_deleted"], json!([]));
    stack.shutdown().await;
}

/// Every blob named by a complete snapshot's manifest: stored, and its plaintext's sha256 is
/// its name. Returns how many were checked.
async fn assert_live_blobs_intact(stack: &Stack, tenant: &Tenant, source_id: &str) -> usize {
    let mut checked = BTreeSet::new();
    for snap in complete_snapshots(stack, source_id).await {
        let (manifest, _) = read_snapshot_of(stack, tenant, source_id, &snap.id)
            .await
            .unwrap_or_else(|e| panic!("snapshot {} reads back: {e:#}", snap.id));
        for (_, part) in manifest.parts() {
            for sha in &part.blobs {
                if !checked.insert(sha.clone()) {
                    continue;
                }
                let key = layout::blob_key(&tenant.account_id, sha);
                let body = stack.store.get_opt(&key).await.unwrap().unwrap_or_else(|| {
                    panic!(
                        "blob {sha} of live snapshot {} was deleted\n{}",
                        snap.id,
                        stack.worker_log(0)
                    )
                });
                let plain = open_part(tenant.key.identity(), &body).unwrap();
                assert_eq!(
                    &sha256_hex(&plain),
                    sha,
                    "blob {sha} decrypts to its contents"
                );
            }
        }
    }
    checked.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_with_a_backup_running_never_deletes_a_blob_a_live_snapshot_needs() {
    let config = SandboxConfig::new(62)
        .with_records("dropbox.files", 24)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let source_id = add_dropbox_source(&stack, &tenant).await.unwrap();
    stack.spawn_worker().expect("worker");
    put_policy(
        &stack,
        &tenant,
        &format!("/v1/sources/{source_id}/retention-policy"),
        json!({"keep_last": 1}),
    )
    .await;
    let dropbox = stack.sandbox.dropbox();
    let files: Vec<String> = dropbox
        .entries()
        .iter()
        .filter(|e| e[".tag"] == "file")
        .map(|e| e["path_display"].as_str().unwrap().to_owned())
        .collect();
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;

    let (mut swept, mut expired) = (0, 0);
    for round in 0..6 {
        // A third of the files change: the running backup uploads their new contents, which
        // no committed part names yet, while the previous snapshots' old contents become
        // garbage once those snapshots expire.
        for path in files.iter().skip(round % 3).step_by(3) {
            dropbox.write_file(path);
        }
        stack.sandbox.set_faults(FaultPlan {
            delay_ms: 400,
            ..FaultPlan::default()
        });
        let uploads_before = stack
            .puts
            .keys()
            .iter()
            .filter(|k| k.contains("/blobs/"))
            .count();
        let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
        // Sweep while the backup has stored new blobs but not yet committed the part naming
        // them.
        let deadline = Instant::now() + Duration::from_secs(120);
        while stack
            .puts
            .keys()
            .iter()
            .filter(|k| k.contains("/blobs/"))
            .count()
            <= uploads_before
        {
            assert!(
                Instant::now() < deadline,
                "the backup uploads\n{}",
                stack.worker_log(0)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let run = run_retention(&stack, &tenant).await;
        swept += run["blobs_swept"].as_u64().unwrap();
        expired += run["snapshots_deleted"].as_array().unwrap().len();
        stack.sandbox.set_faults(FaultPlan::default());
        let job = get_job(&stack, &tenant, &job_id).await.unwrap();
        let running = job["status"] != "succeeded";
        expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
        assert!(
            assert_live_blobs_intact(&stack, &tenant, &source_id).await > 0,
            "round {round}: the snapshots name blobs"
        );
        eprintln!(
            "round {round}: swept {swept} blobs so far, backup still running at sweep end: {running}"
        );
    }
    assert!(swept > 0, "the sweeps deleted old contents");
    assert!(expired > 0, "runs expired snapshots");
    // No backup running now: a last pass leaves exactly the newest snapshot, whose every file
    // record names a stored blob that decrypts to its sha256.
    let run = run_retention(&stack, &tenant).await;
    swept += run["blobs_swept"].as_u64().unwrap();
    let live = complete_snapshots(&stack, &source_id).await;
    assert_eq!(live.len(), 1);
    let checked = assert_live_blobs_intact(&stack, &tenant, &source_id).await;
    assert_eq!(checked, files.len(), "one blob per file, all stored");
    let (_, streams) = read_snapshot_of(&stack, &tenant, &source_id, &live[0].id)
        .await
        .unwrap();
    let file_records: Vec<&Value> = streams["files"]
        .iter()
        .filter(|r| r[".tag"] == "file")
        .collect();
    assert_eq!(file_records.len(), files.len());
    for record in file_records {
        assert!(record["_listbackup_file"]["sha256"].is_string(), "{record}");
    }
    let stored: usize = stack
        .store
        .list(&format!("accounts/{}/blobs/", tenant.account_id))
        .await
        .unwrap()
        .len();
    assert_eq!(
        stored,
        files.len(),
        "every unused blob was swept ({swept} in all)"
    );
    stack.shutdown().await;
}
