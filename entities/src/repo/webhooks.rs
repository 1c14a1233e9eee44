//! Webhooks and their outbox of deliveries.
//!
//! An event is recorded as one delivery row per enabled webhook of the account that wants it,
//! in the same transaction as the transition it reports (a job finishing, a scheduled run
//! skipped): the notification exists exactly when the transition does. A dispatcher in the
//! worker starts one delivery workflow per row afterwards, so no event is lost between the
//! commit and the start.

use crate::model::*;
use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde_json::{Map, Value, json};

/// A job finished with a complete snapshot.
pub const JOB_SUCCEEDED: &str = "job.succeeded";
/// A job failed (not cancelled).
pub const JOB_FAILED: &str = "job.failed";
/// A job stopped because the platform refused its connection; it waits for a reconnection.
pub const JOB_NEEDS_REAUTH: &str = "job.needs_reauth";
/// A scheduled run did not start because the source had an active job.
pub const SCHEDULE_MISSED: &str = "schedule.missed";
/// A snapshot verification found a damaged or missing object, or could not be completed.
pub const VERIFICATION_FAILED: &str = "verification.failed";
/// The event of `POST /v1/webhooks/{id}/test`, sent whatever the subscription.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// The events a webhook may subscribe to.
pub const WEBHOOK_EVENTS: [&str; 5] = [
    JOB_SUCCEEDED,
    JOB_FAILED,
    JOB_NEEDS_REAUTH,
    SCHEDULE_MISSED,
    VERIFICATION_FAILED,
];

/// A delivery waiting for its first or next attempt.
pub const DELIVERY_PENDING: &str = "pending";
/// A delivery the receiver answered with a 2xx.
pub const DELIVERY_DELIVERED: &str = "delivered";
/// A delivery given up on: retries used up, or the URL is no longer allowed.
pub const DELIVERY_FAILED: &str = "failed";

/// How many attempts a delivery row remembers in its log (the count keeps going).
const ATTEMPT_LOG_LIMIT: usize = 100;

/// Time as written in payloads and headers: RFC 3339, UTC, milliseconds.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The prefix of webhook signing secrets, so leaked ones are recognisable.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: the prefix and 256 random bits.
pub fn new_webhook_secret() -> String {
    super::random_secret(WEBHOOK_SECRET_PREFIX)
}

/// A new webhook (the secret already sealed).
pub struct NewWebhook<'a> {
    pub account_id: &'a str,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub enabled: bool,
    pub secret_sealed: String,
}

pub async fn create_webhook(
    db: &impl ConnectionTrait,
    new: NewWebhook<'_>,
) -> Result<webhook::Model, DbErr> {
    let now = Utc::now();
    webhook::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(new.account_id.to_owned()),
        url: Set(new.url.to_owned()),
        events: Set(json!(new.events)),
        description: Set(new.description.map(str::to_owned)),
        enabled: Set(new.enabled),
        secret_sealed: Set(new.secret_sealed),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Deletes a webhook and its delivery log. A delivery in flight finds its row gone and stops.
pub async fn delete_webhook(db: &impl ConnectionTrait, webhook_id: &str) -> Result<bool, DbErr> {
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(webhook_id))
        .exec(db)
        .await?;
    let res = webhook::Entity::delete_by_id(webhook_id).exec(db).await?;
    Ok(res.rows_affected == 1)
}

