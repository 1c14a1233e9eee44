//! Retention policies and runs: set, read, replaced and deleted per account and per source (a
//! source's overriding its account's) with the account's Temporal Schedule following them;
//! every bad count refused naming its field; a viewer reads but changes nothing; another
//! tenant's account, source or run is a 404; a dry run says what would go and deletes nothing;
//! a run that cannot start is recorded as failed. (Runs that delete are tested end to end in
//! tests/e2e/retention.rs.)

use crate::harness::*;
use chrono::{Duration, Utc};
use entities::{
    JobKind, SnapshotStatus, repo,
    retention::Policy,
    retention_policy, retention_run,
    sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait},
    snapshot,
};
use serde_json::{Value, json};

async fn put(app: &App, path: &str, token: &str, body: Value) -> Reply {
    app.call("PUT", path, Some(token), Some(body)).await
}

fn account_policy(account_id: &str) -> String {
    format!("/v1/accounts/{account_id}/retention-policy")
}

fn source_policy(source_id: &str) -> String {
    format!("/v1/sources/{source_id}/retention-policy")
}

fn runs(account_id: &str) -> String {
    format!("/v1/accounts/{account_id}/retention/runs")
}

async fn stripe_source(app: &App, owner: &User) -> String {
    let conn = app
        .connection(
            &owner.account_id,
            "stripe",
            json!({"api_key": "sk_test_x"}),
            json!({}),
        )
        .await;
    app.source(&owner.access, &owner.account_id, &conn, "Payments")
        .await
}

