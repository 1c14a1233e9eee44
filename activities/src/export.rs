//! The activities of `ExportWorkflow`: write the archive, record the outcome, delete the
//! archive when it expires.

use crate::{
    context::WorkerContext,
    failure::{db, not_found, permanent, storage, temporary},
};
use entities::{SnapshotStatus, account, export, repo, snapshot};
use sea_orm::EntityTrait;
use std::sync::{Arc, atomic::Ordering};
use std::time::Duration;
use storage::{
    StorageError,
    export::{
        Archive, ExportFile, ExportFormat, ExportProgress, MultipartWriter, SnapshotExport,
        referenced_blobs,
    },
    keys::AccountKey,
    reader,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::contracts::{self, ExpireExportInput, ExportBuilt, ExportInput, FinishExportInput};

/// How often a running build heartbeats and records its progress on the export row.
const PROGRESS_EVERY: Duration = Duration::from_secs(3);

/// Implements the export contracts in `workflows::contracts`.
pub struct ExportActivities {
    pub ctx: WorkerContext,
}

impl ExportActivities {
    pub fn new(ctx: WorkerContext) -> Self {
        Self { ctx }
    }
}

#[activities]
impl ExportActivities {
    #[activity(definition = contracts::BuildExport)]
    pub async fn build(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ExportInput,
    ) -> Result<ExportBuilt, ActivityError> {
        build(&self.ctx, &ctx, &input).await
    }

    #[activity(definition = contracts::FinishExport)]
    pub async fn finish(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FinishExportInput,
    ) -> Result<(), ActivityError> {
        let outcome = match (input.built, input.error) {
            (Some(b), None) => Ok(repo::ExportTotals {
                size_bytes: b.size_bytes,
                records: b.records,
                files: b.files,
            }),
            (_, error) => Err(error.unwrap_or_else(|| "the export failed".into())),
        };
        repo::finish_export(&self.ctx.db, &input.export_id, outcome)
            .await
            .map_err(db)?;
        Ok(())
    }

    #[activity(definition = contracts::ExpireExport)]
    pub async fn expire(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ExpireExportInput,
    ) -> Result<(), ActivityError> {
        let Some(row) = export::Entity::find_by_id(&input.export_id)
            .one(&self.ctx.db)
            .await
            .map_err(db)?
        else {
            return Ok(());
        };
        // Delete first: a row marked expired always has no archive.
        self.ctx
            .store
            .delete(&row.object_key)
            .await
            .map_err(storage)?;
        repo::end_export_archive(&self.ctx.db, &row.id, export::EXPIRED)
            .await
            .map_err(db)?;
        tracing::info!(export_id = %row.id, "export archive expired and deleted");
        Ok(())
    }
}

/// Damage (a part or file that does not match its record) cannot be retried away.
fn archive_error(e: StorageError) -> ActivityError {
    if e.is_permanent() {
        permanent("Damaged", e.to_string())
    } else {
        temporary("StorageError", e.to_string())
    }
}

/// The key an export decrypts with, and the recipient its archive is encrypted to (for an
/// account that holds its own key, whose key is only held in memory for this export).
struct ExportKey {
    key: Arc<AccountKey>,
    seal_to: Option<String>,
}

/// What the export row asks for, read from the database and the manifests.
async fn plan(
    w: &WorkerContext,
    row: &export::Model,
) -> Result<(ExportKey, Vec<SnapshotExport>, Vec<ExportFile>), ActivityError> {
    let acct = account::Entity::find_by_id(&row.account_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("account", &row.account_id))?;
    let key = match &acct.encryption_identity_sealed {
        Some(sealed) => ExportKey {
            key: Arc::new(
                AccountKey::open_with(&w.master, sealed)
                    .map_err(|e| permanent("ConfigError", format!("account key: {e}")))?,
            ),
            seal_to: None,
        },
        None => ExportKey {
            key: w.held.get(&row.id).ok_or_else(|| {
                permanent(
                    "InvalidState",
                    "the account holds its own key, and the process it was sent to no longer \
                     has it (it restarted, or the key's time ran out): request the export again",
                )
            })?,
            seal_to: Some(acct.encryption_recipient.clone()),
        },
    };
    let wanted = repo::export_streams(row);
    let mut snapshots = Vec::new();
    for id in repo::export_snapshot_ids(row) {
        let snap = snapshot::Entity::find_by_id(&id)
            .one(&w.db)
            .await
            .map_err(db)?
            .filter(|s| s.account_id == row.account_id)
            .ok_or_else(|| not_found("snapshot", &id))?;
        let manifest_key = match (&snap.status, &snap.manifest_key) {
            (SnapshotStatus::Complete, Some(k)) => k.clone(),
            _ => {
                return Err(permanent(
                    "InvalidState",
                    format!("snapshot {id} is not complete"),
                ));
            }
        };
        let manifest = reader::read_manifest(&w.store, &manifest_key)
            .await
            .map_err(archive_error)?;
        reader::check_recipient(&manifest, key.key.identity()).map_err(archive_error)?;
        let streams = manifest
            .streams
            .iter()
            .map(|s| s.name.clone())
            .filter(|name| wanted.as_ref().is_none_or(|w| w.contains(name)))
            .collect();
        snapshots.push(SnapshotExport { manifest, streams });
    }
    let mut files = Vec::new();
    if row.include_files {
        for sha256 in referenced_blobs(&snapshots) {
            let blob = repo::find_blob(&w.db, &row.account_id, &sha256)
                .await
                .map_err(db)?
                .ok_or_else(|| {
                    permanent("Damaged", format!("file {sha256} is not in the blob store"))
                })?;
            files.push(ExportFile {
                sha256,
                key: blob.key,
                size: blob.size.max(0) as u64,
                stored_bytes: blob.stored_bytes.max(0) as u64,
                stored_sha256: blob.stored_sha256,
            });
        }
    }
    Ok((key, snapshots, files))
}

async fn build(
    w: &WorkerContext,
    ctx: &ActivityContext,
    input: &ExportInput,
) -> Result<ExportBuilt, ActivityError> {
    let row = export::Entity::find_by_id(&input.export_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .ok_or_else(|| not_found("export", &input.export_id))?;
    let (key, snapshots, files) = plan(w, &row).await?;
    let format = match row.format.as_str() {
        "csv" => ExportFormat::Csv,
        _ => ExportFormat::Jsonl,
    };
    let progress = Arc::new(ExportProgress::default());
    let writing = {
        let (store, object_key, progress) =
            (w.store.clone(), row.object_key.clone(), progress.clone());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let out = MultipartWriter::start(
                handle.clone(),
                store.clone(),
                &object_key,
                progress.clone(),
            )?;
            let archive = Archive {
                handle: &handle,
                store: &store,
                identity: key.key.identity(),
                snapshots: &snapshots,
                files: &files,
                format,
            };
            match &key.seal_to {
                None => archive.write(out, &progress)?.finish(),
                Some(recipient) => archive.write_sealed(out, recipient, &progress)?.finish(),
            }
        })
    };
    tokio::pin!(writing);
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    let size = loop {
        tokio::select! {
            done = &mut writing => {
                break done
                    .map_err(|e| temporary("Interrupted", format!("the export stopped: {e}")))?
                    .map_err(archive_error)?;
            }
            _ = ticker.tick() => {
                let (records, uploaded, done_files) = (
                    progress.records.load(Ordering::Relaxed),
                    progress.uploaded.load(Ordering::Relaxed),
                    progress.files.load(Ordering::Relaxed),
                );
                let _ = ctx.record_heartbeat(records).await;
                if let Err(e) =
                    repo::set_export_progress(&w.db, &row.id, records, uploaded, done_files).await
                {
                    tracing::warn!(export_id = %row.id, error = %e, "could not record export progress");
                }
            }
        }
    };
    // A held key is let go as soon as it is no longer needed.
    w.held.release(&row.id);
    let built = ExportBuilt {
        size_bytes: size,
        records: progress.records.load(Ordering::Relaxed),
        files: progress.files.load(Ordering::Relaxed),
    };
    tracing::info!(export_id = %row.id, records = built.records, files = built.files, size = built.size_bytes, "export archive written");
    Ok(built)
}
