//! Verification: proving that what a manifest lists is still in the object store, intact and
//! readable.
//!
//! Each object is fetched again and checked against the size and sha256 recorded for it. With
//! the account's identity, a part is also decrypted and decompressed and its records counted
//! (each line must be a JSON value) against the manifest, and a blob is decrypted and its
//! plaintext hashed against the content sha256 it is stored under. Without the identity (an
//! account that holds its own key) the checks stop at size and sha256, which already prove the
//! stored bytes are the ones written.
//!
//! Damage is a [`Problem`] naming the object, never an `Err`: `Err` is kept for failures worth
//! retrying (the store cannot be reached), so a verification either completes with a verdict or
//! is retried, and never reports an outage as corruption.

use std::io::{BufRead, BufReader, Read};

use age::x25519::Identity;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StorageError;
use crate::index::{IndexEntry, IndexLines};
use crate::manifest::{ManifestPart, PartFrame};
use crate::object_store::ObjectStore;
use crate::part::sha256_hex;
use crate::reader::{decrypt_reader, open_reader};

/// What is wrong with one object.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The object is not in the store.
    Missing,
    /// Its size or sha256 differs from the recorded ones: damaged or replaced.
    ChecksumMismatch,
    /// It could not be decrypted or decompressed, or a line is not JSON.
    Unreadable,
    /// It holds another number of records than the manifest says.
    RecordCountMismatch,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::Unreadable => "unreadable",
            Self::RecordCountMismatch => "record_count_mismatch",
        }
    }
}

/// One damaged or missing object.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The object key.
    pub key: String,
    pub kind: ProblemKind,
    /// What was found, for a person to read (no record content, no key material).
    pub detail: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, kind: ProblemKind, detail: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            kind,
            detail: detail.into(),
        }
    }
}

/// The outcome of checking one object.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checked {
    /// Stored bytes read.
    pub bytes: u64,
    /// Records counted in a part (0 for blobs, and when it was not decrypted).
    pub records: u64,
    pub problem: Option<Problem>,
}

impl Checked {
    fn problem(bytes: u64, problem: Problem) -> Self {
        Self {
            bytes,
            records: 0,
            problem: Some(problem),
        }
    }
}

/// Fetches `key`, or says it is missing. Store failures stay errors (they are worth a retry).
async fn fetch(store: &ObjectStore, key: &str) -> Result<Result<Bytes, Problem>, StorageError> {
    Ok(store
        .get_opt(key)
        .await?
        .ok_or_else(|| Problem::new(key, ProblemKind::Missing, "the object is not in the store")))
}

fn checksum(key: &str, body: &[u8], size: u64, sha256: &str) -> Option<Problem> {
    if body.len() as u64 != size {
        return Some(Problem::new(
            key,
            ProblemKind::ChecksumMismatch,
            format!("{} bytes stored, {size} recorded", body.len()),
        ));
    }
    let actual = sha256_hex(body);
    (actual != sha256).then(|| {
        Problem::new(
            key,
            ProblemKind::ChecksumMismatch,
            format!("sha256 {actual}, {sha256} recorded"),
        )
    })
}

/// Checks one part of a manifest: present, the recorded size and sha256, and with `identity`
/// decryptable, decompressible, one JSON value per line, as many lines as the manifest says.
pub async fn check_part(
    store: &ObjectStore,
    identity: Option<&Identity>,
    part: &ManifestPart,
) -> Result<Checked, StorageError> {
    let body = match fetch(store, &part.key).await? {
        Ok(body) => body,
        Err(problem) => return Ok(Checked::problem(0, problem)),
    };
    let bytes = body.len() as u64;
    if let Some(problem) = checksum(&part.key, &body, part.stored_bytes, &part.sha256) {
        return Ok(Checked::problem(bytes, problem));
    }
    let Some(identity) = identity else {
        return Ok(Checked {
            bytes,
            records: 0,
            problem: None,
        });
    };
    let identity = identity.clone();
    let key = part.key.clone();
    let expected = part.records;
    let frames = part.index.as_ref().and_then(|i| i.frames.clone());
    let counted = tokio::task::spawn_blocking(move || match frames {
        Some(frames) => count_framed_records(&identity, body, &frames),
        None => count_records(&identity, body),
    })
    .await
    .map_err(|e| StorageError::Decode(format!("{key}: record count interrupted: {e}")))?;
    Ok(match counted {
        Err(detail) => Checked::problem(
            bytes,
            Problem::new(&part.key, ProblemKind::Unreadable, detail),
        ),
        Ok(records) if records != expected => Checked {
            bytes,
            records,
            problem: Some(Problem::new(
                &part.key,
                ProblemKind::RecordCountMismatch,
                format!("{records} records, {expected} in the manifest"),
            )),
        },
        Ok(records) => Checked {
            bytes,
            records,
            problem: None,
        },
    })
}

