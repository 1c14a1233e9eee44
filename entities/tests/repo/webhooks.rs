//! The webhook outbox: events become one delivery per enabled, subscribed webhook of the
//! account — also a scheduled run that gives way to an active job — and deliveries move from
//! pending to delivered or failed once.

use entities::{JobKind, JobStatus, repo, schedule, webhook, webhook_delivery};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use serde_json::json;

async fn hook(db: &DatabaseConnection, account_id: &str, events: &[&str], enabled: bool) -> String {
    let events: Vec<String> = events.iter().map(|e| (*e).to_owned()).collect();
    repo::create_webhook(
        db,
        repo::NewWebhook {
            account_id,
            url: "https://hooks.example.com/",
            events: &events,
            description: None,
            enabled,
            secret_sealed: "sealed".into(),
        },
    )
    .await
    .unwrap()
    .id
}

async fn deliveries_of(db: &DatabaseConnection, webhook_id: &str) -> Vec<webhook_delivery::Model> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
        .all(db)
        .await
        .unwrap()
}

pub async fn suite(db: &DatabaseConnection) {
    let acct = repo::create_account(db, "Hooked", None, "age1hooked", None)
        .await
        .unwrap();
    let other = repo::create_account(db, "Elsewhere", None, "age1else", None)
        .await
        .unwrap();
    let missed = hook(
        db,
        &acct.id,
        &[repo::SCHEDULE_MISSED, repo::JOB_FAILED],
        true,
    )
    .await;
    let off = hook(db, &acct.id, &[repo::SCHEDULE_MISSED], false).await;
    let foreign = hook(db, &other.id, &[repo::SCHEDULE_MISSED], true).await;

    // A scheduled run that finds the source busy is skipped and announced.
    let conn = repo::create_connection(db, &acct.id, "stripe", "S", "sealed".into(), json!({}))
        .await
        .unwrap();
    let source = repo::create_source(db, &conn, "S", &[]).await.unwrap();
    let busy = repo::start_job(db, &source, JobKind::Backup).await.unwrap();
    let now = chrono::Utc::now();
    let sched = schedule::ActiveModel {
        id: Set(entities::new_id()),
        account_id: Set(acct.id.clone()),
        source_id: Set(source.id.clone()),
        cron: Set("0 2 * * *".into()),
        timezone: Set("UTC".into()),
        jitter_secs: Set(0),
        paused: Set(false),
        temporal_schedule_id: Set(format!("schedule/{}", source.id)),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(JobKind::Sync),
        catchup_window_secs: Set(3600),
        last_run_at: Set(None),
        last_run_outcome: Set(None),
        last_run_job_id: Set(None),
    }
    .insert(db)
    .await
    .unwrap();
    let outcome = repo::claim_scheduled_run(db, &sched.id, "scheduled/x-1", "run-1")
        .await
        .unwrap();
    assert_eq!(outcome, repo::ScheduledRun::Skipped(busy.id.clone()));
    let sent = deliveries_of(db, &missed).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event, repo::SCHEDULE_MISSED);
    assert_eq!(sent[0].status, repo::DELIVERY_PENDING);
    let payload: serde_json::Value = serde_json::from_str(&sent[0].payload).unwrap();
    assert_eq!(payload["delivery_id"], sent[0].id.as_str());
    assert_eq!(payload["schedule"]["id"], sched.id.as_str());
    assert_eq!(payload["schedule"]["active_job_id"], busy.id.as_str());
    assert_eq!(payload["schedule"]["kind"], "sync");
    assert!(deliveries_of(db, &off).await.is_empty(), "disabled");
    assert!(
        deliveries_of(db, &foreign).await.is_empty(),
        "another account"
    );

    // A job event reaches only the webhooks subscribed to it.
    repo::finish_job(db, &busy.id, JobStatus::Failed, Some("boom".into()))
        .await
        .unwrap();
    assert_eq!(
        repo::enqueue_job_event(db, &busy.id, repo::JOB_SUCCEEDED)
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    let failed = repo::enqueue_job_event(db, &busy.id, repo::JOB_FAILED)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);

    // The dispatcher's view: undispatched rows, oldest first, marked once.
    let pending = repo::undispatched_deliveries(db, 100).await.unwrap();
    let ids: Vec<&str> = pending.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, [sent[0].id.as_str(), failed[0].as_str()]);
    repo::mark_dispatched(db, &sent[0].id).await.unwrap();
    let first_mark = webhook_delivery::Entity::find_by_id(&sent[0].id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .dispatched_at;
    repo::mark_dispatched(db, &sent[0].id).await.unwrap();
    let row = webhook_delivery::Entity::find_by_id(&sent[0].id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(first_mark.is_some());
    assert_eq!(row.dispatched_at, first_mark, "marked once");
    assert_eq!(
        repo::undispatched_deliveries(db, 100).await.unwrap().len(),
        1
    );

    // Attempts: failures keep it pending, a 2xx delivers it for good.
    let fail = |code: Option<u16>| repo::Attempt {
        status_code: code,
        error: Some("down".into()),
        last: false,
    };
    repo::record_attempt(db, &sent[0].id, fail(None))
        .await
        .unwrap();
    let row = repo::record_attempt(db, &sent[0].id, fail(Some(502)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, repo::DELIVERY_PENDING);
    assert_eq!((row.attempts, row.last_status_code), (2, Some(502)));
    let ok = repo::Attempt {
        status_code: Some(200),
        error: None,
        last: false,
    };
    let row = repo::record_attempt(db, &sent[0].id, ok.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, repo::DELIVERY_DELIVERED);
    assert!(row.delivered_at.is_some() && row.last_error.is_none());
    assert_eq!(row.attempt_log.as_array().unwrap().len(), 3);
    let again = repo::record_attempt(db, &sent[0].id, fail(Some(500)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, row, "a delivered row never changes");
    repo::give_up_delivery(db, &sent[0].id, "late")
        .await
        .unwrap();
    assert_eq!(
        webhook_delivery::Entity::find_by_id(&sent[0].id)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .status,
        repo::DELIVERY_DELIVERED
    );
    // Giving up, or a last failed attempt, ends it as failed.
    repo::give_up_delivery(db, &failed[0], "retries used up")
        .await
        .unwrap();
    let row = webhook_delivery::Entity::find_by_id(&failed[0])
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, repo::DELIVERY_FAILED);
    assert_eq!(row.last_error.as_deref(), Some("retries used up"));
    assert!(
        repo::record_attempt(db, "gone", ok)
            .await
            .unwrap()
            .is_none(),
        "a deleted delivery"
    );

    // Deleting a webhook takes its log; deleting the account takes its webhooks.
    assert!(repo::delete_webhook(db, &off).await.unwrap());
    assert!(!repo::delete_webhook(db, &off).await.unwrap());
    repo::delete_account_webhooks(db, &acct.id).await.unwrap();
    assert!(deliveries_of(db, &missed).await.is_empty());
    assert!(
        webhook::Entity::find_by_id(&missed)
            .one(db)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        webhook::Entity::find_by_id(&foreign)
            .one(db)
            .await
            .unwrap()
            .is_some()
    );
}
