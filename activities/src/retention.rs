//! The activities of `RetentionWorkflow`: plan, delete expired snapshots, sweep blobs, record
//! the run's result.
//!
//! An expired snapshot is deleted manifest first — from that moment it is no longer a complete
//! snapshot to anyone reading the bucket — then every other object under its prefix, then its
//! rows (parts, blob uses, the snapshot) with its `snapshot.expired` log entry in one
//! transaction. A retried attempt finds fewer objects and the same rows, so it converges.
//!
//! The sweep follows the protocol of `entities::repo::blob_sweep` (argued in
//! `docs/retention.md`): stale tombstones are taken over, then every stored blob no snapshot
//! uses is tombstoned by a guarded update (which fails for a blob a backup has just taken), its
//! object deleted within the tombstone's window, and its row forgotten.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, storage, temporary},
};
use entities::{account, blob, repo, retention_run, snapshot};
use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::json;
use std::{collections::HashSet, sync::Arc, time::Instant};
use storage::{StorageError, layout, object_store::Hold};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::retention::{
    self as contracts, DeleteSnapshotsInput, DeletedSnapshots, ExpiredSnapshot, FinishRunInput,
    HeldSnapshot, PlanInput, RetentionPlan, SweepInput, SweepResult,
};

/// Implements the retention contracts in `workflows::retention`.
pub struct RetentionActivities {
    pub ctx: WorkerContext,
}

impl RetentionActivities {
    pub fn new(ctx: WorkerContext) -> Self {
        Self { ctx }
    }
}

#[activities]
impl RetentionActivities {
    #[activity(definition = contracts::PlanRetention)]
    pub async fn plan(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: PlanInput,
    ) -> Result<RetentionPlan, ActivityError> {
        plan(&self.ctx, input).await
    }

    #[activity(definition = contracts::DeleteSnapshots)]
    pub async fn delete_snapshots(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: DeleteSnapshotsInput,
    ) -> Result<DeletedSnapshots, ActivityError> {
        delete_snapshots(&self.ctx, &ctx, input).await
    }

    #[activity(definition = contracts::SweepBlobs)]
    pub async fn sweep_blobs(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: SweepInput,
    ) -> Result<SweepResult, ActivityError> {
        sweep(&self.ctx, &ctx, input).await
    }

    #[activity(definition = contracts::FinishRun)]
    pub async fn finish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinishRunInput,
    ) -> Result<(), ActivityError> {
        finish(&self.ctx, input).await
    }
}

async fn plan(w: &WorkerContext, input: PlanInput) -> Result<RetentionPlan, ActivityError> {
    // A schedule left behind by a deleted account has nothing to do.
    account::Entity::find_by_id(&input.account_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("account", &input.account_id))?;
    let run = match &input.run_id {
        Some(id) => retention_run::Entity::find_by_id(id)
            .one(&w.db)
            .await
            .map_err(db)?
            .ok_or_else(|| not_found("retention run", id))?,
        None => repo::claim_retention_run(&w.db, &input.account_id, &input.workflow_id)
            .await
            .map_err(db)?,
    };
    let plan = repo::plan_retention(&w.db, &input.account_id, input.source_id.as_deref())
        .await
        .map_err(db)?;
    tracing::info!(
        run_id = %run.id,
        account_id = %input.account_id,
        expired = plan.expired.len(),
        kept = plan.kept,
        "retention planned"
    );
    Ok(RetentionPlan {
        run_id: run.id,
        kept: plan.kept as u64,
        expired: plan
            .expired
            .into_iter()
            .map(|e| ExpiredSnapshot {
                snapshot_id: e.snapshot_id,
                source_id: e.source_id,
                reason: e.reason,
            })
            .collect(),
    })
}