/// Checks a part's record index ([`crate::index`]), `None` for a part without one: present,
/// the recorded size and sha256, and with `identity` decryptable into entries sorted by id, as
/// many as recorded, each naming a line inside the part and held by the index's id filter.
pub async fn check_index(
    store: &ObjectStore,
    identity: Option<&Identity>,
    part: &ManifestPart,
) -> Result<Option<Checked>, StorageError> {
    let Some(index) = &part.index else {
        return Ok(None);
    };
    let body = match fetch(store, &index.key).await? {
        Ok(body) => body,
        Err(problem) => return Ok(Some(Checked::problem(0, problem))),
    };
    let bytes = body.len() as u64;
    if let Some(problem) = checksum(&index.key, &body, index.stored_bytes, &index.sha256) {
        return Ok(Some(Checked::problem(bytes, problem)));
    }
    let Some(identity) = identity else {
        return Ok(Some(Checked {
            bytes,
            ..Checked::default()
        }));
    };
    let (identity, key, lines) = (identity.clone(), index.key.clone(), part.records);
    let (filter, id_frames) = (index.filter.clone(), index.id_frames.clone());
    let entries = tokio::task::spawn_blocking(move || -> Result<u64, String> {
        let (mut n, mut last) = (0u64, None::<String>);
        let mut check = |entry: Result<IndexEntry, StorageError>| -> Result<(), String> {
            let entry = entry.map_err(|e| e.to_string())?;
            if last.as_ref().is_some_and(|last| *last >= entry.id) {
                return Err("ids out of order".into());
            }
            if entry.line >= lines {
                return Err(format!("names line {} of a part of {lines}", entry.line));
            }
            // A filter that rules out one of its own ids would hide the record from lookups.
            if filter.as_ref().is_some_and(|f| !f.may_hold(&entry.id)) {
                return Err(format!(
                    "its id filter rules out the id of line {}, which it holds",
                    entry.line
                ));
            }
            n += 1;
            last = Some(entry.id);
            Ok(())
        };
        match id_frames {
            // Lookups read the one frame an id belongs in: each frame must start where and
            // with the id recorded, and nothing may follow the last.
            Some(frames) => walk_frames(
                &identity,
                body,
                frames.iter().map(|f| f.offset),
                |i, frame| {
                    let mut entries = IndexLines::new(&key, frame).peekable();
                    if !matches!(entries.peek(), Some(Ok(e)) if e.id == frames[i].first_id) {
                        return Err(format!(
                            "frame {} does not start with the id recorded for it",
                            i + 1
                        ));
                    }
                    entries.try_for_each(&mut check)
                },
            )?,
            None => crate::index::read_index(&identity, &key, body)
                .map_err(|e| e.to_string())?
                .try_for_each(&mut check)?,
        }
        Ok(n)
    })
    .await
    .map_err(|e| StorageError::Decode(format!("{}: index check interrupted: {e}", index.key)))?;
    let problem = match entries {
        Err(detail) => Some(Problem::new(&index.key, ProblemKind::Unreadable, detail)),
        Ok(n) if n != index.entries => Some(Problem::new(
            &index.key,
            ProblemKind::RecordCountMismatch,
            format!("{n} entries, {} recorded", index.entries),
        )),
        Ok(_) => None,
    };
    Ok(Some(Checked {
        bytes,
        records: 0,
        problem,
    }))
}

/// Counts the JSON lines of a sealed part; `Err` says why it cannot be read.
fn count_records(identity: &Identity, body: Bytes) -> Result<u64, String> {
    let lines = BufReader::new(open_reader(identity, body).map_err(|e| e.to_string())?);
    count_lines(lines, 0)
}

