//! `backup.prepare`: mark the job running, create its snapshot, plan the streams.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, permanent},
};
use chrono::Utc;
use entities::{JobKind, JobStatus, SnapshotStatus, job, repo, snapshot, source};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set, TransactionTrait};
use serde_json::json;
use temporalio_sdk::activities::ActivityError;
use workflows::contracts::{BackupInput, BackupPlan, StreamPlan};

pub async fn prepare(w: &WorkerContext, input: BackupInput) -> Result<BackupPlan, ActivityError> {
    let job = job::Entity::find_by_id(&input.job_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("job", &input.job_id))?;
    if job.status.is_final() {
        return Err(permanent(
            "InvalidState",
            format!("job {} has already finished ({:?})", job.id, job.status),
        ));
    }
    let source = source::Entity::find_by_id(&job.source_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("source", &job.source_id))?;
    let platform = connectors::platform(&source.platform).ok_or_else(|| {
        permanent(
            "ConfigError",
            format!("unknown platform `{}`", source.platform),
        )
    })?;

    let selected: Vec<String> = match &input.streams {
        Some(only) => only.clone(),
        None => serde_json::from_value(source.streams.clone()).unwrap_or_default(),
    };
    let names: Vec<String> = if selected.is_empty() {
        platform.streams.iter().map(|s| s.name.to_owned()).collect()
    } else {
        selected
    };
    if let Some(unknown) = names.iter().find(|n| platform.stream(n).is_none()) {
        return Err(permanent(
            "ConfigError",
            format!("{} has no stream `{unknown}`", platform.name),
        ));
    }
    let streams = names
        .into_iter()
        .filter(|name| !input.skip_streams.contains(name))
        .map(|name| {
            let since = match job.kind {
                JobKind::Sync => source
                    .stream_state
                    .get(&name)
                    .filter(|v| !v.is_null())
                    .cloned(),
                JobKind::Backup => None,
            };
            StreamPlan { name, since }
        })
        .collect();

    match snapshot::Entity::find_by_id(&job.snapshot_id)
        .one(&w.db)
        .await
        .map_err(db)?
    {
        None => {
            snapshot::ActiveModel {
                id: Set(job.snapshot_id.clone()),
                account_id: Set(job.account_id.clone()),
                source_id: Set(source.id.clone()),
                job_id: Set(job.id.clone()),
                kind: Set(job.kind),
                status: Set(SnapshotStatus::Writing),
                parent_snapshot_id: Set(match job.kind {
                    JobKind::Sync => source.last_snapshot_id.clone(),
                    JobKind::Backup => None,
                }),
                manifest_key: Set(None),
                records: Set(0),
                raw_bytes: Set(0),
                stored_bytes: Set(0),
                created_at: Set(Utc::now()),
                completed_at: Set(None),
            }
            .insert(&w.db)
            .await
            .map_err(db)?;
        }
        // A retry continues the snapshot its failed job left, from the committed parts.
        Some(existing) if existing.job_id != job.id => {
            if existing.status == SnapshotStatus::Complete {
                return Err(permanent(
                    "InvalidState",
                    format!("snapshot {} is already complete", existing.id),
                ));
            }
            let mut resumed = existing.into_active_model();
            resumed.status = Set(SnapshotStatus::Writing);
            resumed.job_id = Set(job.id.clone());
            resumed.update(&w.db).await.map_err(db)?;
        }
        Some(_) => {}
    }
    // The transition and its log entry commit together: a retried attempt that finds the job
    // running already has nothing left to log.
    let txn = w.db.begin().await.map_err(db)?;
    if repo::mark_job_running(&txn, &job.id).await.map_err(db)? {
        repo::log_activity(
            &txn,
            &job.account_id,
            "system",
            "job.running",
            ("job", &job.id),
            json!({"status": JobStatus::Running}),
        )
        .await
        .map_err(db)?;
        tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %source.id, kind = job.kind_str(), "job running");
    }
    txn.commit().await.map_err(db)?;
    Ok(BackupPlan {
        snapshot_id: job.snapshot_id,
        streams,
    })
}
