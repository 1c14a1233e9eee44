//! File contents of Drive, Dropbox and Slack records: stored once per account and content hash
//! in the blob store, and referenced from the record that describes them.
//!
//! For each record with a [`FileRef`], in order:
//! 1. a platform fingerprint this connection already resolved to a stored blob is reused: no
//!    download, no upload;
//! 2. otherwise the contents are streamed through [`BlobWriter`] (sha256 of the plaintext,
//!    zstd, age, a temporary file), and uploaded under their content key unless the account
//!    already holds that blob; the `blobs` row is written after the upload;
//!
//!    Either way the blob is taken through `repo::use_blob`, which records the snapshot's use
//!    of it (`blob_refs`) before the record naming it is written, and reuses it only while it is
//!    `stored`: a blob retention's sweep is deleting is waited for and stored again, never
//!    named (see `docs/retention.md`);
//! 3. the record is stored with a `_listbackup_file` member naming the blob:
//!    `{"sha256", "size", "key", "name", "mime_type"}` — or `{"name", "error"}` when the platform
//!    refused the download of that one file (deleted since it was listed, no permission), which
//!    is a fact about the file and does not fail the stream.

use crate::{
    context::WorkerContext,
    failure::{self, db, storage, temporary},
};
use chrono::Utc;
use connectors::{Connector, ConnectorError, ErrorKind, FileRef, Record};
use entities::{blob, file_fingerprint, repo, repo::BlobUse};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::time::Duration;
use storage::{blob::BlobWriter, layout, part::DEFAULT_ZSTD_LEVEL};
use temporalio_sdk::activities::ActivityError;

/// The member added to a record whose file contents were stored (or could not be).
pub const FILE_MEMBER: &str = "_listbackup_file";

/// Where files of one source go.
pub struct FileTarget<'a> {
    pub account_id: &'a str,
    /// The snapshot whose records name the files: its uses of blobs are recorded.
    pub snapshot_id: &'a str,
    pub connection_id: &'a str,
    pub recipient: &'a str,
}

/// A stored file, as referenced from its record.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    pub sha256: String,
    pub size: u64,
    pub key: String,
}

/// Stores the contents of `record`'s `file` and returns the JSON line to store for the record:
/// the platform's JSON with [`FILE_MEMBER`] added, and the blob's sha256 when one is referenced.
pub async fn store_record(
    w: &WorkerContext,
    connector: &dyn Connector,
    target: &FileTarget<'_>,
    record: &Record,
    file: &FileRef,
) -> Result<(Vec<u8>, Option<String>), ActivityError> {
    let (reference, sha256) = match store_file(w, connector, target, file).await? {
        Ok(stored) => {
            let reference = json!({
                "sha256": stored.sha256,
                "size": stored.size,
                "key": stored.key,
                "name": file.name,
                "mime_type": file.mime_type,
            });
            (reference, Some(stored.sha256))
        }
        Err(refused) => {
            tracing::warn!(record = %record.id, error = %refused, "file contents not stored");
            (
                json!({"name": file.name, "error": refused.to_string()}),
                None,
            )
        }
    };
    let mut object: Map<String, Value> = serde_json::from_str(record.json.get()).map_err(|e| {
        failure::connector(ConnectorError::new(
            connector.info().id,
            ErrorKind::Decode,
            format!("file record {} is not a JSON object: {e}", record.id),
        ))
    })?;
    object.insert(FILE_MEMBER.to_owned(), reference);
    let line = serde_json::to_vec(&object).expect("a JSON map always serialises");
    Ok((line, sha256))
}

