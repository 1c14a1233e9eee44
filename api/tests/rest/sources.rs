//! Sources: create, list, get, update, delete and test, with each documented error.

use crate::harness::*;
use entities::{
    JobKind, JobStatus, job, repo, schedule,
    sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set},
    snapshot,
};
use serde_json::json;

async fn stripe_connection(app: &App, account_id: &str) -> String {
    app.connection(
        account_id,
        "stripe",
        json!({"api_key": "sk_test_sandbox"}),
        json!({}),
    )
    .await
}

#[tokio::test]
async fn a_source_is_created_listed_changed_and_deleted() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let stripe = stripe_connection(&app, acc).await;
    let hubspot = app
        .connection(acc, "hubspot", json!({"access_token": "x"}), json!({}))
        .await;

    let r = app
        .post(
            &format!("/v1/accounts/{acc}/sources"),
            &ada.access,
            json!({
                "connection_id": stripe,
                "name": "  Stripe billing ",
                "streams": ["customers", "invoices", "customers"],
                "options": {"requests_per_second": 5}
            }),
        )
        .await;
    let created = r.ok(201).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{created}");
    assert_eq!(created["name"], "Stripe billing");
    assert_eq!(created["platform"], "stripe");
    assert_eq!(created["account_id"], acc.as_str());
    assert_eq!(created["connection_id"], stripe.as_str());
    assert_eq!(created["streams"], json!(["customers", "invoices"]));
    assert_eq!(created["options"], json!({"requests_per_second": 5}));
    assert_eq!(created["synced_streams"], json!([]));
    assert!(created["last_snapshot_id"].is_null());
    assert!(created.get("stream_state").is_none());
    assert!(
        app.logged(acc, &format!("user:{}", ada.id), "source.created", &id)
            .await
    );

    let other = app.source(&ada.access, acc, &hubspot, "HubSpot").await;
    let third = app.source(&ada.access, acc, &stripe, "Stripe all").await;

    // Get, list with filters and pages.
    assert_eq!(
        app.get(&format!("/v1/sources/{id}"), &ada.access)
            .await
            .ok(200)["name"],
        "Stripe billing"
    );
    let all = app
        .get(&format!("/v1/accounts/{acc}/sources"), &ada.access)
        .await;
    let ids: Vec<&str> = all.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), other.as_str(), third.as_str()]);
    let by_conn = app
        .get(
            &format!("/v1/accounts/{acc}/sources?connection_id={stripe}"),
            &ada.access,
        )
        .await;
    assert_eq!(by_conn.ok(200)["items"].as_array().unwrap().len(), 2);
    let by_platform = app
        .get(
            &format!("/v1/accounts/{acc}/sources?platform=hubspot"),
            &ada.access,
        )
        .await;
    assert_eq!(by_platform.ok(200)["items"][0]["id"], other.as_str());
    let first = app
        .get(&format!("/v1/accounts/{acc}/sources?limit=2"), &ada.access)
        .await;
    let cursor = first.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/v1/accounts/{acc}/sources?limit=2&cursor={cursor}"),
            &ada.access,
        )
        .await;
    assert_eq!(second.ok(200)["items"][0]["id"], third.as_str());
    assert!(second.body.get("next_cursor").is_none());

    // Update.
    let r = app
        .patch(
            &format!("/v1/sources/{id}"),
            &ada.access,
            json!({"name": "Stripe customers", "streams": ["customers"], "options": {}}),
        )
        .await;
    let updated = r.ok(200);
    assert_eq!(updated["name"], "Stripe customers");
    assert_eq!(updated["streams"], json!(["customers"]));
    assert_eq!(updated["options"], json!({}));
    assert!(
        app.logged(acc, &format!("user:{}", ada.id), "source.updated", &id)
            .await
    );
    // Nothing to change: the source as it is.
    app.patch(&format!("/v1/sources/{id}"), &ada.access, json!({}))
        .await
        .ok(200);

    // Delete: its finished jobs go with it.
    let src = entities::source::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let j = repo::create_job(&app.db, &src, JobKind::Backup)
        .await
        .unwrap();
    repo::finish_job(&app.db, &j.id, JobStatus::Failed, Some("x".into()))
        .await
        .unwrap();
    app.delete(&format!("/v1/sources/{id}"), &ada.access)
        .await
        .ok(204);
    app.get(&format!("/v1/sources/{id}"), &ada.access)
        .await
        .error(404, "not_found");
    assert_eq!(job::Entity::find().count(&app.db).await.unwrap(), 0);
    assert!(
        app.logged(acc, &format!("user:{}", ada.id), "source.deleted", &id)
            .await
    );
    app.shutdown().await;
}

