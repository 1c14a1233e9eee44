//! Retention in the database: policies (a source's overrides its account's), the plan of a run,
//! deleting an expired snapshot's rows, runs that end once, and the blob store's protocol under
//! forced interleavings of a backup's use of a blob and the sweep — on SQLite and Postgres.

use chrono::{Duration, Utc};
use entities::{
    JobKind, SnapshotStatus, blob, blob_ref, file_fingerprint, repo, repo::BlobUse,
    retention::Policy, snapshot, snapshot_part, source,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;
use std::collections::HashSet;

async fn snapshot_of(
    db: &DatabaseConnection,
    src: &source::Model,
    status: SnapshotStatus,
    days_ago: i64,
    parent: Option<&str>,
) -> String {
    let id = entities::new_id();
    snapshot::Model {
        id: id.clone(),
        account_id: src.account_id.clone(),
        source_id: src.id.clone(),
        job_id: entities::new_id(),
        kind: if parent.is_some() {
            JobKind::Sync
        } else {
            JobKind::Backup
        },
        status,
        parent_snapshot_id: parent.map(str::to_owned),
        manifest_key: None,
        records: 1,
        raw_bytes: 10,
        stored_bytes: 7,
        created_at: Utc::now() - Duration::days(days_ago),
        completed_at: None,
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();
    id
}

async fn part_naming(db: &DatabaseConnection, snapshot_id: &str, blobs: &[&str]) {
    repo::commit_part(
        db,
        snapshot_part::Model {
            id: entities::new_id(),
            snapshot_id: snapshot_id.to_owned(),
            stream: "files".into(),
            part_no: 1,
            key: format!("k/{snapshot_id}"),
            records: 1,
            raw_bytes: 1,
            stored_bytes: 1,
            sha256: "00".repeat(32),
            cursor_after: json!(null),
            stream_cursor: json!(null),
            blobs: Some(json!(blobs)),
            record_index: None,
            created_at: Utc::now(),
        },
    )
    .await
    .unwrap();
}

async fn stored_blob(db: &DatabaseConnection, account_id: &str, sha256: &str) {
    repo::record_blob(
        db,
        blob::Model {
            account_id: account_id.to_owned(),
            sha256: sha256.to_owned(),
            key: format!("accounts/{account_id}/blobs/sha256/{sha256}"),
            size: 100,
            stored_bytes: 60,
            stored_sha256: "11".repeat(32),
            created_at: Utc::now(),
            state: repo::BLOB_STORED.into(),
            uses: 0,
            deleting_since: None,
        },
    )
    .await
    .unwrap();
}

async fn candidates(db: &DatabaseConnection, account_id: &str) -> Vec<String> {
    let mut v: Vec<String> = repo::sweep_candidates(db, account_id)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.sha256)
        .collect();
    v.sort();
    v
}

async fn blob_row(db: &DatabaseConnection, account_id: &str, sha256: &str) -> Option<blob::Model> {
    repo::find_blob(db, account_id, sha256).await.unwrap()
}

fn last(n: u32) -> Policy {
    Policy {
        keep_last: n,
        ..Policy::default()
    }
}

async fn policies_and_plans(db: &DatabaseConnection) {
    let acct = repo::create_account(db, "Retained", None, "age1ret", None)
        .await
        .unwrap();
    let conn = repo::create_connection(db, &acct.id, "stripe", "S", "sealed".into(), json!({}))
        .await
        .unwrap();
    let a = repo::create_source(db, &conn, "A", &[]).await.unwrap();
    let b = repo::create_source(db, &conn, "B", &[]).await.unwrap();
    let a_old = snapshot_of(db, &a, SnapshotStatus::Complete, 3, None).await;
    let a_mid = snapshot_of(db, &a, SnapshotStatus::Complete, 2, None).await;
    let a_new = snapshot_of(db, &a, SnapshotStatus::Complete, 1, None).await;
    let a_failed = snapshot_of(db, &a, SnapshotStatus::Failed, 0, Some(&a_mid)).await;
    let b_full = snapshot_of(db, &b, SnapshotStatus::Complete, 3, None).await;
    let b_inc = snapshot_of(db, &b, SnapshotStatus::Complete, 2, Some(&b_full)).await;
    let b_new = snapshot_of(db, &b, SnapshotStatus::Complete, 1, None).await;

    // No policy keeps everything.
    let plan = repo::plan_retention(db, &acct.id, None).await.unwrap();
    assert!(plan.expired.is_empty());
    assert_eq!(plan.kept, 7);

    // The account's policy applies to both sources.
    let row = repo::put_retention_policy(db, repo::policy_row(&acct.id, None, last(1)))
        .await
        .unwrap();
    assert_eq!(row.keep_last, 1);
    let plan = repo::plan_retention(db, &acct.id, None).await.unwrap();
    let mut expired: Vec<&str> = plan
        .expired
        .iter()
        .map(|e| e.snapshot_id.as_str())
        .collect();
    expired.sort();
    // a_mid stays: the failed snapshot a retry may continue depends on it.
    let mut want = vec![a_old.as_str(), b_full.as_str(), b_inc.as_str()];
    want.sort();
    assert_eq!(expired, want);
    assert!(
        plan.expired[0]
            .reason
            .contains("account policy (keep_last 1)")
    );
    let a_plan = plan.sources.iter().find(|s| s.source_id == a.id).unwrap();
    assert_eq!(a_plan.policy_from, "account");
    let reasons: Vec<String> = a_plan
        .decisions
        .iter()
        .find(|d| d.id == a_mid)
        .map(repo::keep_reasons)
        .unwrap();
    assert_eq!(reasons, vec![format!("parent of {a_failed}")]);

    // A source's policy overrides it; replacing keeps one row.
    repo::put_retention_policy(db, repo::policy_row(&acct.id, Some(&b.id), last(2)))
        .await
        .unwrap();
    let replaced = repo::put_retention_policy(db, repo::policy_row(&acct.id, Some(&b.id), last(3)))
        .await
        .unwrap();
    assert_eq!(replaced.keep_last, 3);
    assert_eq!(
        repo::account_retention_policies(db, &acct.id)
            .await
            .unwrap()
            .len(),
        2
    );
    let plan = repo::plan_retention(db, &acct.id, Some(&b.id))
        .await
        .unwrap();
    assert_eq!(plan.sources.len(), 1, "only the source asked for");
    assert_eq!(plan.sources[0].policy_from, "source");
    assert!(plan.expired.is_empty());

    // The source's latest snapshot is kept whatever the policy says.
    source::Entity::update_many()
        .col_expr(
            source::Column::LastSnapshotId,
            sea_orm::sea_query::Expr::value(a_old.clone()),
        )
        .filter(source::Column::Id.eq(&a.id))
        .exec(db)
        .await
        .unwrap();
    let plan = repo::plan_retention(db, &acct.id, Some(&a.id))
        .await
        .unwrap();
    assert!(plan.expired.is_empty(), "{:?}", plan.expired);

    // Deleting the rows of an expired snapshot takes its parts and blob uses; never a snapshot
    // that is not complete.
    part_naming(db, &b_full, &["aa"]).await;
    repo::use_blob(db, &b_full, &acct.id, "aa").await.unwrap();
    assert!(repo::delete_snapshot_rows(db, &b_full).await.unwrap());
    assert!(!repo::delete_snapshot_rows(db, &b_full).await.unwrap());
    assert!(
        snapshot_part::Entity::find()
            .filter(snapshot_part::Column::SnapshotId.eq(&b_full))
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        blob_ref::Entity::find()
            .filter(blob_ref::Column::SnapshotId.eq(&b_full))
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!repo::delete_snapshot_rows(db, &a_failed).await.unwrap());

    // Deleting a policy; a second delete finds none.
    assert!(repo::delete_retention_policy(db, &b.id).await.unwrap());
    assert!(!repo::delete_retention_policy(db, &b.id).await.unwrap());
    let _ = (a_new, b_new);

    // Runs: a scheduled run claims one row however often its activity runs; it ends once.
    let first = repo::claim_retention_run(db, &acct.id, "retention/x/1")
        .await
        .unwrap();
    let again = repo::claim_retention_run(db, &acct.id, "retention/x/1")
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert!(
        repo::finish_retention_run(db, &first.id, Some(json!({"n": 1})), None)
            .await
            .unwrap()
    );
    assert!(
        !repo::finish_retention_run(db, &first.id, None, Some("late".into()))
            .await
            .unwrap()
    );
}

/// The interleavings of a backup taking a blob (`use_blob`) and the sweep (mark, tombstone,
/// delete the object, forget the row), forced one at a time.
async fn blob_protocol(db: &DatabaseConnection, other: &DatabaseConnection) {
    let acct = repo::create_account(db, "Swept", None, "age1swept", None)
        .await
        .unwrap();
    let conn = repo::create_connection(db, &acct.id, "dropbox", "D", "sealed".into(), json!({}))
        .await
        .unwrap();
    let src = repo::create_source(db, &conn, "D", &[]).await.unwrap();
    let kept = snapshot_of(db, &src, SnapshotStatus::Complete, 2, None).await;
    let writing = snapshot_of(db, &src, SnapshotStatus::Writing, 0, None).await;
    let a = acct.id.as_str();
    for sha in ["named", "legacy", "free", "raced", "late", "stale"] {
        stored_blob(db, a, sha).await;
    }
    repo::use_blob(db, &kept, a, "named").await.unwrap();
    // A part written before `blob_refs` existed names its blobs only in its row.
    part_naming(db, &kept, &["legacy"]).await;
    assert_eq!(candidates(db, a).await, ["free", "late", "raced", "stale"]);

    // Mark, then a backup reuses the blob, then the tombstone: it fails, the blob stays.
    let marked = repo::sweep_candidates(db, a).await.unwrap();
    let raced = marked.iter().find(|b| b.sha256 == "raced").unwrap();
    assert!(matches!(
        repo::use_blob(db, &writing, a, "raced").await.unwrap(),
        BlobUse::Reused(_)
    ));
    assert_eq!(repo::tombstone_blob(db, raced).await.unwrap(), None);
    assert_eq!(blob_row(db, a, "raced").await.unwrap().state, "stored");

    // A use still being committed when the tombstone is attempted: the tombstone waits for it
    // (the row lock on Postgres, the write lock on SQLite) and then fails.
    let late = marked.iter().find(|b| b.sha256 == "late").unwrap().clone();
    let txn = db.begin().await.unwrap();
    assert!(matches!(
        repo::use_blob_in(&txn, &writing, a, "late").await.unwrap(),
        BlobUse::Reused(_)
    ));
    let sweeper = {
        let other = other.clone();
        tokio::spawn(async move { repo::tombstone_blob(&other, &late).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!sweeper.is_finished(), "the tombstone waits for the use");
    txn.commit().await.unwrap();
    assert_eq!(sweeper.await.unwrap().unwrap(), None);
    assert_eq!(blob_row(db, a, "late").await.unwrap().state, "stored");

    // Mark, tombstone, then a backup wants the blob: it is told to wait, never to reuse it;
    // the fingerprints resolving to it are forgotten with the tombstone.
    repo::remember_fingerprint(
        db,
        file_fingerprint::Model {
            connection_id: conn.id.clone(),
            fingerprint: "fp-free".into(),
            account_id: a.to_owned(),
            sha256: "free".into(),
            size: 100,
            created_at: Utc::now(),
        },
    )
    .await
    .unwrap();
    let marked = repo::sweep_candidates(db, a).await.unwrap();
    assert_eq!(
        marked.iter().map(|b| b.sha256.as_str()).collect::<Vec<_>>(),
        ["free", "stale"]
    );
    let free = &marked[0];
    let since = repo::tombstone_blob(db, free).await.unwrap().unwrap();
    assert!(
        repo::blob_for_fingerprint(db, &conn.id, "fp-free")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        repo::use_blob(db, &writing, a, "free").await.unwrap(),
        BlobUse::Deleting(_)
    ));
    assert!(
        !repo::clear_stale_tombstone(db, a, "free").await.unwrap(),
        "a fresh tombstone is the sweeper's"
    );
    // The object is deleted, then the row; now the backup stores the contents again.
    assert!(repo::forget_blob(db, a, "free", since).await.unwrap());
    assert_eq!(
        repo::use_blob(db, &writing, a, "free").await.unwrap(),
        BlobUse::Absent
    );
    stored_blob(db, a, "free").await;
    assert!(
        !candidates(db, a).await.contains(&"free".to_owned()),
        "the backup's use protects the new copy"
    );

    // A tombstone whose sweeper stopped: after a while another sweep takes it over (once),
    // and the one that stopped can no longer forget the row.
    let stale = repo::sweep_candidates(db, a).await.unwrap();
    assert_eq!(stale.len(), 1);
    let old_since = repo::tombstone_blob(db, &stale[0]).await.unwrap().unwrap();
    assert!(repo::stale_tombstones(db, a).await.unwrap().is_empty());
    let long_ago = old_since - Duration::minutes(20);
    blob::Entity::update_many()
        .col_expr(
            blob::Column::DeletingSince,
            sea_orm::sea_query::Expr::value(long_ago),
        )
        .filter(blob::Column::Sha256.eq("stale"))
        .exec(db)
        .await
        .unwrap();
    let left = repo::stale_tombstones(db, a).await.unwrap();
    assert_eq!(left.len(), 1);
    let mine = repo::take_over_tombstone(db, &left[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(repo::take_over_tombstone(db, &left[0]).await.unwrap(), None);
    assert!(!repo::forget_blob(db, a, "stale", long_ago).await.unwrap());
    assert!(repo::forget_blob(db, a, "stale", mine).await.unwrap());

    // A backup waiting on a tombstone left long ago clears it and stores the contents again.
    stored_blob(db, a, "orphaned").await;
    let marked = repo::sweep_candidates(db, a).await.unwrap();
    let orphaned = marked.iter().find(|b| b.sha256 == "orphaned").unwrap();
    repo::tombstone_blob(db, orphaned).await.unwrap().unwrap();
    let mut row = blob_row(db, a, "orphaned")
        .await
        .unwrap()
        .into_active_model();
    row.deleting_since = Set(Some(Utc::now() - Duration::minutes(20)));
    row.update(db).await.unwrap();
    assert!(
        repo::clear_stale_tombstone(db, a, "orphaned")
            .await
            .unwrap()
    );
    assert!(blob_row(db, a, "orphaned").await.is_none());

    // What a dry run reports for the sweep: the blobs only the removed snapshots use.
    let removed: HashSet<String> = [kept.clone()].into();
    let (count, bytes) = repo::blobs_unreferenced_without(db, a, &removed)
        .await
        .unwrap();
    // `named` and `legacy` (only `kept` uses them); `raced`, `late`, `free` are the writing
    // snapshot's.
    assert_eq!((count, bytes), (2, 120));
}

#[tokio::test]
async fn retention_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("repo.db").display());
    let db = entities::connect_and_migrate(&url).await.unwrap();
    let other = entities::connect(&url).await.unwrap();
    policies_and_plans(&db).await;
    blob_protocol(&db, &other).await;
}

#[tokio::test]
async fn retention_on_postgres() {
    let (name, url) = entities::testing::create_database("lbretention")
        .await
        .expect("the test Postgres is reachable (scripts/ensure-postgres)");
    let db = entities::connect_and_migrate(&url).await.unwrap();
    let other = entities::connect(&url).await.unwrap();
    policies_and_plans(&db).await;
    blob_protocol(&db, &other).await;
    other.close().await.unwrap();
    entities::testing::drop_database(db, &name).await.unwrap();
}