async fn delete_snapshots(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: DeleteSnapshotsInput,
) -> Result<DeletedSnapshots, ActivityError> {
    // Decided again now: a snapshot the policy keeps by now (changed since the plan) stays.
    let still_expired: HashSet<String> =
        repo::plan_retention(&w.db, &input.account_id, input.source_id.as_deref())
            .await
            .map_err(db)?
            .expired
            .into_iter()
            .map(|e| e.snapshot_id)
            .collect();
    let mut out = DeletedSnapshots::default();
    for expired in input.snapshots {
        let row = snapshot::Entity::find_by_id(&expired.snapshot_id)
            .one(&w.db)
            .await
            .map_err(db)?;
        let Some(row) = row else {
            // Its rows go last: an earlier attempt deleted it completely.
            out.deleted.push(expired);
            continue;
        };
        if !still_expired.contains(&row.id) || row.account_id != input.account_id {
            out.skipped.push(row.id);
            continue;
        }
        // Checked before anything is deleted, so a retained snapshot stays whole.
        let prefix = layout::snapshot_prefix(&row.account_id, &row.source_id, &row.id);
        if let Some(hold) = w.store.hold(&prefix).await.map_err(storage)? {
            tracing::info!(snapshot_id = %row.id, source_id = %row.source_id, %hold, "expired snapshot kept: Object Lock retains it");
            out.held.push(HeldSnapshot {
                snapshot_id: row.id,
                source_id: row.source_id,
                retained_until: match hold {
                    Hold::Until(t) => Some(t.to_rfc3339()),
                    Hold::LegalHold => None,
                },
            });
            continue;
        }
        match delete_objects(w, &row).await {
            Ok(()) => {}
            // Retained after all (a legal hold S3 did not show, or a lock set since): the rest
            // of the account's snapshots still go; a later run finishes this one.
            Err(StorageError::Locked { key }) => {
                tracing::warn!(snapshot_id = %row.id, %key, "expired snapshot kept: the store refused to delete a retained object");
                out.held.push(HeldSnapshot {
                    snapshot_id: row.id,
                    source_id: row.source_id,
                    retained_until: None,
                });
                continue;
            }
            Err(e) => return Err(storage(e)),
        }
        let txn = w.db.begin().await.map_err(db)?;
        if repo::delete_snapshot_rows(&txn, &row.id)
            .await
            .map_err(db)?
        {
            repo::log_activity(
                &txn,
                &row.account_id,
                "system",
                "snapshot.expired",
                ("snapshot", &row.id),
                json!({
                    "run_id": input.run_id,
                    "source_id": row.source_id,
                    "reason": expired.reason,
                    "stored_bytes": row.stored_bytes,
                }),
            )
            .await
            .map_err(db)?;
        }
        txn.commit().await.map_err(db)?;
        tracing::info!(snapshot_id = %row.id, source_id = %row.source_id, reason = %expired.reason, "snapshot expired and deleted");
        out.bytes_freed += row.stored_bytes.max(0) as u64;
        out.deleted.push(expired);
        let _ = ctx.record_heartbeat(out.deleted.len()).await;
    }
    Ok(out)
}

/// The manifest first, so the snapshot stops being complete in the bucket; then everything else
/// under its prefix (parts, and anything a crashed attempt left; with an Object Lock, every
/// version of each, hidden ones included).
async fn delete_objects(w: &WorkerContext, row: &snapshot::Model) -> Result<(), StorageError> {
    let manifest = layout::manifest_key(&row.account_id, &row.source_id, &row.id);
    w.store.delete(&manifest).await?;
    let prefix = layout::snapshot_prefix(&row.account_id, &row.source_id, &row.id);
    w.store.delete_prefix(&prefix).await
}