async fn policy_rows(app: &App) -> u64 {
    retention_policy::Entity::find()
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn policies_are_set_read_replaced_and_deleted_with_the_accounts_schedule() {
    let app = App::spawn_with_temporal().await;
    let owner = app.register("keeper@example.com").await;
    let acct = owner.account_id.clone();
    let src = stripe_source(&app, &owner).await;
    let client = app.temporal_client().await;
    let schedule = workflows::retention::schedule_id(&acct);

    // Nothing set: everything is kept.
    let none = app.get(&source_policy(&src), &owner.access).await;
    assert_eq!(none.ok(200)["effective_from"], "none");
    assert!(none.body.get("policy").is_none());
    assert!(
        temporal::describe_schedule(&client, &schedule)
            .await
            .is_err()
    );

    let set = put(
        &app,
        &account_policy(&acct),
        &owner.access,
        json!({"keep_last": 3, "keep_daily": 7}),
    )
    .await;
    let body = set.ok(200);
    assert_eq!(
        body["policy"],
        json!({"keep_last": 3, "keep_daily": 7, "keep_weekly": 0, "keep_monthly": 0, "keep_yearly": 0})
    );
    assert_eq!(body["effective_from"], "account");
    let described = temporal::describe_schedule(&client, &schedule)
        .await
        .expect("the account's retention schedule exists");
    assert!(!described.paused);
    assert!(
        app.logged(
            &acct,
            &format!("user:{}", owner.id),
            "retention_policy.updated",
            &acct
        )
        .await
    );

    // The source inherits it, then overrides it.
    let inherited = app.get(&source_policy(&src), &owner.access).await;
    let body = inherited.ok(200);
    assert_eq!(body["effective_from"], "account");
    assert_eq!(body["effective_policy"]["keep_daily"], 7);
    assert!(body.get("policy").is_none());
    let own = put(
        &app,
        &source_policy(&src),
        &owner.access,
        json!({"keep_monthly": 12}),
    )
    .await;
    let body = own.ok(200);
    assert_eq!(body["effective_from"], "source");
    assert_eq!(body["source_id"], src.as_str());
    assert_eq!(body["effective_policy"]["keep_monthly"], 12);
    assert_eq!(body["effective_policy"]["keep_last"], 0);
    // Replacing keeps one row.
    put(
        &app,
        &source_policy(&src),
        &owner.access,
        json!({"keep_last": 1}),
    )
    .await
    .ok(200);
    assert_eq!(policy_rows(&app).await, 2);

    // Deleting the source's brings the account's back; deleting the last removes the schedule.
    app.delete(&source_policy(&src), &owner.access)
        .await
        .ok(204);
    assert_eq!(
        app.get(&source_policy(&src), &owner.access).await.ok(200)["effective_from"],
        "account"
    );
    assert!(
        temporal::describe_schedule(&client, &schedule)
            .await
            .is_ok()
    );
    app.delete(&account_policy(&acct), &owner.access)
        .await
        .ok(204);
    app.delete(&account_policy(&acct), &owner.access)
        .await
        .error(404, "not_found");
    assert!(
        temporal::describe_schedule(&client, &schedule)
            .await
            .is_err()
    );
    assert!(
        app.logged(
            &acct,
            &format!("user:{}", owner.id),
            "retention_policy.deleted",
            &src
        )
        .await
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_counts_are_refused_naming_the_field() {
    let app = App::spawn().await;
    let owner = app.register("counts@example.com").await;
    let path = account_policy(&owner.account_id);
    for (body, field) in [
        (json!({"keep_daily": -1}), "keep_daily"),
        (
            json!({"keep_last": 2, "keep_yearly": 100_001}),
            "keep_yearly",
        ),
        (json!({"keep_last": 0, "keep_weekly": 0}), "keep_last"),
        (json!({}), "keep_last"),
    ] {
        let r = put(&app, &path, &owner.access, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}");
    }
    let r = put(&app, &path, &owner.access, json!({"keep_last": "three"})).await;
    r.error(400, "invalid_request");
    let r = put(
        &app,
        &path,
        &owner.access,
        json!({"keep_last": 1, "keep_hourly": 5}),
    )
    .await;
    r.error(400, "invalid_request");
    // Valid, but the workflow service is unreachable: nothing is stored.
    put(&app, &path, &owner.access, json!({"keep_last": 1}))
        .await
        .error(503, "unavailable");
    assert_eq!(policy_rows(&app).await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_reads_policies_and_runs_but_changes_nothing() {
    let app = App::spawn().await;
    let owner = app.register("own@example.com").await;
    let acct = owner.account_id.clone();
    let src = stripe_source(&app, &owner).await;
    let viewer = app
        .member(&owner, &acct, "view@example.com", "viewer")
        .await;
    let operator = app
        .member(&owner, &acct, "op@example.com", "operator")
        .await;
    repo::put_retention_policy(&app.db, repo::policy_row(&acct, None, last(2)))
        .await
        .unwrap();
    for who in [&viewer, &operator] {
        assert_eq!(
            app.get(&source_policy(&src), &who.access).await.ok(200)["effective_policy"]["keep_last"],
            2
        );
        app.get(&runs(&acct), &who.access).await.ok(200);
        for path in [account_policy(&acct), source_policy(&src)] {
            put(&app, &path, &who.access, json!({"keep_last": 9}))
                .await
                .error(403, "forbidden");
            app.delete(&path, &who.access).await.error(403, "forbidden");
        }
        app.post(&runs(&acct), &who.access, json!({"dry_run": true}))
            .await
            .error(403, "forbidden");
    }
    let (_, key) = app.api_key(&owner.access, &acct, "ro", "viewer").await;
    put(&app, &account_policy(&acct), &key, json!({"keep_last": 9}))
        .await
        .error(403, "forbidden");
    let stored = repo::retention_policy(&app.db, &acct)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.keep_last, 2, "nothing changed");
    app.shutdown().await;
}

#[tokio::test]
async fn another_tenants_policies_sources_and_runs_are_not_found() {
    let app = App::spawn().await;
    let owner = app.register("mine@example.com").await;
    let stranger = app.register("theirs@example.com").await;
    let acct = owner.account_id.clone();
    let src = stripe_source(&app, &owner).await;
    repo::put_retention_policy(&app.db, repo::policy_row(&acct, None, last(2)))
        .await
        .unwrap();
    let run = repo::create_retention_run(
        &app.db,
        repo::new_run(&acct, None, "system", |id| format!("retention/{acct}/{id}")),
    )
    .await
    .unwrap();
    for path in [account_policy(&acct), source_policy(&src)] {
        app.get(&path, &stranger.access)
            .await
            .error(404, "not_found");
        put(&app, &path, &stranger.access, json!({"keep_last": 1}))
            .await
            .error(404, "not_found");
        app.delete(&path, &stranger.access)
            .await
            .error(404, "not_found");
    }
    app.get(&runs(&acct), &stranger.access)
        .await
        .error(404, "not_found");
    app.post(&runs(&acct), &stranger.access, json!({"dry_run": true}))
        .await
        .error(404, "not_found");
    app.get(&format!("/v1/retention-runs/{}", run.id), &stranger.access)
        .await
        .error(404, "not_found");
    // Naming another tenant's source in one's own account's run is refused like a bad value.
    let r = app
        .post(
            &runs(&stranger.account_id),
            &stranger.access,
            json!({"dry_run": true, "source_id": src}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "source_id");
    assert_eq!(policy_rows(&app).await, 1, "nothing changed");
    app.get(&format!("/v1/retention-runs/{}", run.id), &owner.access)
        .await
        .ok(200);
    app.shutdown().await;
}

fn last(n: u32) -> Policy {
    Policy {
        keep_last: n,
        ..Policy::default()
    }
}

/// A snapshot row of `source_id` made `days_ago`.
async fn snapshot_row(
    app: &App,
    account_id: &str,
    source_id: &str,
    days_ago: i64,
    bytes: i64,
) -> String {
    let id = entities::new_id();
    snapshot::Model {
        id: id.clone(),
        account_id: account_id.to_owned(),
        source_id: source_id.to_owned(),
        job_id: entities::new_id(),
        kind: JobKind::Backup,
        status: SnapshotStatus::Complete,
        parent_snapshot_id: None,
        manifest_key: None,
        records: 1,
        raw_bytes: bytes,
        stored_bytes: bytes,
        created_at: Utc::now() - Duration::days(days_ago),
        completed_at: Some(Utc::now()),
    }
    .into_active_model()
    .insert(&app.db)
    .await
    .unwrap();
    id
}

#[tokio::test]
async fn a_dry_run_says_what_would_go_and_deletes_nothing() {
    let app = App::spawn().await;
    let owner = app.register("dry@example.com").await;
    let acct = owner.account_id.clone();
    let src = stripe_source(&app, &owner).await;
    let old = snapshot_row(&app, &acct, &src, 3, 100).await;
    let mid = snapshot_row(&app, &acct, &src, 2, 50).await;
    let new = snapshot_row(&app, &acct, &src, 1, 10).await;

    // No policy: nothing would go.
    let r = app
        .post(&runs(&acct), &owner.access, json!({"dry_run": true}))
        .await;
    let body = r.ok(200);
    assert_eq!(body["snapshots_deleted"], json!([]));
    assert_eq!(body["snapshots_kept"], 3);
    assert_eq!(body["kept"][0]["reasons"], json!(["no policy"]));

    repo::put_retention_policy(&app.db, repo::policy_row(&acct, None, last(1)))
        .await
        .unwrap();
    let r = app
        .post(
            &runs(&acct),
            &owner.access,
            json!({"dry_run": true, "source_id": src}),
        )
        .await;
    let body = r.ok(200);
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["status"], "planned");
    assert!(body.get("id").is_none(), "a dry run is not recorded");
    let mut gone: Vec<&str> = body["snapshots_deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["snapshot_id"].as_str().unwrap())
        .collect();
    gone.sort();
    let mut want = vec![old.as_str(), mid.as_str()];
    want.sort();
    assert_eq!(gone, want);
    assert_eq!(
        body["snapshots_deleted"][0]["reason"],
        "not kept by the account policy (keep_last 1)"
    );
    assert_eq!(body["snapshot_bytes_freed"], 150);
    assert_eq!(
        body["kept"],
        json!([{"snapshot_id": new, "source_id": src, "reasons": ["keep_last"]}])
    );
    assert_eq!(
        snapshot::Entity::find().count(&app.db).await.unwrap(),
        3,
        "nothing deleted"
    );
    assert_eq!(
        retention_run::Entity::find().count(&app.db).await.unwrap(),
        0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_run_that_cannot_start_is_recorded_as_failed() {
    let app = App::spawn().await;
    let owner = app.register("run@example.com").await;
    let acct = owner.account_id.clone();
    app.post(&runs(&acct), &owner.access, json!({}))
        .await
        .error(503, "unavailable");
    let list = app.get(&runs(&acct), &owner.access).await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["trigger"], "api");
    assert!(items[0]["error"].as_str().unwrap().contains("unavailable"));
    let id = items[0]["id"].as_str().unwrap();
    let one = app
        .get(&format!("/v1/retention-runs/{id}"), &owner.access)
        .await;
    assert_eq!(one.ok(200)["requested_by"], format!("user:{}", owner.id));
    assert!(
        app.logged(
            &acct,
            &format!("user:{}", owner.id),
            "retention.run_requested",
            id
        )
        .await
    );
    app.shutdown().await;
}

#[tokio::test]
async fn deleting_a_source_deletes_its_policy() {
    let app = App::spawn().await;
    let owner = app.register("gone@example.com").await;
    let acct = owner.account_id.clone();
    let src = stripe_source(&app, &owner).await;
    repo::put_retention_policy(&app.db, repo::policy_row(&acct, Some(&src), last(4)))
        .await
        .unwrap();
    app.delete(&format!("/v1/sources/{src}"), &owner.access)
        .await
        .ok(204);
    assert!(
        repo::retention_policy(&app.db, &src)
            .await
            .unwrap()
            .is_none()
    );
    app.shutdown().await;
}
