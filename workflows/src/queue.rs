//! The job queue inside `BackupWorkflow`: per-account job slots, the wait for a platform's
//! daily quota, and the `ListbackupJobStatus` search attribute.
//!
//! A job that is over its account's cap is not refused: its run waits `queued`, asking
//! `backup.acquire_slot` again on a durable timer whose interval grows from a few seconds to a
//! minute, so the queue survives worker and server restarts like the rest of the run. A run
//! that stops working for a while (its connection needs re-authorizing, or a platform quota is
//! exhausted) gives its slot back and queues again when it can continue.

use crate::backup::{BackupWorkflow, Stop, root_message, short_activity};
use crate::contracts::*;
use std::time::Duration;
use temporalio_workflow::{ActivityExecutionError, WorkflowContext};

/// The patch marker of runs that take job slots and record their status in the search
/// attribute; histories recorded before it replay without either.
pub const JOB_SLOTS_PATCH: &str = "job-slots-and-status";

/// The first wait of a queued run before it asks for a slot again; it doubles up to
/// [`SLOT_WAIT_MAX`].
pub const SLOT_WAIT_FIRST: Duration = Duration::from_secs(2);
pub const SLOT_WAIT_MAX: Duration = Duration::from_secs(60);

/// How long to wait when `e` is an extraction stopped by an exhausted platform quota.
pub fn quota_wait(e: &ActivityExecutionError) -> Option<Duration> {
    let Some(temporalio_workflow::common::error::IncomingError::Application(failure)) = e.cause()
    else {
        return None;
    };
    if failure.type_name() != Some(QUOTA_EXHAUSTED) {
        return None;
    }
    let secs = failure
        .details::<QuotaExhausted>()
        .ok()
        .flatten()
        .map_or(DEFAULT_QUOTA_WAIT_SECS, |q| q.wait_secs);
    Some(Duration::from_secs(secs.max(1)))
}

impl BackupWorkflow {
    /// Records where the job stands in the `ListbackupJobStatus` search attribute (for runs
    /// that carry the [`JOB_SLOTS_PATCH`] marker).
    pub(crate) fn record_status(ctx: &mut WorkflowContext<Self>, status: &str) {
        if ctx.state(|s| s.job_slots) {
            ctx.upsert_search_attributes([crate::search::JOB_STATUS.value_set(status.to_owned())]);
        }
    }

    /// Waits `queued` until the account has a free job slot and the job holds it (`running`).
    pub(crate) async fn acquire_slot(
        ctx: &mut WorkflowContext<Self>,
        input: &BackupInput,
    ) -> Result<(), Stop> {
        ctx.state_mut(|s| s.progress.phase = "queued".into());
        Self::record_status(ctx, "queued");
        let mut wait = SLOT_WAIT_FIRST;
        loop {
            if let Some(reason) = ctx.state(|s| s.cancel_reason.clone()) {
                return Err(Stop::Cancelled(reason));
            }
            let slot = ctx
                .execute_activity(
                    AcquireJobSlot,
                    SlotInput {
                        job_id: input.job_id.clone(),
                    },
                    short_activity(),
                )
                .await?;
            if slot.acquired {
                break;
            }
            temporalio_workflow::select! {
                _ = ctx.timer(wait) => {},
                _ = ctx.wait_condition(|s: &Self| s.cancel_reason.is_some()) => {},
            };
            wait = (wait * 2).min(SLOT_WAIT_MAX);
        }
        Self::record_status(ctx, "running");
        Ok(())
    }

    /// A platform quota is exhausted until later than is worth waiting for in-process: give the
    /// slot back, sleep on a durable timer until the quota resets, queue for a slot again, and
    /// continue the same snapshot from its checkpoint. No retry attempt is spent on the wait.
    pub(crate) async fn await_quota(
        ctx: &mut WorkflowContext<Self>,
        input: &BackupInput,
        exhausted: ActivityExecutionError,
    ) -> Result<(), Stop> {
        let wait = quota_wait(&exhausted).unwrap_or(Duration::from_secs(DEFAULT_QUOTA_WAIT_SECS));
        let waiting = QuotaWaitInput {
            job_id: input.job_id.clone(),
            error: root_message(&exhausted),
            wait_secs: wait.as_secs(),
        };
        ctx.execute_activity(MarkWaitingForQuota, waiting, short_activity())
            .await?;
        ctx.state_mut(|s| s.progress.phase = "waiting_for_quota".into());
        Self::record_status(ctx, "waiting_for_quota");
        temporalio_workflow::select! {
            _ = ctx.timer(wait) => {},
            _ = ctx.wait_condition(|s: &Self| s.cancel_reason.is_some()) => {},
        };
        if let Some(reason) = ctx.state(|s| s.cancel_reason.clone()) {
            return Err(Stop::Cancelled(reason));
        }
        Self::acquire_slot(ctx, input).await?;
        ctx.state_mut(|s| s.progress.phase = "extracting".into());
        Ok(())
    }
}