/// Deletes every webhook of an account, with their delivery logs.
pub async fn delete_account_webhooks(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<(), DbErr> {
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    webhook::Entity::delete_many()
        .filter(webhook::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records `event` about `subject` (`{"job": {...}}` or `{"schedule": {...}}`) for every
/// enabled webhook of `account_id` subscribed to it; returns the new deliveries' ids. Run it
/// in the transaction of the change it reports.
pub async fn enqueue_event(
    db: &impl ConnectionTrait,
    account_id: &str,
    event: &str,
    subject: Map<String, Value>,
) -> Result<Vec<String>, DbErr> {
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::AccountId.eq(account_id))
        .filter(webhook::Column::Enabled.eq(true))
        .order_by_asc(webhook::Column::Id)
        .all(db)
        .await?;
    let mut ids = Vec::new();
    for hook in hooks.iter().filter(|h| h.wants(event)) {
        ids.push(enqueue_delivery(db, hook, event, subject.clone()).await?.id);
    }
    Ok(ids)
}

/// Records `event` about a job (its row as it is now, inside the transaction that moved it).
pub async fn enqueue_job_event(
    db: &impl ConnectionTrait,
    job_id: &str,
    event: &str,
) -> Result<Vec<String>, DbErr> {
    let Some(job) = job::Entity::find_by_id(job_id).one(db).await? else {
        return Ok(Vec::new());
    };
    let snapshot_id = (job.status == JobStatus::Succeeded).then(|| job.snapshot_id.clone());
    let status = serde_json::to_value(job.status).unwrap_or(Value::Null);
    let mut subject = Map::new();
    subject.insert(
        "job".into(),
        json!({
            "id": job.id,
            "source_id": job.source_id,
            "kind": job.kind_str(),
            "status": status,
            "snapshot_id": snapshot_id,
            "error": job.error,
            "records": job.records,
            "bytes": job.bytes,
            "retry_of": job.retry_of,
            "created_at": rfc3339(job.created_at),
            "started_at": job.started_at.map(rfc3339),
            "finished_at": job.finished_at.map(rfc3339),
        }),
    );
    let deliveries = enqueue_event(db, &job.account_id, event, subject).await?;
    // The members' emails go in the same transaction.
    super::enqueue_job_notifications(db, &job, event).await?;
    Ok(deliveries)
}

/// Inserts one delivery of `event` to `hook`: the payload is fixed here, so every attempt
/// sends the same bytes.
pub async fn enqueue_delivery(
    db: &impl ConnectionTrait,
    hook: &webhook::Model,
    event: &str,
    subject: Map<String, Value>,
) -> Result<webhook_delivery::Model, DbErr> {
    let id = crate::new_id();
    let now = Utc::now();
    let mut payload = Map::new();
    payload.insert("event".into(), json!(event));
    payload.insert("delivery_id".into(), json!(id));
    payload.insert("webhook_id".into(), json!(hook.id));
    payload.insert("occurred_at".into(), json!(rfc3339(now)));
    payload.insert("account_id".into(), json!(hook.account_id));
    payload.extend(subject);
    webhook_delivery::ActiveModel {
        id: Set(id),
        webhook_id: Set(hook.id.clone()),
        account_id: Set(hook.account_id.clone()),
        event: Set(event.to_owned()),
        payload: Set(Value::Object(payload).to_string()),
        status: Set(DELIVERY_PENDING.to_owned()),
        attempts: Set(0),
        attempt_log: Set(json!([])),
        last_status_code: Set(None),
        last_error: Set(None),
        dispatched_at: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Deliveries whose workflow has not been started yet, oldest first.
pub async fn undispatched_deliveries(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::DispatchedAt.is_null())
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Records that a delivery's workflow was started (or had been).
pub async fn mark_dispatched(db: &impl ConnectionTrait, delivery_id: &str) -> Result<(), DbErr> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::DispatchedAt,
            Expr::value(Utc::now()),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery_id))
        .filter(webhook_delivery::Column::DispatchedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why it did not count as delivered; `None` for a 2xx.
    pub error: Option<String>,
    /// The delivery is given up on after this attempt.
    pub last: bool,
}

/// Appends an attempt to a delivery's log and moves its status: `delivered` on success,
/// `failed` when `attempt.last`; a delivered row is never changed again. Returns the row, or
/// `None` when it no longer exists (its webhook was deleted).
pub async fn record_attempt(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    attempt: Attempt,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    let Some(row) = webhook_delivery::Entity::find_by_id(delivery_id)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.status == DELIVERY_DELIVERED {
        return Ok(Some(row));
    }
    let now = Utc::now();
    let attempts = row.attempts + 1;
    let mut log = row.attempt_log.as_array().cloned().unwrap_or_default();
    let mut entry = Map::new();
    entry.insert("attempt".into(), json!(attempts));
    entry.insert("at".into(), json!(rfc3339(now)));
    if let Some(code) = attempt.status_code {
        entry.insert("status_code".into(), json!(code));
    }
    if let Some(error) = &attempt.error {
        entry.insert("error".into(), json!(error));
    }
    log.push(Value::Object(entry));
    if log.len() > ATTEMPT_LOG_LIMIT {
        log.drain(..log.len() - ATTEMPT_LOG_LIMIT);
    }
    let delivered = attempt.error.is_none();
    let status = if delivered {
        DELIVERY_DELIVERED
    } else if attempt.last {
        DELIVERY_FAILED
    } else {
        DELIVERY_PENDING
    };
    let mut update = row.into_active_model();
    update.attempts = Set(attempts);
    update.attempt_log = Set(Value::Array(log));
    update.last_status_code = Set(attempt.status_code.map(i32::from));
    update.last_error = Set(attempt.error);
    update.status = Set(status.to_owned());
    if delivered {
        update.delivered_at = Set(Some(now));
    }
    update.updated_at = Set(now);
    Ok(Some(update.update(db).await?))
}

/// Marks a delivery given up on without another attempt (its retries ran out in the
/// workflow); a delivered row stays delivered.
pub async fn give_up_delivery(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    error: &str,
) -> Result<(), DbErr> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(DELIVERY_FAILED),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(error.to_owned()),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(webhook_delivery::Column::Id.eq(delivery_id))
        .filter(webhook_delivery::Column::Status.eq(DELIVERY_PENDING))
        .exec(db)
        .await?;
    Ok(())
}
