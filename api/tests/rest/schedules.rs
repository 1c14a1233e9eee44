//! Schedules without a workflow service: every value is checked (422 naming the field) before
//! Temporal is asked; with Temporal unreachable, creating, changing, pausing, triggering and
//! deleting answer 503 and leave the database as it was. (Schedules with Temporal are tested
//! end to end in tests/e2e/schedules.rs.)

use crate::harness::*;
use chrono::Utc;
use entities::{
    JobKind, activity_log, repo, schedule,
    sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait},
    source,
};
use serde_json::json;

/// A connection and a source of `account_id`.
pub async fn stored_source(app: &App, account_id: &str) -> source::Model {
    let conn = repo::create_connection(
        &app.db,
        account_id,
        "stripe",
        &format!("Stripe {}", entities::new_id()),
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    repo::create_source(&app.db, &conn, &format!("all {}", conn.id), &[])
        .await
        .unwrap()
}

/// A schedule row of `src`, as if created while Temporal was up.
pub async fn stored_schedule(app: &App, src: &source::Model) -> schedule::Model {
    let id = entities::new_id();
    let now = Utc::now();
    schedule::Model {
        temporal_schedule_id: format!("schedule/{}/{id}", src.id),
        id,
        account_id: src.account_id.clone(),
        source_id: src.id.clone(),
        cron: "30 2 * * *".into(),
        timezone: "Europe/Berlin".into(),
        jitter_secs: 0,
        paused: false,
        created_at: now,
        updated_at: now,
        kind: JobKind::Sync,
        catchup_window_secs: 3600,
        last_run_at: None,
        last_run_outcome: None,
        last_run_job_id: None,
    }
    .into_active_model()
    .insert(&app.db)
    .await
    .unwrap()
}

async fn counts(app: &App) -> (u64, u64) {
    (
        schedule::Entity::find().count(&app.db).await.unwrap(),
        activity_log::Entity::find().count(&app.db).await.unwrap(),
    )
}

#[tokio::test]
async fn values_are_checked_before_temporal_and_name_their_field() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let src = stored_source(&app, &ada.account_id).await;
    let path = format!("/v1/sources/{}/schedules", src.id);
    let before = counts(&app).await;

    for (body, field) in [
        (json!({"cron": "0 2 * *"}), "cron"),
        (json!({"cron": "61 2 * * *"}), "cron"),
        (json!({"cron": "@daily"}), "cron"),
        (
            json!({"cron": "0 2 * * *", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"cron": "0 2 * * *", "jitter_secs": 3601}),
            "jitter_secs",
        ),
        (
            json!({"cron": "0 2 * * *", "catchup_window_secs": 5}),
            "catchup_window_secs",
        ),
    ] {
        let r = app.post(&path, &ada.access, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}");
    }
    for body in [
        json!({"cron": "0 2 * * *", "kind": "restore"}),
        json!({"cron": "0 2 * * *", "colour": "blue"}),
        json!({"timezone": "UTC"}),
    ] {
        app.post(&path, &ada.access, body)
            .await
            .error(400, "invalid_request");
    }
    // Valid, but Temporal cannot be reached: nothing is stored.
    let r = app
        .post(
            &path,
            &ada.access,
            json!({"cron": "0 2 * * *", "timezone": "Europe/Berlin"}),
        )
        .await;
    r.error(503, "unavailable");
    assert_eq!(counts(&app).await, before, "nothing stored");

    // Unknown sources are a 404; a viewer or an operator may not create schedules.
    app.post(
        "/v1/sources/src_nope/schedules",
        &ada.access,
        json!({"cron": "0 2 * * *"}),
    )
    .await
    .error(404, "not_found");
    for role in ["viewer", "operator"] {
        let member = app
            .member(&ada, &ada.account_id, &format!("{role}@example.com"), role)
            .await;
        app.post(&path, &member.access, json!({"cron": "0 2 * * *"}))
            .await
            .error(403, "forbidden");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_schedule_is_read_without_temporal_and_changed_only_with_it() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let src = stored_source(&app, &ada.account_id).await;
    let sch = stored_schedule(&app, &src).await;
    let second = stored_schedule(&app, &src).await;
    let one = format!("/v1/schedules/{}", sch.id);

    // Read: the stored settings; next runs absent while Temporal cannot be reached.
    let got = app.get(&one, &ada.access).await;
    let got = got.ok(200);
    assert_eq!(got["cron"], "30 2 * * *");
    assert_eq!(got["timezone"], "Europe/Berlin");
    assert_eq!(got["kind"], "sync");
    assert_eq!(got["paused"], false);
    assert!(got.get("next_runs").is_none(), "{got}");
    assert!(got["last_run"].is_null());
    assert!(
        got["temporal_ui_url"]
            .as_str()
            .unwrap()
            .contains("/schedules/schedule%2F")
    );

    // Listed under the source, a page at a time.
    let list = format!("/v1/sources/{}/schedules", src.id);
    let page = app.get(&format!("{list}?limit=1"), &ada.access).await;
    let page = page.ok(200).clone();
    assert_eq!(page["items"][0]["id"], sch.id.as_str());
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("{list}?limit=1&cursor={cursor}"), &ada.access)
        .await;
    assert_eq!(rest.ok(200)["items"][0]["id"], second.id.as_str());
    assert!(rest.body.get("next_cursor").is_none());
    app.get(&format!("{list}?limit=0"), &ada.access)
        .await
        .error(400, "invalid_request");

    // Changes: checked first, then refused while Temporal is unreachable, changing nothing.
    let before = counts(&app).await;
    let r = app
        .patch(&one, &ada.access, json!({"timezone": "Nowhere/Else"}))
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "timezone");
    app.patch(&one, &ada.access, json!({"jitter": 5}))
        .await
        .error(400, "invalid_request");
    app.patch(&one, &ada.access, json!({"cron": "0 3 * * *"}))
        .await
        .error(503, "unavailable");
    for action in ["pause", "resume", "trigger"] {
        app.post(&format!("{one}/{action}"), &ada.access, json!({}))
            .await
            .error(503, "unavailable");
    }
    app.delete(&one, &ada.access)
        .await
        .error(503, "unavailable");
    assert_eq!(counts(&app).await, before);
    let stored = schedule::Entity::find_by_id(sch.id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, sch, "unchanged");

    // Triggering while the source has an active job names it.
    let job = repo::start_job(&app.db, &src, JobKind::Backup)
        .await
        .unwrap();
    let r = app
        .post(&format!("{one}/trigger"), &ada.access, json!({}))
        .await;
    r.error(409, "conflict");
    assert_eq!(r.body["error"]["details"]["job_id"], job.id.as_str());

    // Roles: a viewer reads; an operator may trigger (reaching the active-job check) but not
    // change the schedule.
    let viewer = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    let operator = app
        .member(&ada, &ada.account_id, "otto@example.com", "operator")
        .await;
    app.get(&one, &viewer.access).await.ok(200);
    app.post(&format!("{one}/trigger"), &viewer.access, json!({}))
        .await
        .error(403, "forbidden");
    app.post(&format!("{one}/trigger"), &operator.access, json!({}))
        .await
        .error(409, "conflict");
    for (method, path) in [
        ("PATCH", one.clone()),
        ("DELETE", one.clone()),
        ("POST", format!("{one}/pause")),
        ("POST", format!("{one}/resume")),
    ] {
        let body = (method != "DELETE").then(|| json!({}));
        app.call(method, &path, Some(&operator.access), body)
            .await
            .error(403, "forbidden");
    }
    app.get("/v1/schedules/sch_nope", &ada.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}
