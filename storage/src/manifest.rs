//! `manifest.json`: the table of contents of one snapshot, written last.
//!
//! A snapshot is visible only once its manifest exists, so readers (restore, verify, retention)
//! never see a half-written snapshot. The manifest names every part with its key, counts and
//! sha256; verification trusts these checksums, not S3's. It also carries each stream's cursor,
//! so an incremental chain can be rebuilt from storage alone, and it is plaintext (it holds no
//! record data) so an operator can read it with `cat`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StorageError;

/// The manifest format this crate writes and reads.
pub const MANIFEST_FORMAT: u32 = 1;

/// Scheme name for age X25519 encryption in [`ManifestEncryption::scheme`].
pub const SCHEME_AGE_X25519: &str = "age-x25519";

/// Compression name in [`Manifest::compression`].
pub const COMPRESSION_ZSTD: &str = "zstd";

pub const KIND_FULL: &str = "full";
pub const KIND_INCREMENTAL: &str = "incremental";

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`]; bumped on incompatible changes.
    pub format: u32,
    pub snapshot_id: String,
    pub account_id: String,
    pub source_id: String,
    pub platform: String,
    /// `"full"` or `"incremental"`.
    pub kind: String,
    /// The snapshot this one is incremental to; `None` for a full snapshot.
    pub parent_snapshot_id: Option<String>,
    pub job_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub encryption: ManifestEncryption,
    pub compression: String,
    pub streams: Vec<ManifestStream>,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

/// Which key the parts are encrypted to. Only the public recipient is recorded: it tells a
/// restorer which identity to use without revealing anything.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ManifestEncryption {
    pub scheme: String,
    /// `age1...`
    pub recipient: String,
}

impl ManifestEncryption {
    pub fn age_x25519(recipient: impl Into<String>) -> Self {
        Self {
            scheme: SCHEME_AGE_X25519.to_owned(),
            recipient: recipient.into(),
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ManifestStream {
    pub name: String,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// The platform cursor after this snapshot (opaque to storage); the next incremental starts here.
    pub cursor: Option<serde_json::Value>,
    /// In part order.
    pub parts: Vec<ManifestPart>,
    /// Whether this snapshot read the stream in full (`true`: its parts hold every record the
    /// platform had) or only the changes since the parent snapshot (`false`). Point-in-time
    /// views follow the parent chain back to a snapshot that read the stream in full. Absent
    /// in manifests written before it was recorded; readers then decide from the snapshot's
    /// kind and the stream's capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<bool>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ManifestPart {
    pub key: String,
    pub part_no: u32,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// Lowercase hex sha256 of the stored object body.
    pub sha256: String,
    /// The blobs (sha256 of their contents, under `accounts/{a}/blobs/`) this part's records
    /// refer to, sorted; absent for parts without file contents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<String>,
    /// The part's record index ([`crate::index`]); absent for parts written before indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<PartIndex>,
}

/// Where a part's record index is stored and what it holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PartIndex {
    /// `…/streams/{stream}/part-00007.index.zst.age`
    pub key: String,
    /// Lowercase hex sha256 of the stored index object.
    pub sha256: String,
    pub stored_bytes: u64,
    /// Distinct record ids in the part.
    pub entries: u64,
    /// The smallest and largest id (absent for an empty index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_id: Option<String>,
    /// A Bloom filter of the ids ([`crate::index::IdFilter`]), so a lookup opens only the
    /// indexes that may hold an id; absent for indexes written before filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<crate::index::IdFilter>,
    /// Where each zstd frame of the part starts, in line order, so a record is read by
    /// decompressing its frame alone; absent for parts written as a single frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<Vec<PartFrame>>,
    /// Where each zstd frame of the index object itself starts, with the first id it lists,
    /// so a lookup decrypts and reads the one frame of the index that may hold an id; absent
    /// for indexes written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_frames: Option<Vec<IdFrame>>,
}

/// Where one zstd frame of an index starts: the first id it lists and its offset in the
/// index's decrypted bytes. A frame runs to the next one's offset, or to the end.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IdFrame {
    pub first_id: String,
    pub offset: u64,
}

/// Where one zstd frame of a part starts: the part's line it begins with (0-based) and its
/// offset in the part's decrypted bytes. A frame runs to the next one's offset, or to the end.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartFrame {
    pub line: u64,
    pub offset: u64,
}

impl Manifest {
    /// Pretty JSON: manifests are small and meant to be read by people too.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self)
            .expect("a Manifest is plain data and always serialises");
        out.push(b'\n');
        out
    }

    /// Parses a manifest; a format this build does not know is an error rather than a guess.
    pub fn from_json(bytes: &[u8]) -> Result<Self, StorageError> {
        let manifest: Self = serde_json::from_slice(bytes)
            .map_err(|e| StorageError::Decode(format!("manifest: {e}")))?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(StorageError::Decode(format!(
                "manifest format {} is not supported (this build reads {MANIFEST_FORMAT})",
                manifest.format
            )));
        }
        Ok(manifest)
    }

    /// All parts of all streams, in stream then part order.
    pub fn parts(&self) -> impl Iterator<Item = (&ManifestStream, &ManifestPart)> {
        self.streams
            .iter()
            .flat_map(|stream| stream.parts.iter().map(move |part| (stream, part)))
    }

    pub fn stream(&self, name: &str) -> Option<&ManifestStream> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Every object key the snapshot consists of under its `streams/`: each part and, where
    /// it has one, the part's index.
    pub fn object_keys(&self) -> impl Iterator<Item = &str> {
        self.parts().flat_map(|(_, part)| {
            std::iter::once(part.key.as_str()).chain(part.index.as_ref().map(|i| i.key.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::part_key;

    fn sample() -> Manifest {
        let started_at = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .expect("time")
            .with_timezone(&Utc);
        let part = |n: u32| ManifestPart {
            key: part_key("acc", "src", "snap", "customers", n),
            part_no: n,
            records: 10,
            raw_bytes: 1000,
            stored_bytes: 300,
            sha256: "ab".repeat(32),
            blobs: Vec::new(),
            index: None,
        };
        Manifest {
            format: MANIFEST_FORMAT,
            snapshot_id: "snap".into(),
            account_id: "acc".into(),
            source_id: "src".into(),
            platform: "stripe".into(),
            kind: KIND_INCREMENTAL.into(),
            parent_snapshot_id: Some("snap0".into()),
            job_id: "job".into(),
            started_at,
            finished_at: started_at + chrono::Duration::seconds(90),
            encryption: ManifestEncryption::age_x25519("age1example"),
            compression: COMPRESSION_ZSTD.into(),
            streams: vec![ManifestStream {
                name: "customers".into(),
                records: 20,
                raw_bytes: 2000,
                stored_bytes: 600,
                cursor: Some(serde_json::json!({"created": 1700000000})),
                parts: vec![part(1), part(2)],
                full: Some(false),
            }],
            records: 20,
            raw_bytes: 2000,
            stored_bytes: 600,
        }
    }

    #[test]
    fn manifest_round_trips() {
        let manifest = sample();
        let json = manifest.to_json();
        let text = std::str::from_utf8(&json).expect("utf8");
        assert!(text.contains("\n  \"format\": 1,"), "pretty: {text}");
        assert!(text.contains("\"scheme\": \"age-x25519\""));
        assert_eq!(Manifest::from_json(&json).expect("parse"), manifest);
        assert_eq!(manifest.parts().count(), 2);
        assert!(manifest.stream("customers").is_some());
    }

    /// Manifests written before indexes (and before `full`) still read, as parts without an
    /// index; a part with one lists it among the snapshot's objects.
    #[test]
    fn older_manifests_without_indexes_still_read() {
        let mut manifest = sample();
        manifest.streams[0].full = None;
        let mut value: serde_json::Value = serde_json::from_slice(&manifest.to_json()).unwrap();
        assert!(value["streams"][0].get("full").is_none());
        assert!(value["streams"][0]["parts"][0].get("index").is_none());
        value["streams"][0].as_object_mut().unwrap().remove("full");
        let old = Manifest::from_json(&serde_json::to_vec(&value).unwrap()).expect("parse");
        assert_eq!(old, manifest);
        assert_eq!(old.object_keys().count(), 2);

        manifest.streams[0].parts[0].index = Some(PartIndex {
            key: "k.index".into(),
            sha256: "cd".repeat(32),
            stored_bytes: 10,
            entries: 10,
            first_id: Some("a".into()),
            last_id: Some("z".into()),
            filter: Some(crate::index::IdFilter::of(["a", "z"].into_iter())),
            frames: Some(vec![
                PartFrame { line: 0, offset: 0 },
                PartFrame {
                    line: 7,
                    offset: 4_096,
                },
            ]),
            id_frames: Some(vec![IdFrame {
                first_id: "a".into(),
                offset: 0,
            }]),
        });
        let again = Manifest::from_json(&manifest.to_json()).expect("parse");
        assert_eq!(again, manifest);
        assert_eq!(again.object_keys().count(), 3);
    }

    #[test]
    fn unknown_format_and_garbage_are_rejected() {
        let mut manifest = sample();
        manifest.format = 2;
        assert!(matches!(
            Manifest::from_json(&manifest.to_json()),
            Err(StorageError::Decode(_))
        ));
        assert!(Manifest::from_json(b"{not json").is_err());
    }
}