/// Like [`count_records`], for a part that records its zstd frames: each frame must start at
/// its recorded offset and line, and nothing may follow the last, since lookups trust them.
fn count_framed_records(
    identity: &Identity,
    body: Bytes,
    frames: &[PartFrame],
) -> Result<u64, String> {
    let mut records = 0u64;
    walk_frames(
        identity,
        body,
        frames.iter().map(|f| f.offset),
        |n, lines| {
            let frame = frames[n];
            if records != frame.line {
                return Err(format!(
                    "frame {} is recorded at line {} but starts at line {records}",
                    n + 1,
                    frame.line
                ));
            }
            records = count_lines(lines, records)?;
            Ok(())
        },
    )?;
    Ok(records)
}

/// Reads a sealed object written as a run of zstd frames recorded at `offsets` (in its
/// decrypted bytes), handing each frame's decompressed bytes to `frame` with its number; `Err`
/// when a frame does not start where recorded or anything follows the last.
fn walk_frames(
    identity: &Identity,
    body: Bytes,
    offsets: impl Iterator<Item = u64>,
    mut frame: impl FnMut(usize, &mut dyn BufRead) -> Result<(), String>,
) -> Result<(), String> {
    let plain = decrypt_reader(identity, body).map_err(|e| e.to_string())?;
    let mut compressed = BufReader::new(Counted {
        inner: plain,
        read: 0,
    });
    for (n, recorded) in offsets.enumerate() {
        let offset = compressed.get_ref().read - compressed.buffer().len() as u64;
        if offset != recorded {
            return Err(format!(
                "frame {} is recorded at offset {recorded} but starts at offset {offset}",
                n + 1
            ));
        }
        let decoder = zstd::Decoder::with_buffer(compressed)
            .map_err(|e| format!("decompressing: {e}"))?
            .single_frame();
        let mut lines = BufReader::new(decoder);
        frame(n, &mut lines)?;
        compressed = lines.into_inner().finish();
    }
    let rest = compressed
        .fill_buf()
        .map_err(|e| format!("decrypting: {e}"))?;
    if !rest.is_empty() {
        return Err("holds more than its recorded frames".into());
    }
    Ok(())
}

/// A reader that counts the bytes read through it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

/// Counts the JSON lines `lines` holds, after `records` already counted.
fn count_lines(mut lines: impl BufRead, mut records: u64) -> Result<u64, String> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = lines
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("decrypting or decompressing: {e}"))?;
        if read == 0 {
            return Ok(records);
        }
        if line.last() != Some(&b'\n') {
            return Err(format!("ends inside record {}", records + 1));
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_err() {
            return Err(format!("record {} is not JSON", records + 1));
        }
        records += 1;
    }
}

/// What is known of a blob besides its content hash: the stored object's size and sha256 as
/// recorded when it was uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRecord {
    pub stored_bytes: u64,
    pub stored_sha256: String,
}

/// Checks one blob (file contents) stored under `key`, whose plaintext hashes to `sha256`:
/// present, matching its `record` when there is one, and with `identity` decrypting to
/// contents whose sha256 is `sha256`.
pub async fn check_blob(
    store: &ObjectStore,
    identity: Option<&Identity>,
    key: &str,
    sha256: &str,
    record: Option<&BlobRecord>,
) -> Result<Checked, StorageError> {
    let body = match fetch(store, key).await? {
        Ok(body) => body,
        Err(problem) => return Ok(Checked::problem(0, problem)),
    };
    let bytes = body.len() as u64;
    if let Some(record) = record
        && let Some(problem) = checksum(key, &body, record.stored_bytes, &record.stored_sha256)
    {
        return Ok(Checked::problem(bytes, problem));
    }
    let Some(identity) = identity else {
        return Ok(Checked {
            bytes,
            ..Checked::default()
        });
    };
    let identity = identity.clone();
    let digest = tokio::task::spawn_blocking(move || plaintext_sha256(&identity, body))
        .await
        .map_err(|e| StorageError::Decode(format!("{key}: hashing interrupted: {e}")))?;
    let problem = match digest {
        Err(detail) => Some(Problem::new(key, ProblemKind::Unreadable, detail)),
        Ok(actual) if actual != sha256 => Some(Problem::new(
            key,
            ProblemKind::ChecksumMismatch,
            format!("contents hash to {actual}, stored as {sha256}"),
        )),
        Ok(_) => None,
    };
    Ok(Checked {
        bytes,
        records: 0,
        problem,
    })
}

fn plaintext_sha256(identity: &Identity, body: Bytes) -> Result<String, String> {
    let mut plain = open_reader(identity, body).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = plain
            .read(&mut buf)
            .map_err(|e| format!("decrypting or decompressing: {e}"))?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests;