/// Stores one file's contents. The inner `Err` is a permanent refusal of this one download.
async fn store_file(
    w: &WorkerContext,
    connector: &dyn Connector,
    target: &FileTarget<'_>,
    file: &FileRef,
) -> Result<Result<StoredFile, ConnectorError>, ActivityError> {
    if let Some(fingerprint) = &file.fingerprint {
        let known = repo::blob_for_fingerprint(&w.db, target.connection_id, fingerprint)
            .await
            .map_err(db)?;
        if let Some(known) = known
            && let BlobUse::Reused(blob) = use_blob(w, target, &known.sha256).await?
        {
            return Ok(Ok(StoredFile {
                sha256: blob.sha256,
                size: blob.size as u64,
                key: blob.key,
            }));
        }
    }
    let mut body = match connector.download(file).await {
        Ok(body) => body,
        Err(e) if refuses_this_file(&e) => return Ok(Err(e)),
        Err(e) => return Err(connector_error(e)),
    };
    let mut writer = BlobWriter::new(target.recipient, DEFAULT_ZSTD_LEVEL).map_err(storage)?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(connector_error)?;
        writer.write(&chunk).map_err(storage)?;
    }
    let sealed = writer.finish().map_err(storage)?;
    let key = layout::blob_key(target.account_id, &sealed.sha256);
    if let BlobUse::Absent = use_blob(w, target, &sealed.sha256).await? {
        w.store
            .put_file(&key, sealed.file.path())
            .await
            .map_err(storage)?;
        repo::record_blob(
            &w.db,
            blob::Model {
                account_id: target.account_id.to_owned(),
                sha256: sealed.sha256.clone(),
                key: key.clone(),
                size: sealed.size as i64,
                stored_bytes: sealed.stored_bytes as i64,
                stored_sha256: sealed.stored_sha256.clone(),
                created_at: Utc::now(),
                state: repo::BLOB_STORED.to_owned(),
                uses: 0,
                deleting_since: None,
            },
        )
        .await
        .map_err(db)?;
    }
    if let Some(fingerprint) = &file.fingerprint {
        repo::remember_fingerprint(
            &w.db,
            file_fingerprint::Model {
                connection_id: target.connection_id.to_owned(),
                fingerprint: fingerprint.clone(),
                account_id: target.account_id.to_owned(),
                sha256: sealed.sha256.clone(),
                size: sealed.size as i64,
                created_at: Utc::now(),
            },
        )
        .await
        .map_err(db)?;
    }
    Ok(Ok(StoredFile {
        sha256: sealed.sha256,
        size: sealed.size,
        key,
    }))
}

/// How long a backup waits for retention's sweep to finish deleting a blob it needs, before the
/// attempt fails (and is retried).
const DELETING_WAIT: Duration = Duration::from_secs(90);

/// Takes the blob `sha256` for this snapshot (see `repo::use_blob`): `Reused` or `Absent` (store
/// it). A blob being deleted is waited for until its row is gone — the object is deleted by
/// then, so storing the contents again cannot be undone by the sweep — and is then `Absent`.
async fn use_blob(
    w: &WorkerContext,
    target: &FileTarget<'_>,
    sha256: &str,
) -> Result<BlobUse, ActivityError> {
    let deadline = tokio::time::Instant::now() + DELETING_WAIT;
    loop {
        match repo::use_blob(&w.db, target.snapshot_id, target.account_id, sha256)
            .await
            .map_err(db)?
        {
            BlobUse::Deleting(_) => {}
            found => return Ok(found),
        }
        // A tombstone whose sweeper stopped long ago is cleared rather than waited for.
        if repo::clear_stale_tombstone(&w.db, target.account_id, sha256)
            .await
            .map_err(db)?
        {
            continue;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(temporary(
                "BlobBeingDeleted",
                format!("blob {sha256} is being deleted by retention; the attempt is retried"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A refusal about this one file (gone since it was listed, not downloadable), as opposed to
/// one about the connection (`Unauthorized`, `Forbidden`), which fails the stream.
fn refuses_this_file(e: &ConnectorError) -> bool {
    e.kind == ErrorKind::InvalidRequest
}

fn connector_error(e: ConnectorError) -> ActivityError {
    tracing::warn!(error = %e, "file download failed");
    failure::connector(e)
}
