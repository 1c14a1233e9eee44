//! Snapshot verifications: created by the API or a scheduled pass, finished once by the
//! verification workflow, which announces a failure to the account's webhooks in the same
//! transaction.

use super::{enqueue_event, log_activity, rfc3339};
use crate::model::*;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait, sea_query::Expr,
};
use serde_json::{Map, Value, json};

/// How many problems a verification row lists; the count goes on past it.
pub const MAX_VERIFICATION_PROBLEMS: usize = 100;

/// The Temporal workflow id of a verification: one run per verification row.
pub fn verification_workflow_id(snapshot_id: &str, verification_id: &str) -> String {
    format!("verify/{snapshot_id}/{verification_id}")
}

/// Inserts a `running` verification of `snap`, asked for by `requested_by` (for a scheduled
/// pass, `pass_id` is the pass's run).
pub async fn create_verification(
    db: &impl ConnectionTrait,
    snap: &snapshot::Model,
    requested_by: &str,
    pass_id: Option<&str>,
) -> Result<verification::Model, DbErr> {
    let id = crate::new_id();
    verification::ActiveModel {
        workflow_id: Set(verification_workflow_id(&snap.id, &id)),
        id: Set(id),
        account_id: Set(snap.account_id.clone()),
        source_id: Set(snap.source_id.clone()),
        snapshot_id: Set(snap.id.clone()),
        status: Set(verification::RUNNING.to_owned()),
        requested_by: Set(requested_by.to_owned()),
        run_id: Set(None),
        pass_id: Set(pass_id.map(str::to_owned)),
        decrypted: Set(false),
        objects_checked: Set(0),
        bytes_checked: Set(0),
        records_counted: Set(0),
        problems: Set(json!([])),
        problem_count: Set(0),
        error: Set(None),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
    }
    .insert(db)
    .await
}

/// Records the Temporal run of a verification.
pub async fn set_verification_run(
    db: &impl ConnectionTrait,
    verification_id: &str,
    run_id: &str,
) -> Result<(), DbErr> {
    verification::Entity::update_many()
        .col_expr(verification::Column::RunId, Expr::value(run_id))
        .filter(verification::Column::Id.eq(verification_id))
        .exec(db)
        .await?;
    Ok(())
}

/// What a verification found, as the workflow reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VerificationOutcome {
    pub decrypted: bool,
    pub objects_checked: u64,
    pub bytes_checked: u64,
    pub records_counted: u64,
    /// The first problems found (`{"key", "kind", "detail"}`).
    pub problems: Vec<Value>,
    pub problem_count: u64,
    /// Set when the check could not be completed.
    pub error: Option<String>,
}

impl VerificationOutcome {
    /// `passed`, `failed` or `error`.
    pub fn status(&self) -> &'static str {
        if self.problem_count > 0 {
            verification::FAILED
        } else if self.error.is_some() {
            verification::ERROR
        } else {
            verification::PASSED
        }
    }
}

