//! Per-account job slots: at most `cap` jobs of an account run at once; the others wait
//! `queued` until one finishes or gives its slot back.

use crate::model::*;
use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

/// What asking for a job slot found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotOutcome {
    /// The job is `running` now (or already was: the answer of a retried attempt).
    Acquired {
        /// Whether this call moved it (and should say so in the activity log).
        moved: bool,
    },
    /// The account has `running` jobs already (at least the cap); the job stays queued.
    Busy { running: u64 },
    /// The job has finished, or does not exist.
    Gone,
}

/// Moves `job` from `queued` (or `needs_reauth`) to `running` if its account has fewer than
/// `cap` running jobs, and logs the start in the activity log.
///
/// Two jobs of one account asking at once cannot both take the last slot: on Postgres the
/// account's row is locked (`FOR UPDATE`) for the transaction, and on SQLite the transaction
/// holds the database's single writer lock from its start (`BEGIN IMMEDIATE`). The move itself is
/// one guarded `UPDATE` that counts the running jobs in its own `WHERE`.
pub async fn acquire_job_slot(
    db: &DatabaseConnection,
    job_id: &str,
    cap: u64,
) -> Result<SlotOutcome, DbErr> {
    // SQLite: take the write lock at BEGIN, so the reads below cannot go stale before the
    // write (Postgres ignores the mode and relies on the row lock).
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let Some(job) = job::Entity::find_by_id(job_id).one(&txn).await? else {
        return Ok(SlotOutcome::Gone);
    };
    account::Entity::find_by_id(&job.account_id)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let outcome = match job.status {
        JobStatus::Running => SlotOutcome::Acquired { moved: false },
        status if status.is_final() => SlotOutcome::Gone,
        _ => {
            let running = Query::select()
                .expr(Expr::col(job::Column::Id).count())
                .from(job::Entity)
                .and_where(job::Column::AccountId.eq(job.account_id.as_str()))
                .and_where(job::Column::Status.eq(JobStatus::Running))
                .to_owned();
            let moved = job::Entity::update_many()
                .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
                .col_expr(
                    job::Column::StartedAt,
                    Expr::value(job.started_at.unwrap_or_else(Utc::now)),
                )
                .col_expr(job::Column::Error, Expr::value(Option::<String>::None))
                .filter(job::Column::Id.eq(job_id))
                .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::NeedsReauth]))
                .filter(Expr::SubQuery(None, Box::new(running.into())).lt(cap as i64))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if moved {
                // The transition and its log entry commit together.
                super::log_activity(
                    &txn,
                    &job.account_id,
                    "system",
                    "job.running",
                    ("job", &job.id),
                    serde_json::json!({"status": JobStatus::Running, "account_max_jobs": cap}),
                )
                .await?;
                SlotOutcome::Acquired { moved: true }
            } else {
                SlotOutcome::Busy {
                    running: running_jobs(&txn, &job.account_id).await?,
                }
            }
        }
    };
    txn.commit().await?;
    Ok(outcome)
}

/// How many jobs of `account_id` are running.
pub async fn running_jobs(db: &impl ConnectionTrait, account_id: &str) -> Result<u64, DbErr> {
    job::Entity::find()
        .filter(job::Column::AccountId.eq(account_id))
        .filter(job::Column::Status.eq(JobStatus::Running))
        .count(db)
        .await
}

/// Moves a job from `from` back to `queued`, giving up its slot: a running job whose platform
/// quota is exhausted (`reason`, shown as the job's error while it waits), or a re-authorized
/// job that must queue for a slot again (no reason). False when the job was not in `from`
/// (finished, or moved by an earlier attempt).
pub async fn requeue_job(
    db: &impl ConnectionTrait,
    job_id: &str,
    from: JobStatus,
    reason: Option<&str>,
) -> Result<bool, DbErr> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
        .col_expr(job::Column::Error, Expr::value(reason.map(str::to_owned)))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
