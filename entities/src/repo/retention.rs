//! Retention in the database: policies, the plan of a run (which snapshots a policy expires),
//! deleting an expired snapshot's rows, and the runs themselves. The blob store's side (marking,
//! tombstones, a backup's use of a blob) is in [`super::blob_sweep`].

use crate::{
    model::*,
    retention::{self, Decision, KeepReason, Policy, SnapshotInfo},
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};
use serde_json::Value;
use std::collections::HashSet;

/// The policy set on `target_id` (an account's or a source's id), if any.
pub async fn retention_policy(
    db: &impl ConnectionTrait,
    target_id: &str,
) -> Result<Option<retention_policy::Model>, DbErr> {
    retention_policy::Entity::find_by_id(target_id)
        .one(db)
        .await
}

/// Sets (creates or replaces) a policy; the row keeps its `created_at`.
pub async fn put_retention_policy(
    db: &impl ConnectionTrait,
    row: retention_policy::Model,
) -> Result<retention_policy::Model, DbErr> {
    use retention_policy::Column as C;
    retention_policy::Entity::insert(retention_policy::ActiveModel::from(row.clone()))
        .on_conflict(
            OnConflict::column(C::TargetId)
                .update_columns([
                    C::KeepLast,
                    C::KeepDaily,
                    C::KeepWeekly,
                    C::KeepMonthly,
                    C::KeepYearly,
                    C::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(retention_policy(db, &row.target_id).await?.unwrap_or(row))
}

/// Deletes the policy on `target_id`; false when there was none.
pub async fn delete_retention_policy(
    db: &impl ConnectionTrait,
    target_id: &str,
) -> Result<bool, DbErr> {
    let res = retention_policy::Entity::delete_by_id(target_id)
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Every policy set in `account_id` (its own and its sources').
pub async fn account_retention_policies(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<retention_policy::Model>, DbErr> {
    retention_policy::Entity::find()
        .filter(retention_policy::Column::AccountId.eq(account_id))
        .all(db)
        .await
}

/// The counts of a stored policy.
pub fn policy_of(row: &retention_policy::Model) -> Policy {
    let count = |n: i32| n.max(0) as u32;
    Policy {
        keep_last: count(row.keep_last),
        keep_daily: count(row.keep_daily),
        keep_weekly: count(row.keep_weekly),
        keep_monthly: count(row.keep_monthly),
        keep_yearly: count(row.keep_yearly),
    }
}

/// A snapshot a plan deletes, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpiredSnapshot {
    pub snapshot_id: String,
    pub source_id: String,
    pub created_at: DateTime<Utc>,
    /// `not kept by the source policy (keep_last 3, keep_daily 7)`.
    pub reason: String,
    pub stored_bytes: i64,
}

/// The plan for one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcePlan {
    pub source_id: String,
    /// `source`, `account` or `none`: where the policy applied comes from.
    pub policy_from: &'static str,
    pub policy: Option<Policy>,
    pub decisions: Vec<Decision>,
}

/// What a retention run over an account (or one of its sources) would delete.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RetentionPlan {
    pub sources: Vec<SourcePlan>,
    pub expired: Vec<ExpiredSnapshot>,
    pub kept: usize,
}

/// Which snapshots the policies of `account_id` expire, for every source of the account or only
/// `only_source`. A source's own policy overrides the account's; a source with neither keeps
/// everything.
pub async fn plan_retention(
    db: &impl ConnectionTrait,
    account_id: &str,
    only_source: Option<&str>,
) -> Result<RetentionPlan, DbErr> {
    let policies = account_retention_policies(db, account_id).await?;
    let account_policy = policies.iter().find(|p| p.source_id.is_none());
    let mut sources = source::Entity::find()
        .filter(source::Column::AccountId.eq(account_id))
        .order_by_asc(source::Column::Id);
    if let Some(id) = only_source {
        sources = sources.filter(source::Column::Id.eq(id));
    }
    let mut plan = RetentionPlan::default();
    for src in sources.all(db).await? {
        let own = policies
            .iter()
            .find(|p| p.source_id.as_deref() == Some(&src.id));
        let (policy_from, row) = match (own, account_policy) {
            (Some(p), _) => ("source", Some(p)),
            (None, Some(p)) => ("account", Some(p)),
            (None, None) => ("none", None),
        };
        let policy = row.map(policy_of);
        let snapshots = snapshot::Entity::find()
            .filter(snapshot::Column::SourceId.eq(&src.id))
            .order_by_desc(snapshot::Column::Id)
            .all(db)
            .await?;
        let infos: Vec<SnapshotInfo> = snapshots
            .iter()
            .map(|s| SnapshotInfo {
                id: s.id.clone(),
                status: s.status,
                created_at: s.created_at,
                parent_snapshot_id: s.parent_snapshot_id.clone(),
            })
            .collect();
        let decisions = retention::select(policy.as_ref(), &infos, src.last_snapshot_id.as_deref());
        for (decision, snap) in decisions.iter().zip(&snapshots) {
            if decision.keep() {
                plan.kept += 1;
                continue;
            }
            plan.expired.push(ExpiredSnapshot {
                snapshot_id: snap.id.clone(),
                source_id: src.id.clone(),
                created_at: snap.created_at,
                reason: format!(
                    "not kept by the {policy_from} policy ({})",
                    policy.map(|p| p.describe()).unwrap_or_default()
                ),
                stored_bytes: snap.stored_bytes,
            });
        }
        plan.sources.push(SourcePlan {
            source_id: src.id,
            policy_from,
            policy,
            decisions,
        });
    }
    Ok(plan)
}

/// The reasons a plan keeps a snapshot, as shown to people.
pub fn keep_reasons(decision: &Decision) -> Vec<String> {
    decision.reasons.iter().map(KeepReason::to_string).collect()
}

/// Deletes the rows of an expired snapshot (its parts, its blob uses, the snapshot) once its
/// objects are gone; false when it was gone already. Refuses (false, nothing deleted) a snapshot
/// that is not complete. Run it in a transaction (with its activity-log entry).
pub async fn delete_snapshot_rows(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
) -> Result<bool, DbErr> {
    let complete = snapshot::Entity::find_by_id(snapshot_id)
        .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
        .one(db)
        .await?;
    if complete.is_none() {
        return Ok(false);
    }
    snapshot_part::Entity::delete_many()
        .filter(snapshot_part::Column::SnapshotId.eq(snapshot_id))
        .exec(db)
        .await?;
    blob_ref::Entity::delete_many()
        .filter(blob_ref::Column::SnapshotId.eq(snapshot_id))
        .exec(db)
        .await?;
    let res = snapshot::Entity::delete_many()
        .filter(snapshot::Column::Id.eq(snapshot_id))
        .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Run statuses.
pub const RUN_RUNNING: &str = "running";
pub const RUN_SUCCEEDED: &str = "succeeded";
pub const RUN_FAILED: &str = "failed";

/// Records a run about to start.
pub async fn create_retention_run(
    db: &impl ConnectionTrait,
    row: retention_run::Model,
) -> Result<retention_run::Model, DbErr> {
    retention_run::ActiveModel::from(row).insert(db).await
}

/// The run of `workflow_id`, created (by a scheduled run's first activity) if it does not exist;
/// a retried activity finds the row its first attempt made.
pub async fn claim_retention_run(
    db: &impl ConnectionTrait,
    account_id: &str,
    workflow_id: &str,
) -> Result<retention_run::Model, DbErr> {
    retention_run::Entity::insert(retention_run::ActiveModel::from(retention_run::Model {
        id: crate::new_id(),
        account_id: account_id.to_owned(),
        source_id: None,
        trigger: "schedule".into(),
        status: RUN_RUNNING.into(),
        requested_by: "system".into(),
        workflow_id: workflow_id.to_owned(),
        result: None,
        error: None,
        created_at: Utc::now(),
        finished_at: None,
    }))
    .on_conflict(
        OnConflict::column(retention_run::Column::WorkflowId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    retention_run::Entity::find()
        .filter(retention_run::Column::WorkflowId.eq(workflow_id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("retention run of {workflow_id}")))
}

/// Ends a running run with its result or error; false when it had ended already (its first
/// outcome stays).
pub async fn finish_retention_run(
    db: &impl ConnectionTrait,
    run_id: &str,
    result: Option<Value>,
    error: Option<String>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let status = if error.is_some() {
        RUN_FAILED
    } else {
        RUN_SUCCEEDED
    };
    let res = retention_run::Entity::update_many()
        .col_expr(retention_run::Column::Status, Expr::value(status))
        .col_expr(retention_run::Column::Result, Expr::value(result))
        .col_expr(retention_run::Column::Error, Expr::value(error))
        .col_expr(retention_run::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(retention_run::Column::Id.eq(run_id))
        .filter(retention_run::Column::Status.eq(RUN_RUNNING))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The blobs of `account_id` that no snapshot would use once `removed` are deleted: what a dry
/// run reports as the sweep's share. Counts and stored bytes.
pub async fn blobs_unreferenced_without(
    db: &impl ConnectionTrait,
    account_id: &str,
    removed: &HashSet<String>,
) -> Result<(u64, u64), DbErr> {
    let used = super::referenced_blobs(db, account_id, removed).await?;
    let blobs = blob::Entity::find()
        .filter(blob::Column::AccountId.eq(account_id))
        .all(db)
        .await?;
    Ok(blobs
        .iter()
        .filter(|b| !used.contains(&b.sha256))
        .fold((0, 0), |(n, bytes), b| {
            (n + 1, bytes + b.stored_bytes.max(0) as u64)
        }))
}

/// Sets the fields a new run row needs that callers do not choose.
pub fn new_run(
    account_id: &str,
    source_id: Option<&str>,
    requested_by: &str,
    workflow_id: impl FnOnce(&str) -> String,
) -> retention_run::Model {
    let id = crate::new_id();
    retention_run::Model {
        workflow_id: workflow_id(&id),
        id,
        account_id: account_id.to_owned(),
        source_id: source_id.map(str::to_owned),
        trigger: "api".into(),
        status: RUN_RUNNING.into(),
        requested_by: requested_by.to_owned(),
        result: None,
        error: None,
        created_at: Utc::now(),
        finished_at: None,
    }
}

/// The row of `policy` set on an account, or on one of its sources.
pub fn policy_row(
    account_id: &str,
    source_id: Option<&str>,
    policy: Policy,
) -> retention_policy::Model {
    let now = Utc::now();
    retention_policy::Model {
        target_id: source_id.unwrap_or(account_id).to_owned(),
        account_id: account_id.to_owned(),
        source_id: source_id.map(str::to_owned),
        keep_last: policy.keep_last as i32,
        keep_daily: policy.keep_daily as i32,
        keep_weekly: policy.keep_weekly as i32,
        keep_monthly: policy.keep_monthly as i32,
        keep_yearly: policy.keep_yearly as i32,
        created_at: now,
        updated_at: now,
    }
}
