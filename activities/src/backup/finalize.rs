//! `backup.finalize` and `backup.fail`: closing a job either way.
//!
//! The manifest is written last: a snapshot whose manifest exists is complete, and the
//! database follows the manifest, never the other way round. The job's final transition, its
//! activity-log entry and its webhook deliveries (`job.succeeded`, `job.failed`) commit together.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, storage},
};
use chrono::Utc;
use entities::{
    JobKind, JobStatus, SnapshotStatus, account, job, repo, snapshot, snapshot_part, source,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use storage::{
    layout,
    manifest::{Manifest, ManifestEncryption, ManifestPart, ManifestStream},
};
use temporalio_sdk::activities::ActivityError;
use workflows::contracts::{BackupResult, FailInput, FinalizeInput};

pub async fn finalize(
    w: &WorkerContext,
    input: FinalizeInput,
) -> Result<BackupResult, ActivityError> {
    let snap = snapshot::Entity::find_by_id(&input.snapshot_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("snapshot", &input.snapshot_id))?;
    if snap.status == SnapshotStatus::Complete {
        return Ok(result_of(&snap));
    }
    let job = job::Entity::find_by_id(&input.job_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("job", &input.job_id))?;
    let src = source::Entity::find_by_id(&snap.source_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("source", &snap.source_id))?;
    let acct = account::Entity::find_by_id(&snap.account_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("account", &snap.account_id))?;

    let mut streams = Vec::with_capacity(input.streams.len());
    for name in &input.streams {
        let parts = repo::stream_parts(&w.db, &snap.id, name)
            .await
            .map_err(db)?;
        let previous_cursor = src.stream_state.get(name).cloned().filter(|v| !v.is_null());
        // Read in full: a backup, a stream without a saved cursor, or one a sync reads whole.
        let full = job.kind == JobKind::Backup
            || previous_cursor.is_none()
            || connectors::platform(&src.platform)
                .and_then(|p| p.stream(name))
                .is_none_or(|s| !s.incremental);
        let mut stream = manifest_stream(name, &parts, previous_cursor);
        stream.full = Some(full);
        streams.push(stream);
    }
    let manifest = Manifest {
        format: 1,
        snapshot_id: snap.id.clone(),
        account_id: acct.id.clone(),
        source_id: src.id.clone(),
        platform: src.platform.clone(),
        kind: job.kind_str().to_owned(),
        parent_snapshot_id: snap.parent_snapshot_id.clone(),
        job_id: job.id.clone(),
        started_at: job.started_at.unwrap_or(job.created_at),
        finished_at: Utc::now(),
        encryption: ManifestEncryption {
            scheme: "age-x25519".into(),
            recipient: acct.encryption_recipient.clone(),
        },
        compression: "zstd".into(),
        records: streams.iter().map(|s| s.records).sum(),
        raw_bytes: streams.iter().map(|s| s.raw_bytes).sum(),
        stored_bytes: streams.iter().map(|s| s.stored_bytes).sum(),
        streams,
    };

    // Objects left by an attempt whose data later changed shape are not part of the snapshot.
    let keep: HashSet<&str> = manifest.object_keys().collect();
    let prefix = format!(
        "{}streams/",
        layout::snapshot_prefix(&acct.id, &src.id, &snap.id)
    );
    for key in w.store.list(&prefix).await.map_err(storage)? {
        if !keep.contains(key.as_str()) {
            tracing::info!(job_id = %job.id, account_id = %acct.id, source_id = %src.id, %key, "removing unreferenced part");
            // Only hidden on a versioned bucket: an Object Lock may retain it, and retention
            // deletes every version under the snapshot's prefix with the snapshot.
            w.store.delete_latest(&key).await.map_err(storage)?;
        }
    }
    let manifest_key = layout::manifest_key(&acct.id, &src.id, &snap.id);
    w.store
        .put(&manifest_key, manifest.to_json().into())
        .await
        .map_err(storage)?;

    let mut done = snap.clone().into_active_model();
    done.status = Set(SnapshotStatus::Complete);
    done.manifest_key = Set(Some(manifest_key.clone()));
    done.records = Set(manifest.records as i64);
    done.raw_bytes = Set(manifest.raw_bytes as i64);
    done.stored_bytes = Set(manifest.stored_bytes as i64);
    done.completed_at = Set(Some(manifest.finished_at));
    let snap = done.update(&w.db).await.map_err(db)?;

    let mut state = src.stream_state.as_object().cloned().unwrap_or_default();
    for s in &manifest.streams {
        if let Some(cursor) = &s.cursor {
            state.insert(s.name.clone(), cursor.clone());
        }
    }
    let mut advanced = src.into_active_model();
    advanced.stream_state = Set(Value::Object(state));
    advanced.last_snapshot_id = Set(Some(snap.id.clone()));
    advanced.updated_at = Set(Utc::now());
    advanced.update(&w.db).await.map_err(db)?;

    publish_progress(w, &job.id, &snap.id).await?;
    // The transition and its log entry commit together.
    let txn = w.db.begin().await.map_err(db)?;
    if repo::finish_job(&txn, &job.id, JobStatus::Succeeded, None)
        .await
        .map_err(db)?
    {
        repo::log_activity(
            &txn,
            &job.account_id,
            "system",
            "job.succeeded",
            ("job", &job.id),
            json!({"snapshot_id": snap.id, "records": manifest.records, "stored_bytes": manifest.stored_bytes}),
        )
        .await
        .map_err(db)?;
        repo::enqueue_job_event(&txn, &job.id, repo::JOB_SUCCEEDED)
            .await
            .map_err(db)?;
    }
    txn.commit().await.map_err(db)?;
    tracing::info!(job_id = %job.id, account_id = %manifest.account_id, source_id = %manifest.source_id, snapshot_id = %manifest.snapshot_id, records = manifest.records, stored_bytes = manifest.stored_bytes, "snapshot complete");
    Ok(result_of(&snap))
}

fn manifest_stream(
    name: &str,
    parts: &[snapshot_part::Model],
    previous_cursor: Option<Value>,
) -> ManifestStream {
    ManifestStream {
        name: name.to_owned(),
        records: parts.iter().map(|p| p.records as u64).sum(),
        raw_bytes: parts.iter().map(|p| p.raw_bytes as u64).sum(),
        stored_bytes: parts.iter().map(|p| p.stored_bytes as u64).sum(),
        cursor: parts
            .last()
            .map(|p| p.stream_cursor.clone())
            .filter(|c| !c.is_null())
            .or(previous_cursor),
        parts: parts
            .iter()
            .map(|p| ManifestPart {
                key: p.key.clone(),
                part_no: p.part_no as u32,
                records: p.records as u64,
                raw_bytes: p.raw_bytes as u64,
                stored_bytes: p.stored_bytes as u64,
                sha256: p.sha256.clone(),
                blobs: p
                    .blobs
                    .as_ref()
                    .and_then(|b| serde_json::from_value(b.clone()).ok())
                    .unwrap_or_default(),
                index: p
                    .record_index
                    .as_ref()
                    .and_then(|i| serde_json::from_value(i.clone()).ok()),
            })
            .collect(),
        full: None,
    }
}

fn result_of(snap: &snapshot::Model) -> BackupResult {
    BackupResult {
        snapshot_id: snap.id.clone(),
        manifest_key: snap.manifest_key.clone().unwrap_or_default(),
        records: snap.records as u64,
        raw_bytes: snap.raw_bytes as u64,
        stored_bytes: snap.stored_bytes as u64,
    }
}

/// Writes the committed per-stream totals of a snapshot into its job row.
pub async fn publish_progress(
    w: &WorkerContext,
    job_id: &str,
    snapshot_id: &str,
) -> Result<(), ActivityError> {
    let parts = snapshot_part::Entity::find()
        .filter(snapshot_part::Column::SnapshotId.eq(snapshot_id))
        .all(&w.db)
        .await
        .map_err(db)?;
    let mut streams = Map::new();
    let (mut records, mut bytes) = (0i64, 0i64);
    for p in &parts {
        let entry = streams.entry(p.stream.clone()).or_insert_with(
            || json!({"records": 0, "raw_bytes": 0, "stored_bytes": 0, "parts": 0}),
        );
        for (field, add) in [
            ("records", p.records),
            ("raw_bytes", p.raw_bytes),
            ("stored_bytes", p.stored_bytes),
            ("parts", 1),
        ] {
            entry[field] = json!(entry[field].as_i64().unwrap_or(0) + add);
        }
        records += p.records;
        bytes += p.raw_bytes;
    }
    repo::set_job_progress(&w.db, job_id, Value::Object(streams), records, bytes)
        .await
        .map_err(db)
}

pub async fn fail(w: &WorkerContext, input: FailInput) -> Result<(), ActivityError> {
    let Some(job) = job::Entity::find_by_id(&input.job_id)
        .one(&w.db)
        .await
        .map_err(db)?
    else {
        return Ok(());
    };
    let snapshot_id = Some(input.snapshot_id.as_deref().unwrap_or(&job.snapshot_id));
    if repo::end_job_unsuccessfully(
        &w.db,
        &job,
        snapshot_id,
        input.cancelled,
        &input.error,
        "system",
    )
    .await
    .map_err(db)?
    {
        tracing::warn!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, error = %input.error, "job {}", if input.cancelled { "cancelled" } else { "failed" });
    }
    Ok(())
}