async fn sweep(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: SweepInput,
) -> Result<SweepResult, ActivityError> {
    let mut out = SweepResult::default();
    // Tombstones left by a sweep that stopped are finished first.
    for stale in repo::stale_tombstones(&w.db, &input.account_id)
        .await
        .map_err(db)?
    {
        if w.store.hold(&stale.key).await.map_err(storage)?.is_some() {
            out.blobs_held += 1;
            continue;
        }
        let started = Instant::now();
        if let Some(since) = repo::take_over_tombstone(&w.db, &stale).await.map_err(db)? {
            delete_blob(w, &stale, started, since).await?;
            out.blobs_swept += 1;
            out.bytes_freed += stale.stored_bytes.max(0) as u64;
        }
    }
    let marked = repo::sweep_candidates(&w.db, &input.account_id)
        .await
        .map_err(db)?;
    for blob in &marked {
        // Before the tombstone: a retained blob is left as it is, usable by backups.
        if w.store.hold(&blob.key).await.map_err(storage)?.is_some() {
            out.blobs_held += 1;
            continue;
        }
        let started = Instant::now();
        match repo::tombstone_blob(&w.db, blob).await.map_err(db)? {
            Some(since) => {
                delete_blob(w, blob, started, since).await?;
                out.blobs_swept += 1;
                out.bytes_freed += blob.stored_bytes.max(0) as u64;
            }
            None => out.blobs_reused += 1,
        }
        let _ = ctx.record_heartbeat(out.blobs_swept).await;
    }
    if out.blobs_swept > 0 {
        repo::log_activity(
            &w.db,
            &input.account_id,
            "system",
            "retention.blobs_swept",
            ("retention_run", &input.run_id),
            json!({"blobs": out.blobs_swept, "stored_bytes": out.bytes_freed}),
        )
        .await
        .map_err(db)?;
    }
    tracing::info!(
        run_id = %input.run_id,
        account_id = %input.account_id,
        swept = out.blobs_swept,
        reused = out.blobs_reused,
        held = out.blobs_held,
        bytes = out.bytes_freed,
        "blobs swept"
    );
    Ok(out)
}

/// Deletes a tombstoned blob's object, then its row. The DELETE is sent only within the
/// tombstone's window (counted from before the tombstone was set) and given only what is left
/// of it: after that the tombstone may be taken over, and a late DELETE could remove a copy
/// stored again since.
async fn delete_blob(
    w: &WorkerContext,
    blob: &blob::Model,
    started: Instant,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(), ActivityError> {
    let left = repo::TOMBSTONE_WINDOW.saturating_sub(started.elapsed());
    let window_passed = || {
        temporary(
            "TombstoneWindowPassed",
            format!(
                "blob {} was not deleted within its tombstone's window; a later sweep takes it over",
                blob.sha256
            ),
        )
    };
    if left.is_zero() {
        return Err(window_passed());
    }
    tokio::time::timeout(left, w.store.delete(&blob.key))
        .await
        .map_err(|_| window_passed())?
        .map_err(storage)?;
    repo::forget_blob(&w.db, &blob.account_id, &blob.sha256, since)
        .await
        .map_err(db)?;
    Ok(())
}

async fn finish(w: &WorkerContext, input: FinishRunInput) -> Result<(), ActivityError> {
    let result = input
        .result
        .as_ref()
        .map(|r| serde_json::to_value(r).expect("a result always serialises"));
    let txn = w.db.begin().await.map_err(db)?;
    if repo::finish_retention_run(&txn, &input.run_id, result, input.error.clone())
        .await
        .map_err(db)?
    {
        let details = match &input.result {
            Some(r) => json!({
                "status": repo::RUN_SUCCEEDED,
                "snapshots_deleted": r.snapshots_deleted.len(),
                "snapshot_bytes_freed": r.snapshot_bytes_freed,
                "blobs_swept": r.blobs_swept,
                "blob_bytes_freed": r.blob_bytes_freed,
            }),
            None => json!({"status": repo::RUN_FAILED, "error": input.error}),
        };
        repo::log_activity(
            &txn,
            &input.account_id,
            "system",
            "retention.finished",
            ("retention_run", &input.run_id),
            details,
        )
        .await
        .map_err(db)?;
    }
    txn.commit().await.map_err(db)
}
