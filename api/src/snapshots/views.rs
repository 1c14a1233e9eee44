//! What the snapshot endpoints answer with.

use chrono::{DateTime, Utc};
use entities::{JobKind, SnapshotStatus, snapshot};
use poem_openapi::{Object, types::Example};
use serde_json::Value;
use std::collections::BTreeSet;
use storage::manifest::{Manifest, ManifestPart, ManifestStream};

fn example_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

/// A point-in-time copy of a source. It is `writing` while its job runs and `complete` once its
/// manifest is stored; only a complete snapshot has contents to read.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct SnapshotView {
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    /// The job that wrote it.
    pub job_id: String,
    /// `full` (a backup) or `incremental` (a sync, holding what changed since `parent_snapshot_id`).
    pub kind: String,
    /// `writing`, `complete`, `failed` or `cancelled`.
    pub status: String,
    /// The snapshot an incremental one continues from.
    pub parent_snapshot_id: Option<String>,
    /// Records in all streams (counted when the snapshot completes).
    pub records: u64,
    /// Uncompressed JSON Lines bytes.
    pub raw_bytes: u64,
    /// Compressed and encrypted bytes stored.
    pub stored_bytes: u64,
    pub created_at: DateTime<Utc>,
    /// When its manifest was written; absent until it is complete.
    pub completed_at: Option<DateTime<Utc>>,
}

impl Example for SnapshotView {
    fn example() -> Self {
        Self {
            id: "019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            source_id: "019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a".into(),
            job_id: "019b76da-ad10-7f42-9b6a-3e5c7d9f1a26".into(),
            kind: "full".into(),
            status: "complete".into(),
            parent_snapshot_id: None,
            records: 10_250,
            raw_bytes: 5_242_880,
            stored_bytes: 1_048_576,
            created_at: example_time(),
            completed_at: Some(example_time() + chrono::Duration::seconds(95)),
        }
    }
}

/// `full` or `incremental`, as the manifest says.
pub fn kind_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => storage::manifest::KIND_FULL,
        JobKind::Sync => storage::manifest::KIND_INCREMENTAL,
    }
}

pub fn status_name(status: SnapshotStatus) -> &'static str {
    match status {
        SnapshotStatus::Writing => "writing",
        SnapshotStatus::Complete => "complete",
        SnapshotStatus::Failed => "failed",
        SnapshotStatus::Cancelled => "cancelled",
    }
}

pub fn view(s: snapshot::Model) -> SnapshotView {
    SnapshotView {
        kind: kind_name(s.kind).to_owned(),
        status: status_name(s.status).to_owned(),
        id: s.id,
        account_id: s.account_id,
        source_id: s.source_id,
        job_id: s.job_id,
        parent_snapshot_id: s.parent_snapshot_id,
        records: s.records.max(0) as u64,
        raw_bytes: s.raw_bytes.max(0) as u64,
        stored_bytes: s.stored_bytes.max(0) as u64,
        created_at: s.created_at,
        completed_at: s.completed_at,
    }
}

/// One stream of a complete snapshot.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example, rename = "SnapshotStream")]
pub struct StreamView {
    /// The platform's stream (`customers`, `invoices`, `files` …).
    pub name: String,
    pub records: u64,
    /// How many parts (objects) hold its records.
    pub parts: u32,
    /// Uncompressed JSON Lines bytes.
    pub raw_bytes: u64,
    /// Compressed and encrypted bytes stored.
    pub stored_bytes: u64,
    /// Distinct files (blobs) its records refer to; fetch one with
    /// `GET /v1/snapshots/{id}/files/{sha256}`.
    pub blobs: u64,
}

impl Example for StreamView {
    fn example() -> Self {
        Self {
            name: "customers".into(),
            records: 10_000,
            parts: 3,
            raw_bytes: 4_718_592,
            stored_bytes: 943_718,
            blobs: 0,
        }
    }
}

