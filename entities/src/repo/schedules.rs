//! Scheduled runs and the activity log's retention.
//!
//! A run a Temporal Schedule starts has no API request in front of it: its first activity claims
//! a job row here. The rule of one active job per source holds for scheduled runs too — the
//! partial unique index on `jobs` decides — and a run that finds the source busy is skipped and
//! recorded (on the schedule, in the activity log, and as a `schedule.missed` webhook event)
//! instead of queued.

use crate::model::*;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde_json::json;

/// What became of one firing of a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduledRun {
    /// A job was created for the run (or had been, by an earlier attempt of the same run).
    Started(Box<job::Model>),
    /// The source had an active job (its id); nothing was started.
    Skipped(String),
    /// The schedule or its source no longer exists.
    Gone,
}

/// The outcome recorded when a scheduled run created a job.
pub const RUN_STARTED: &str = "started";
/// The outcome recorded when a scheduled run found the source busy.
pub const RUN_SKIPPED: &str = "skipped";

/// Claims the job row of the scheduled run `workflow_id` of schedule `schedule_id`: creates a
/// queued job whose workflow is that run, unless the source has an active job. Idempotent: a
/// retried attempt of the same run finds the job it created.
pub async fn claim_scheduled_run(
    db: &DatabaseConnection,
    schedule_id: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<ScheduledRun, DbErr> {
    if let Some(existing) = job::Entity::find()
        .filter(job::Column::WorkflowId.eq(workflow_id))
        .one(db)
        .await?
    {
        return Ok(ScheduledRun::Started(Box::new(existing)));
    }
    let Some(sched) = schedule::Entity::find_by_id(schedule_id).one(db).await? else {
        return Ok(ScheduledRun::Gone);
    };
    let Some(src) = source::Entity::find_by_id(&sched.source_id).one(db).await? else {
        return Ok(ScheduledRun::Gone);
    };
    let now = Utc::now();
    let txn = db.begin().await?;
    let inserted = job::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(src.account_id.clone()),
        source_id: Set(src.id.clone()),
        kind: Set(sched.kind),
        status: Set(JobStatus::Queued),
        workflow_id: Set(workflow_id.to_owned()),
        run_id: Set(Some(run_id.to_owned()).filter(|r| !r.is_empty())),
        snapshot_id: Set(crate::new_id()),
        progress: Set(json!({})),
        records: Set(0),
        bytes: Set(0),
        error: Set(None),
        created_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        retry_of: Set(None),
    }
    .insert(&txn)
    .await;
    let outcome = match inserted {
        Ok(job) => {
            super::log_activity(
                &txn,
                &job.account_id,
                "system",
                &format!("{}.scheduled", job.kind_str()),
                ("job", &job.id),
                json!({"schedule_id": sched.id, "source_id": src.id}),
            )
            .await?;
            ScheduledRun::Started(Box::new(job))
        }
        Err(e) => {
            // The unique index refused a second active job: find the one that holds it.
            txn.rollback().await?;
            let Some(active) = super::active_job(db, &src.id).await? else {
                return Err(e);
            };
            let txn = db.begin().await?;
            super::log_activity(
                &txn,
                &sched.account_id,
                "system",
                "schedule.skipped",
                ("schedule", &sched.id),
                json!({"source_id": src.id, "active_job_id": active.id, "workflow_id": workflow_id}),
            )
            .await?;
            let mut subject = serde_json::Map::new();
            subject.insert(
                "schedule".into(),
                json!({
                    "id": sched.id,
                    "source_id": src.id,
                    "kind": sched.kind,
                    "cron": sched.cron,
                    "timezone": sched.timezone,
                    "active_job_id": active.id,
                    "workflow_id": workflow_id,
                }),
            );
            super::enqueue_event(&txn, &sched.account_id, super::SCHEDULE_MISSED, subject).await?;
            record_last_run(&txn, sched, now, RUN_SKIPPED, Some(active.id.clone())).await?;
            txn.commit().await?;
            return Ok(ScheduledRun::Skipped(active.id));
        }
    };
    if let ScheduledRun::Started(job) = &outcome {
        record_last_run(&txn, sched, now, RUN_STARTED, Some(job.id.clone())).await?;
    }
    txn.commit().await?;
    Ok(outcome)
}

async fn record_last_run(
    db: &impl ConnectionTrait,
    sched: schedule::Model,
    at: DateTime<Utc>,
    outcome: &str,
    job_id: Option<String>,
) -> Result<(), DbErr> {
    let mut row = sched.into_active_model();
    row.last_run_at = Set(Some(at));
    row.last_run_outcome = Set(Some(outcome.to_owned()));
    row.last_run_job_id = Set(job_id);
    row.update(db).await?;
    Ok(())
}

/// How long the activity log keeps a row.
pub const ACTIVITY_RETENTION_DAYS: i64 = 90;

/// Deletes activity log rows created before `cutoff`; returns how many.
pub async fn purge_activity_before(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    Ok(activity_log::Entity::delete_many()
        .filter(activity_log::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