#[tokio::test]
async fn creating_a_source_answers_each_documented_error() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let acc = &ada.account_id;
    let path = format!("/v1/accounts/{acc}/sources");
    let stripe = stripe_connection(&app, acc).await;
    let beas = stripe_connection(&app, &bea.account_id).await;
    let operator = app.member(&ada, acc, "otto@example.com", "operator").await;

    let ok = json!({"connection_id": stripe, "name": "billing"});
    // 400: unknown field, not JSON.
    let r = app
        .post(
            &path,
            &ada.access,
            json!({"connection_id": stripe, "name": "x", "colour": "red"}),
        )
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "colour");
    // 403: operators do not manage sources.
    app.post(&path, &operator.access, ok.clone())
        .await
        .error(403, "forbidden");
    // 404: another tenant's account.
    app.post(
        &format!("/v1/accounts/{}/sources", bea.account_id),
        &ada.access,
        ok.clone(),
    )
    .await
    .error(404, "not_found");
    // 422: a bad name, a connection of another account or none, unknown streams, bad options.
    for (body, field) in [
        (json!({"connection_id": stripe, "name": " "}), "name"),
        (json!({"connection_id": beas, "name": "x"}), "connection_id"),
        (
            json!({"connection_id": "con_nope", "name": "x"}),
            "connection_id",
        ),
        (
            json!({"connection_id": stripe, "name": "x", "streams": ["customers", "tweets"]}),
            "streams",
        ),
        (
            json!({"connection_id": stripe, "name": "x", "options": [1]}),
            "options",
        ),
        (
            json!({"connection_id": stripe, "name": "x", "options": {"requests_per_second": 0}}),
            "options",
        ),
    ] {
        let r = app.post(&path, &ada.access, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}");
        if field == "streams" {
            assert_eq!(r.body["error"]["details"]["unknown"], json!(["tweets"]));
        }
    }
    // 409: the name is taken in the account.
    app.post(&path, &ada.access, ok.clone()).await.ok(201);
    let r = app.post(&path, &ada.access, ok.clone()).await;
    r.error(409, "duplicate_name");
    assert_eq!(r.field(), "name");
    // The same name in another account is fine.
    app.post(
        &format!("/v1/accounts/{}/sources", bea.account_id),
        &bea.access,
        json!({"connection_id": beas, "name": "billing"}),
    )
    .await
    .ok(201);
    // Listing: 400 for a bad limit or cursor, 404 for another tenant.
    app.get(&format!("{path}?limit=0"), &ada.access)
        .await
        .error(400, "invalid_request");
    app.get(&format!("{path}?cursor=!!"), &ada.access)
        .await
        .error(400, "invalid_request");
    app.get(
        &format!("/v1/accounts/{}/sources", bea.account_id),
        &ada.access,
    )
    .await
    .error(404, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn updating_and_deleting_a_source_answer_each_documented_error() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let stripe = stripe_connection(&app, acc).await;
    let id = app.source(&ada.access, acc, &stripe, "billing").await;
    app.source(&ada.access, acc, &stripe, "taken").await;
    let operator = app.member(&ada, acc, "otto@example.com", "operator").await;
    let path = format!("/v1/sources/{id}");

    app.patch(&path, &ada.access, json!({"colour": 1}))
        .await
        .error(400, "invalid_request");
    app.patch(&path, &operator.access, json!({"name": "x"}))
        .await
        .error(403, "forbidden");
    app.patch("/v1/sources/src_nope", &ada.access, json!({"name": "x"}))
        .await
        .error(404, "not_found");
    let r = app
        .patch(&path, &ada.access, json!({"name": "taken"}))
        .await;
    r.error(409, "duplicate_name");
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"streams": ["nope"]}), "streams"),
        (json!({"options": "fast"}), "options"),
    ] {
        let r = app.patch(&path, &ada.access, body).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field);
    }

    app.delete(&path, &operator.access)
        .await
        .error(403, "forbidden");
    app.delete("/v1/sources/src_nope", &ada.access)
        .await
        .error(404, "not_found");
    // An active job: 409 naming it.
    let src = entities::source::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let running = repo::create_job(&app.db, &src, JobKind::Backup)
        .await
        .unwrap();
    let r = app.delete(&path, &ada.access).await;
    r.error(409, "conflict");
    assert_eq!(r.body["error"]["details"]["job_id"], running.id.as_str());
    repo::finish_job(&app.db, &running.id, JobStatus::Failed, None)
        .await
        .unwrap();
    // A snapshot or a schedule: the source is kept, with its data.
    let now = chrono::Utc::now();
    let snap = snapshot::ActiveModel {
        id: Set(running.snapshot_id.clone()),
        account_id: Set(acc.clone()),
        source_id: Set(id.clone()),
        job_id: Set(running.id.clone()),
        kind: Set(JobKind::Backup),
        status: Set(entities::SnapshotStatus::Complete),
        parent_snapshot_id: Set(None),
        manifest_key: Set(None),
        records: Set(0),
        raw_bytes: Set(0),
        stored_bytes: Set(0),
        created_at: Set(now),
        completed_at: Set(Some(now)),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let r = app.delete(&path, &ada.access).await;
    r.error(409, "source_not_empty");
    assert_eq!(
        r.body["error"]["details"],
        json!({"snapshots": 1, "schedules": 0})
    );
    snapshot::Entity::delete_by_id(snap.id)
        .exec(&app.db)
        .await
        .unwrap();
    schedule::ActiveModel {
        id: Set(entities::new_id()),
        account_id: Set(acc.clone()),
        source_id: Set(id.clone()),
        cron: Set("0 3 * * *".into()),
        timezone: Set("UTC".into()),
        jitter_secs: Set(0),
        paused: Set(false),
        temporal_schedule_id: Set("s".into()),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(JobKind::Sync),
        catchup_window_secs: Set(3600),
        last_run_at: Set(None),
        last_run_outcome: Set(None),
        last_run_job_id: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
    let r = app.delete(&path, &ada.access).await;
    r.error(409, "source_not_empty");
    assert_eq!(
        r.body["error"]["details"],
        json!({"snapshots": 0, "schedules": 1})
    );
    app.get(&path, &ada.access).await.ok(200);
    app.shutdown().await;
}

#[tokio::test]
async fn testing_a_source_fetches_a_page_of_each_stream_and_reports_refusals() {
    let app = App::spawn_with(App::generous).await;
    let sandbox = sandbox::Sandbox::new(sandbox::SandboxConfig::new(7)).unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let config = json!({"base_url": running.base_url()});
    let good = app
        .connection(
            acc,
            "stripe",
            json!({"api_key": "sk_test_sandbox"}),
            config.clone(),
        )
        .await;
    let bad = app
        .connection(acc, "stripe", json!({"api_key": "sk_test_wrong"}), config)
        .await;
    let viewer = app.member(&ada, acc, "vic@example.com", "viewer").await;
    let (_, operator_key) = app.api_key(&ada.access, acc, "ops", "operator").await;

    let r = app
        .post(
            &format!("/v1/accounts/{acc}/sources"),
            &ada.access,
            json!({"connection_id": good, "name": "good", "streams": ["customers", "invoices"]}),
        )
        .await;
    let good_source = r.ok(201)["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1/sources/{good_source}/test"),
            &operator_key,
            json!({}),
        )
        .await;
    let result = r.ok(200);
    assert_eq!(result["ok"], true, "{result}");
    let streams = result["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["name"], "customers");
    assert_eq!(streams[0]["ok"], true);
    assert!(streams[0]["records"].as_u64().unwrap() > 0, "{result}");

    // A refused key is an answer, not an error of the call.
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/sources"),
            &ada.access,
            json!({"connection_id": bad, "name": "bad", "streams": ["customers"]}),
        )
        .await;
    let bad_source = r.ok(201)["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/v1/sources/{bad_source}/test"),
            &operator_key,
            json!({}),
        )
        .await;
    let result = r.ok(200);
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["streams"][0]["ok"], false);
    assert!(
        result["streams"][0]["error"]
            .as_str()
            .unwrap()
            .contains("refused the credentials"),
        "{result}"
    );

    // Credentials this server cannot open: an answer too.
    let foreign = entities::repo::create_connection(
        &app.db,
        acc,
        "stripe",
        "foreign",
        "not sealed by this key".into(),
        json!({}),
    )
    .await
    .unwrap();
    let foreign_source = app.source(&ada.access, acc, &foreign.id, "foreign").await;
    let r = app
        .post(
            &format!("/v1/sources/{foreign_source}/test"),
            &ada.access,
            json!({}),
        )
        .await;
    assert_eq!(r.ok(200)["ok"], false);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be opened")
    );

    app.post(
        &format!("/v1/sources/{good_source}/test"),
        &viewer.access,
        json!({}),
    )
    .await
    .error(403, "forbidden");
    app.post("/v1/sources/src_nope/test", &ada.access, json!({}))
        .await
        .error(404, "not_found");
    running.shutdown().await;
    app.shutdown().await;
}