pub fn stream_view(s: &ManifestStream) -> StreamView {
    let blobs: BTreeSet<&str> = s
        .parts
        .iter()
        .flat_map(|p| p.blobs.iter().map(String::as_str))
        .collect();
    StreamView {
        name: s.name.clone(),
        records: s.records,
        parts: u32::try_from(s.parts.len()).unwrap_or(u32::MAX),
        raw_bytes: s.raw_bytes,
        stored_bytes: s.stored_bytes,
        blobs: blobs.len() as u64,
    }
}

/// A snapshot's `manifest.json`: its table of contents, written last. Field for field what is
/// stored next to the parts, so a restore by hand can follow it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestView {
    /// The manifest format (1).
    pub format: u32,
    pub snapshot_id: String,
    pub account_id: String,
    pub source_id: String,
    pub platform: String,
    /// `full` or `incremental`.
    pub kind: String,
    pub parent_snapshot_id: Option<String>,
    pub job_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub encryption: ManifestEncryptionView,
    /// `zstd`.
    pub compression: String,
    pub streams: Vec<ManifestStreamView>,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

/// Which key the parts are encrypted to (the public half only).
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestEncryptionView {
    /// `age-x25519`.
    pub scheme: String,
    /// The age recipient, `age1…`.
    pub recipient: String,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestStreamView {
    pub name: String,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// The platform's cursor after this snapshot; the next sync starts from it.
    pub cursor: Option<Value>,
    /// In part order.
    pub parts: Vec<ManifestPartView>,
    /// `true` when this snapshot read the stream in full, `false` when it holds only the
    /// changes since its parent; absent in manifests written before it was recorded.
    pub full: Option<bool>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ManifestPartView {
    /// The object key, `accounts/{a}/sources/{s}/snapshots/{id}/streams/{stream}/part-00001.jsonl.zst.age`.
    pub key: String,
    pub part_no: u32,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// Lowercase hex sha256 of the stored object.
    pub sha256: String,
    /// The files (sha256 of their contents) this part's records refer to.
    #[oai(skip_serializing_if_is_empty, default)]
    pub blobs: Vec<String>,
    /// The part's record index; absent for parts written before indexes.
    pub index: Option<PartIndexView>,
}

/// A part's record index: one line per record id, sorted, sealed like the part.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PartIndexView {
    /// The object key, `…/streams/{stream}/part-00001.index.zst.age`.
    pub key: String,
    /// Lowercase hex sha256 of the stored object.
    pub sha256: String,
    pub stored_bytes: u64,
    /// Distinct record ids in the part.
    pub entries: u64,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
}

pub fn manifest_view(m: Manifest) -> ManifestView {
    ManifestView {
        format: m.format,
        snapshot_id: m.snapshot_id,
        account_id: m.account_id,
        source_id: m.source_id,
        platform: m.platform,
        kind: m.kind,
        parent_snapshot_id: m.parent_snapshot_id,
        job_id: m.job_id,
        started_at: m.started_at,
        finished_at: m.finished_at,
        encryption: ManifestEncryptionView {
            scheme: m.encryption.scheme,
            recipient: m.encryption.recipient,
        },
        compression: m.compression,
        streams: m
            .streams
            .into_iter()
            .map(|s| ManifestStreamView {
                name: s.name,
                records: s.records,
                raw_bytes: s.raw_bytes,
                stored_bytes: s.stored_bytes,
                cursor: s.cursor,
                parts: s.parts.into_iter().map(part_view).collect(),
                full: s.full,
            })
            .collect(),
        records: m.records,
        raw_bytes: m.raw_bytes,
        stored_bytes: m.stored_bytes,
    }
}

fn part_view(p: ManifestPart) -> ManifestPartView {
    ManifestPartView {
        key: p.key,
        part_no: p.part_no,
        records: p.records,
        raw_bytes: p.raw_bytes,
        stored_bytes: p.stored_bytes,
        sha256: p.sha256,
        blobs: p.blobs,
        index: p.index.map(|i| PartIndexView {
            key: i.key,
            sha256: i.sha256,
            stored_bytes: i.stored_bytes,
            entries: i.entries,
            first_id: i.first_id,
            last_id: i.last_id,
        }),
    }
}
