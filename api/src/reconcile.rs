//! Keeps job rows true to their workflow runs when a run ends without recording its outcome.
//!
//! A backup workflow records every outcome itself (succeeded, failed, cancelled). Only an
//! operator's hand can end a run behind its back — *Terminate* in the Web UI, an execution
//! timeout, a workflow that never started because the API died between creating the job row and
//! starting it — and such a job would stay `running`, blocking its source forever. Every API
//! process runs [`run`]: each minute it asks Temporal about active jobs older than a grace
//! period and ends those whose run is gone (`failed`, or `cancelled` for a cancelled run), with
//! the reason in the job's `error`. A run that was *reset* is a new run of the same workflow:
//! the job's `run_id` is moved to it. Ending a job is the same once-only transition the workflow
//! uses, so replicas running the pass at once do no harm.

use chrono::Utc;
use entities::{JobStatus, job, repo};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use std::time::Duration;
use temporal::{Client, RunState, RunStatus};

/// How often the pass runs.
pub const EVERY: Duration = Duration::from_secs(60);

/// How old an active job must be before its missing run counts as lost: a job row is created
/// just before its workflow is started.
pub const GRACE: Duration = Duration::from_secs(120);

/// Active jobs looked at per pass (oldest first).
const BATCH: u64 = 500;

/// What one pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Jobs ended because their run was gone.
    pub ended: u64,
    /// Jobs whose `run_id` moved to the workflow's latest run (after a reset).
    pub relinked: u64,
}

/// Looks at the active jobs created more than `grace` ago. Stops early, changing nothing more,
/// when Temporal cannot be asked.
pub async fn reconcile_once(
    db: &DatabaseConnection,
    client: &Client,
    grace: Duration,
) -> Result<Reconciled, DbErr> {
    let cutoff = Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let jobs = job::Entity::find()
        .filter(job::Column::Status.is_in(JobStatus::ACTIVE))
        .filter(job::Column::CreatedAt.lt(cutoff))
        .order_by_asc(job::Column::Id)
        .limit(BATCH)
        .all(db)
        .await?;
    let mut done = Reconciled::default();
    for job in jobs {
        let state = match temporal::run_state(client, &job.workflow_id).await {
            Ok(state) => state,
            Err(e) => {
                tracing::warn!(error = %e, "job reconciliation skipped: Temporal did not answer");
                break;
            }
        };
        let (cancelled, error) = match state {
            Some(RunState {
                status: RunStatus::Running,
                run_id,
            }) => {
                if job.run_id.as_deref() != Some(run_id.as_str()) {
                    job::Entity::update_many()
                        .col_expr(job::Column::RunId, Expr::value(run_id.clone()))
                        .filter(job::Column::Id.eq(job.id.as_str()))
                        .exec(db)
                        .await?;
                    tracing::info!(job_id = %job.id, run_id = %run_id, "job follows its workflow's new run");
                    done.relinked += 1;
                }
                continue;
            }
            None => (
                false,
                "the workflow run does not exist in Temporal: it never started, or its \
                 history is past the namespace's retention",
            ),
            Some(RunState { status, .. }) => match status {
                RunStatus::Terminated => (
                    false,
                    "the workflow run was terminated in Temporal before it recorded an outcome",
                ),
                RunStatus::TimedOut => (
                    false,
                    "the workflow run reached its execution timeout in Temporal",
                ),
                RunStatus::Canceled => (true, "the workflow run was cancelled in Temporal"),
                RunStatus::Failed => (
                    false,
                    "the workflow run failed in Temporal without recording why; see its history",
                ),
                // A completed run has recorded its outcome; anything else is left alone.
                RunStatus::Completed | RunStatus::Other | RunStatus::Running => continue,
            },
        };
        if repo::end_job_unsuccessfully(
            db,
            &job,
            Some(&job.snapshot_id),
            cancelled,
            error,
            "system",
        )
        .await?
        {
            tracing::warn!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, error, "job ended: its workflow run is gone");
            done.ended += 1;
        }
    }
    Ok(done)
}

/// Runs the pass every `every`, for as long as the future is polled.
pub async fn run(db: DatabaseConnection, client: Client, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(e) = reconcile_once(&db, &client, GRACE).await {
            tracing::warn!(error = %e, "job reconciliation pass failed");
        }
    }
}
