//! The repository, run the same way on SQLite and on Postgres.

mod access;
mod job_lists;
mod retention;
mod slots;
mod webhooks;

use entities::{JobKind, JobStatus, Role, job, repo, snapshot_part};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait};
use serde_json::json;

async fn sqlite() -> (DatabaseConnection, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("repo.db").display());
    (entities::connect_and_migrate(&url).await.unwrap(), dir)
}

async fn suite(db: &DatabaseConnection) {
    // Migrating again is a no-op.
    entities::migrate(db).await.unwrap();

    // Accounts form a tree; access reaches down, never up.
    let root = repo::create_account(db, "Agency", None, "age1root", None)
        .await
        .unwrap();
    let child = repo::create_account(db, "Client", Some(&root.id), "age1child", None)
        .await
        .unwrap();
    let grandchild = repo::create_account(db, "Client branch", Some(&child.id), "age1gc", None)
        .await
        .unwrap();
    let mut tree = repo::account_subtree(db, &root.id).await.unwrap();
    tree.sort();
    let mut expected = vec![root.id.clone(), child.id.clone(), grandchild.id.clone()];
    expected.sort();
    assert_eq!(tree, expected);
    let below_child = repo::account_subtree(db, &child.id).await.unwrap();
    assert!(!below_child.contains(&root.id));

    // Users: emails are unique.
    let user = repo::create_user(db, "ops@example.com", "Ops")
        .await
        .unwrap();
    assert!(
        repo::create_user(db, "ops@example.com", "Again")
            .await
            .is_err()
    );
    repo::add_membership(db, &user.id, &root.id, Role::Owner)
        .await
        .unwrap();
    assert!(
        repo::add_membership(db, &user.id, &root.id, Role::Viewer)
            .await
            .is_err(),
        "one membership per account"
    );

    // API keys: found by their secret only, and not once revoked.
    let (key, secret) = repo::create_api_key(db, &root.id, Some(&user.id), "ci", Role::Operator)
        .await
        .unwrap();
    assert!(secret.starts_with(repo::API_KEY_PREFIX));
    assert_ne!(key.key_hash, secret, "the secret itself is not stored");
    assert_eq!(
        repo::find_api_key(db, &secret).await.unwrap().map(|k| k.id),
        Some(key.id.clone())
    );
    assert!(
        repo::find_api_key(db, &format!("{secret}x"))
            .await
            .unwrap()
            .is_none()
    );
    entities::api_key::Entity::update_many()
        .col_expr(
            entities::api_key::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now()),
        )
        .exec(db)
        .await
        .unwrap();
    assert!(repo::find_api_key(db, &secret).await.unwrap().is_none());

    // Jobs move forward once; the first final outcome sticks.
    let conn = repo::create_connection(
        db,
        &child.id,
        "stripe",
        "Stripe",
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    let source = repo::create_source(db, &conn, "Stripe", &["customers".to_owned()])
        .await
        .unwrap();
    assert_eq!(source.account_id, child.id);
    let j = repo::create_job(db, &source, JobKind::Backup)
        .await
        .unwrap();
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.workflow_id, format!("backup/{}/{}", source.id, j.id));
    assert!(repo::mark_job_running(db, &j.id).await.unwrap());
    assert!(
        !repo::mark_job_running(db, &j.id).await.unwrap(),
        "already running"
    );
    repo::set_job_progress(db, &j.id, json!({"customers": {"records": 5}}), 5, 50)
        .await
        .unwrap();
    assert!(
        repo::finish_job(db, &j.id, JobStatus::Succeeded, None)
            .await
            .unwrap()
    );
    assert!(
        !repo::finish_job(db, &j.id, JobStatus::Failed, Some("late".into()))
            .await
            .unwrap()
    );
    repo::set_job_progress(db, &j.id, json!({}), 0, 0)
        .await
        .unwrap();
    let stored = job::Entity::find_by_id(&j.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, JobStatus::Succeeded);
    assert_eq!(stored.error, None);
    assert_eq!(stored.records, 5, "progress of a finished job is frozen");
    assert!(stored.started_at.is_some() && stored.finished_at.is_some());

    // One active job per source, decided by the database.
    let first = repo::start_job(db, &source, JobKind::Backup).await.unwrap();
    match repo::start_job(db, &source, JobKind::Sync).await {
        Err(repo::CreateJobError::Active(id)) => assert_eq!(id, first.id),
        other => panic!("a second active job was allowed: {other:?}"),
    }
    assert!(
        repo::create_job(db, &source, JobKind::Backup)
            .await
            .is_err(),
        "the unique index refuses it too"
    );
    repo::finish_job(db, &first.id, JobStatus::Failed, Some("boom".into()))
        .await
        .unwrap();

    // Parts: re-committing a part number replaces it and drops the ones after it.
    let sync = repo::create_job(db, &source, JobKind::Sync).await.unwrap();
    entities::snapshot::ActiveModel {
        id: sea_orm::Set(sync.snapshot_id.clone()),
        account_id: sea_orm::Set(child.id.clone()),
        source_id: sea_orm::Set(source.id.clone()),
        job_id: sea_orm::Set(sync.id.clone()),
        kind: sea_orm::Set(JobKind::Sync),
        status: sea_orm::Set(entities::SnapshotStatus::Writing),
        parent_snapshot_id: sea_orm::Set(None),
        manifest_key: sea_orm::Set(None),
        records: sea_orm::Set(0),
        raw_bytes: sea_orm::Set(0),
        stored_bytes: sea_orm::Set(0),
        created_at: sea_orm::Set(chrono::Utc::now()),
        completed_at: sea_orm::Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let part = |no: i32, records: i64| snapshot_part::Model {
        id: entities::new_id(),
        snapshot_id: sync.snapshot_id.clone(),
        stream: "customers".into(),
        part_no: no,
        key: format!("k/{no}"),
        records,
        raw_bytes: records * 100,
        stored_bytes: records * 10,
        sha256: "00".repeat(32),
        cursor_after: json!(format!("cus_{no}")),
        stream_cursor: json!(1_700_000_000 + no),
        blobs: None,
        record_index: Some(json!({"key": format!("k/{no}.index"), "entries": records})),
        created_at: chrono::Utc::now(),
    };
    for no in 1..=3 {
        repo::commit_part(db, part(no, 10)).await.unwrap();
    }
    repo::commit_part(db, part(2, 7)).await.unwrap();
    let parts = repo::stream_parts(db, &sync.snapshot_id, "customers")
        .await
        .unwrap();
    assert_eq!(
        parts
            .iter()
            .map(|p| (p.part_no, p.records))
            .collect::<Vec<_>>(),
        vec![(1, 10), (2, 7)]
    );
    assert_eq!(
        parts[1].record_index,
        Some(json!({"key": "k/2.index", "entries": 7})),
        "the replacing part's index is the one recorded"
    );
    assert!(
        repo::stream_parts(db, &sync.snapshot_id, "products")
            .await
            .unwrap()
            .is_empty()
    );

    repo::log_activity(
        db,
        &child.id,
        "system",
        "job.running",
        ("job", &sync.id),
        json!({"n": 1}),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn repository_on_sqlite() {
    let (db, dir) = sqlite().await;
    suite(&db).await;
    access::suite(&db).await;
    access::version_suite(&db).await;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("repo.db").display());
    let other = entities::connect(&url).await.unwrap();
    slots::suite(&db, &other).await;
    webhooks::suite(&db).await;
}

#[tokio::test]
async fn repository_on_postgres() {
    let (name, url) = entities::testing::create_database("lbrepo")
        .await
        .expect("the test Postgres is reachable (scripts/ensure-postgres)");
    let db = entities::connect_and_migrate(&url).await.unwrap();
    suite(&db).await;
    access::suite(&db).await;
    access::version_suite(&db).await;
    let other = entities::connect(&url).await.unwrap();
    slots::suite(&db, &other).await;
    other.close().await.unwrap();
    webhooks::suite(&db).await;
    entities::testing::drop_database(db, &name).await.unwrap();
}

#[tokio::test]
async fn job_pages_read_an_index_in_order_on_postgres() {
    let (name, url) = entities::testing::create_database("lbjobs")
        .await
        .expect("the test Postgres is reachable (scripts/ensure-postgres)");
    let db = entities::connect_and_migrate(&url).await.unwrap();
    job_lists::suite(&db).await;
    entities::testing::drop_database(db, &name).await.unwrap();
}