/// Finishes a running verification with `outcome`, once; logs it, and when it did not pass,
/// notifies the account's webhooks (`verification.failed`) in the same transaction. Returns
/// the finished row, or `None` when it had already finished (a retried activity).
pub async fn finish_verification(
    db: &DatabaseConnection,
    verification_id: &str,
    outcome: &VerificationOutcome,
) -> Result<Option<verification::Model>, DbErr> {
    let status = outcome.status();
    let mut problems = outcome.problems.clone();
    problems.truncate(MAX_VERIFICATION_PROBLEMS);
    let txn = db.begin().await?;
    let res = verification::Entity::update_many()
        .col_expr(verification::Column::Status, Expr::value(status))
        .col_expr(
            verification::Column::Decrypted,
            Expr::value(outcome.decrypted),
        )
        .col_expr(
            verification::Column::ObjectsChecked,
            Expr::value(outcome.objects_checked as i64),
        )
        .col_expr(
            verification::Column::BytesChecked,
            Expr::value(outcome.bytes_checked as i64),
        )
        .col_expr(
            verification::Column::RecordsCounted,
            Expr::value(outcome.records_counted as i64),
        )
        .col_expr(
            verification::Column::Problems,
            Expr::value(Value::Array(problems)),
        )
        .col_expr(
            verification::Column::ProblemCount,
            Expr::value(outcome.problem_count as i64),
        )
        .col_expr(
            verification::Column::Error,
            Expr::value(outcome.error.clone()),
        )
        .col_expr(verification::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(verification::Column::Id.eq(verification_id))
        .filter(verification::Column::Status.eq(verification::RUNNING))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    let row = verification::Entity::find_by_id(verification_id)
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("verification {verification_id}")))?;
    log_activity(
        &txn,
        &row.account_id,
        "system",
        &format!("verification.{status}"),
        ("snapshot", &row.snapshot_id),
        json!({
            "verification_id": row.id,
            "objects_checked": row.objects_checked,
            "problem_count": row.problem_count,
            "error": row.error,
        }),
    )
    .await?;
    if status != verification::PASSED {
        let mut subject = Map::new();
        subject.insert("verification".into(), verification_payload(&row));
        enqueue_event(&txn, &row.account_id, super::VERIFICATION_FAILED, subject).await?;
    }
    txn.commit().await?;
    Ok(Some(row))
}

/// A verification as webhook payloads show it.
pub fn verification_payload(row: &verification::Model) -> Value {
    json!({
        "id": row.id,
        "snapshot_id": row.snapshot_id,
        "source_id": row.source_id,
        "status": row.status,
        "decrypted": row.decrypted,
        "objects_checked": row.objects_checked,
        "bytes_checked": row.bytes_checked,
        "records_counted": row.records_counted,
        "problem_count": row.problem_count,
        "problems": row.problems,
        "error": row.error,
        "requested_by": row.requested_by,
        "created_at": rfc3339(row.created_at),
        "finished_at": row.finished_at.map(rfc3339),
    })
}

/// The verifications of one scheduled pass over `account_id` (`pass_id` is the pass's run):
/// for each source, its newest complete snapshot and the snapshots that one builds on, back to
/// the last full one — everything a restore of the newest state reads. Created once: a retried
/// call returns the rows the first one made. Each comes with its source's platform.
pub async fn start_verify_pass(
    db: &DatabaseConnection,
    account_id: &str,
    pass_id: &str,
) -> Result<Vec<(verification::Model, String)>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let txn = db.begin().await?;
    let mut rows = verification::Entity::find()
        .filter(verification::Column::PassId.eq(pass_id))
        .order_by_asc(verification::Column::Id)
        .all(&txn)
        .await?;
    let sources = source::Entity::find()
        .filter(source::Column::AccountId.eq(account_id))
        .order_by_asc(source::Column::Id)
        .all(&txn)
        .await?;
    if rows.is_empty() {
        for src in &sources {
            let newest = snapshot::Entity::find()
                .filter(snapshot::Column::SourceId.eq(&src.id))
                .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
                .order_by_desc(snapshot::Column::Id)
                .limit(1)
                .one(&txn)
                .await?;
            let mut next = newest;
            // Bounded, so a damaged chain (a cycle) cannot loop for ever.
            for _ in 0..10_000 {
                let Some(snap) = next.take() else { break };
                rows.push(create_verification(&txn, &snap, "schedule", Some(pass_id)).await?);
                if snap.kind == JobKind::Backup {
                    break;
                }
                next = match &snap.parent_snapshot_id {
                    Some(parent) => snapshot::Entity::find_by_id(parent)
                        .one(&txn)
                        .await?
                        .filter(|p| p.status == SnapshotStatus::Complete),
                    None => None,
                };
            }
        }
    }
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let platform = sources
                .iter()
                .find(|s| s.id == row.source_id)
                .map(|s| s.platform.clone())
                .unwrap_or_default();
            (row, platform)
        })
        .collect())
}
