//! `backup.needs_reauth` and `backup.reauthorized`: the job row follows a run that waits for
//! its connection to be reconnected, and the activity log says so (the place notifications and
//! operators look).

use crate::{context::WorkerContext, failure::db};
use entities::{JobStatus, job, repo};
use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::json;
use temporalio_sdk::activities::ActivityError;
use workflows::contracts::ReauthInput;

pub async fn mark(
    w: &WorkerContext,
    input: ReauthInput,
    waiting: bool,
) -> Result<(), ActivityError> {
    let Some(job) = job::Entity::find_by_id(&input.job_id)
        .one(&w.db)
        .await
        .map_err(db)?
    else {
        return Ok(());
    };
    let error = waiting.then_some(input.error.as_str());
    // A retried attempt finds the job already moved: nothing to do twice. The transition, its
    // log entry and its webhook deliveries commit together.
    let txn = w.db.begin().await.map_err(db)?;
    let moved = if !waiting && input.requeue {
        // It gave its job slot up while it waited: it queues for one again.
        repo::requeue_job(&txn, &job.id, JobStatus::NeedsReauth, None).await
    } else {
        repo::set_job_waiting_for_reauth(&txn, &job.id, waiting, error).await
    };
    if !moved.map_err(db)? {
        return Ok(());
    }
    let action = if waiting {
        tracing::warn!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, error = %input.error, "job needs the connection re-authorized");
        "job.needs_reauth"
    } else {
        tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, "connection re-authorized; job continues");
        "job.reauthorized"
    };
    repo::log_activity(
        &txn,
        &job.account_id,
        "system",
        action,
        ("job", &job.id),
        json!({"error": error}),
    )
    .await
    .map_err(db)?;
    if waiting {
        repo::enqueue_job_event(&txn, &job.id, repo::JOB_NEEDS_REAUTH)
            .await
            .map_err(db)?;
    }
    txn.commit().await.map_err(db)
}
