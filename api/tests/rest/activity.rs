//! The activity log: filtered, paged newest first, for admins; rows past 90 days are deleted by
//! the retention pass and recent ones stay.

use crate::harness::*;
use chrono::{Duration, Utc};
use entities::{
    activity_log,
    sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter},
};
use serde_json::{Value, json};

fn actions(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn entry(
    app: &App,
    account: &str,
    actor: &str,
    action: &str,
    target: (&str, &str),
    age: Duration,
) -> String {
    let row = activity_log::Model {
        id: entities::new_id(),
        account_id: account.into(),
        actor: actor.into(),
        action: action.into(),
        target_type: target.0.into(),
        target_id: target.1.into(),
        details: json!({}),
        created_at: Utc::now() - age,
    };
    row.into_active_model().insert(&app.db).await.unwrap().id
}

#[tokio::test]
async fn the_log_is_filtered_and_paged_newest_first() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let acct = &ada.account_id;
    let log = format!("/v1/accounts/{acct}/activity");
    let user = format!("user:{}", ada.id);
    // Backdated, but logged first: the log's order is the order of entry.
    let old = entry(
        &app,
        acct,
        "system",
        "job.succeeded",
        ("job", "job_0"),
        Duration::days(3),
    )
    .await;
    for (actor, action, target) in [
        ("system", "job.running", ("job", "job_1")),
        ("system", "job.failed", ("job", "job_1")),
        (user.as_str(), "schedule.created", ("schedule", "sch_1")),
        ("system", "schedule.skipped", ("schedule", "sch_1")),
    ] {
        entry(&app, acct, actor, action, target, Duration::zero()).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let r = app.get(&log, &ada.access).await;
    let all = actions(r.ok(200));
    assert_eq!(
        &all[..5],
        [
            "schedule.skipped",
            "schedule.created",
            "job.failed",
            "job.running",
            "job.succeeded"
        ]
    );

    for (query, expected) in [
        (
            "action=job.",
            vec!["job.failed", "job.running", "job.succeeded"],
        ),
        (
            "action=schedule.*",
            vec!["schedule.skipped", "schedule.created"],
        ),
        ("action=job.failed", vec!["job.failed"]),
        (
            "actor=system&target_type=schedule",
            vec!["schedule.skipped"],
        ),
        ("target_id=job_1", vec!["job.failed", "job.running"]),
    ] {
        let r = app.get(&format!("{log}?{query}"), &ada.access).await;
        assert_eq!(actions(r.ok(200)), expected, "{query}");
    }
    let day_ago =
        (Utc::now() - Duration::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app
        .get(&format!("{log}?action=job.&until={day_ago}"), &ada.access)
        .await;
    assert_eq!(r.ok(200)["items"][0]["id"], old.as_str());
    assert_eq!(actions(&r.body).len(), 1);
    let r = app
        .get(&format!("{log}?action=job.&since={day_ago}"), &ada.access)
        .await;
    assert_eq!(actions(r.ok(200)), ["job.failed", "job.running"]);

    let r = app
        .get(&format!("{log}?action=job.&limit=2"), &ada.access)
        .await;
    assert_eq!(actions(r.ok(200)), ["job.failed", "job.running"]);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(
            &format!("{log}?action=job.&limit=2&cursor={cursor}"),
            &ada.access,
        )
        .await;
    assert_eq!(actions(r.ok(200)), ["job.succeeded"]);

    for (query, field) in [
        ("since=last+week", "since"),
        ("until=2026-02-30T00:00:00Z", "until"),
        ("limit=0", "limit"),
    ] {
        let r = app.get(&format!("{log}?{query}"), &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), field);
    }
    // Admins only: an operator is refused; another account is a 404.
    let otto = app.member(&ada, acct, "otto@example.com", "operator").await;
    app.get(&log, &otto.access).await.error(403, "forbidden");
    let bea = app.register("bea@example.com").await;
    app.get(&log, &bea.access).await.error(404, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn the_retention_pass_deletes_rows_older_than_90_days_only() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let acct = &ada.account_id;
    let ancient = entry(
        &app,
        acct,
        "system",
        "job.succeeded",
        ("job", "job_a"),
        Duration::days(400),
    )
    .await;
    let expired = entry(
        &app,
        acct,
        "system",
        "job.failed",
        ("job", "job_b"),
        Duration::days(91),
    )
    .await;
    let kept = entry(
        &app,
        acct,
        "system",
        "job.running",
        ("job", "job_c"),
        Duration::days(89),
    )
    .await;
    let fresh = entry(
        &app,
        acct,
        "system",
        "job.running",
        ("job", "job_d"),
        Duration::zero(),
    )
    .await;

    let deleted = api::retention::purge_expired(&app.db, Utc::now())
        .await
        .unwrap();
    assert_eq!(deleted, 2);
    let left: Vec<String> = activity_log::Entity::find()
        .filter(activity_log::Column::AccountId.eq(acct.as_str()))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert!(
        !left.contains(&ancient) && !left.contains(&expired),
        "{left:?}"
    );
    assert!(left.contains(&kept) && left.contains(&fresh), "{left:?}");
    // A second pass finds nothing more.
    assert_eq!(
        api::retention::purge_expired(&app.db, Utc::now())
            .await
            .unwrap(),
        0
    );
    app.shutdown().await;
}
