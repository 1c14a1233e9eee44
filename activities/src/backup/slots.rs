//! `backup.acquire_slot` and `backup.waiting_for_quota`: the job row follows a run that queues
//! for one of its account's job slots, or gives its slot back while a platform quota resets.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, permanent},
};
use entities::repo;
use sea_orm::TransactionTrait;
use serde_json::json;
use temporalio_sdk::activities::ActivityError;
use workflows::contracts::{JobSlot, QuotaWaitInput, SlotInput};

pub async fn acquire(w: &WorkerContext, input: SlotInput) -> Result<JobSlot, ActivityError> {
    let cap = u64::from(w.extract.account_max_jobs.max(1));
    let outcome = repo::acquire_job_slot(&w.db, &input.job_id, cap)
        .await
        .map_err(db)?;
    let job = super::find_job(w, &input.job_id)
        .await?
        .ok_or_else(|| not_found("job", &input.job_id))?;
    match outcome {
        repo::SlotOutcome::Acquired { moved } => {
            if moved {
                tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, kind = job.kind_str(), "job running");
            }
            Ok(JobSlot {
                acquired: true,
                running: 0,
                cap,
            })
        }
        repo::SlotOutcome::Busy { running } => {
            tracing::info!(job_id = %job.id, account_id = %job.account_id, running, cap, "job queued: the account's job slots are taken");
            Ok(JobSlot {
                acquired: false,
                running,
                cap,
            })
        }
        repo::SlotOutcome::Gone => Err(permanent(
            "InvalidState",
            format!("job {} has already finished ({:?})", job.id, job.status),
        )),
    }
}

pub async fn waiting_for_quota(
    w: &WorkerContext,
    input: QuotaWaitInput,
) -> Result<(), ActivityError> {
    let Some(job) = super::find_job(w, &input.job_id).await? else {
        return Ok(());
    };
    let resumes_at = chrono::Utc::now() + chrono::Duration::seconds(input.wait_secs as i64);
    let reason = format!(
        "waiting for the platform's quota to reset (until about {}): {}",
        resumes_at.format("%Y-%m-%dT%H:%M:%SZ"),
        input.error
    );
    // The transition and its log entry commit together; a retried attempt finds the job moved.
    let txn = w.db.begin().await.map_err(db)?;
    if !repo::requeue_job(&txn, &job.id, entities::JobStatus::Running, Some(&reason))
        .await
        .map_err(db)?
    {
        return Ok(());
    }
    tracing::warn!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, wait_secs = input.wait_secs, error = %input.error, "job waits for the platform's quota to reset");
    repo::log_activity(
        &txn,
        &job.account_id,
        "system",
        "job.waiting_for_quota",
        ("job", &job.id),
        json!({"error": input.error, "wait_secs": input.wait_secs, "resumes_at": resumes_at}),
    )
    .await
    .map_err(db)?;
    txn.commit().await.map_err(db)
}
