//! Point-in-time views: a stream as it was at a snapshot, from the chain of snapshots behind it.
//!
//! A sync stores only what changed since its parent snapshot, so the state of a stream at a
//! snapshot is its *chain*: the snapshot, its parent, and so on back to the first snapshot that
//! read the stream in full (a full backup, a stream read whole on every run, or one without a
//! saved cursor). The newest version of a record along the chain is its state; a tombstone as
//! the newest version means the record was deleted by then.
//!
//! Everything here works on the per-part record indexes ([`crate::index`]), not on the parts:
//!
//! - [`find`] looks one id up, newest snapshot first and, within a snapshot, last part first,
//!   decrypting only the indexes whose id range may hold it; then [`read_record`] reads the one
//!   part that holds the version.
//! - [`Merge`] is a k-way merge of the sorted indexes of every part of the chain, yielding the
//!   newest version of each id in id order. It holds one decoder per index and one entry per
//!   index at a time, never the records of a stream.
//! - [`LiveLines`] marks, from a merge, which lines of which parts make up the view (one bit per
//!   record of the chain), so the view can then be read part by part in stored order.
//! - [`Diff`] joins two merges: records added, changed (their hashes differ) and removed.
//!
//! Parts without an index (written before indexes existed) are read and indexed on the fly
//! ([`crate::index::scan_part`]); such an index is held in memory while the merge runs.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashSet};

use age::x25519::Identity;
use bytes::Bytes;

use crate::StorageError;
use crate::index::{self, IndexEntry};
use crate::layout;
use crate::manifest::{Manifest, ManifestPart, ManifestStream, PartIndex};
use crate::object_store::ObjectStore;
use crate::reader;

/// One snapshot of a chain, with its entry for the stream.
#[derive(Debug, Clone)]
pub struct Level {
    pub snapshot_id: String,
    pub stream: ManifestStream,
    /// The recipient the snapshot's parts and indexes are encrypted to.
    pub recipient: String,
}

/// Whether a manifest's stream holds every record (read in full) rather than only changes:
/// what the manifest records, or, for manifests written before that was recorded, the
/// snapshot's kind and whether the platform reads the stream incrementally at all.
pub fn read_in_full(manifest: &Manifest, stream: &ManifestStream, incremental: bool) -> bool {
    stream
        .full
        .unwrap_or(manifest.kind == crate::manifest::KIND_FULL || !incremental)
}

/// The chain behind `manifest` for `stream`, newest first: snapshots without the stream are
/// passed over, and the chain ends at the first one that read it in full (`full` decides, see
/// [`read_in_full`]) or at a snapshot without a parent. A parent whose manifest is missing is an
/// error: the view would be silently incomplete.
pub async fn chain(
    store: &ObjectStore,
    manifest: &Manifest,
    stream: &str,
    full: impl Fn(&Manifest, &ManifestStream) -> bool,
) -> Result<Vec<Level>, StorageError> {
    let mut levels = Vec::new();
    let mut seen = HashSet::new();
    let mut current = manifest.clone();
    loop {
        if !seen.insert(current.snapshot_id.clone()) {
            return Err(StorageError::Decode(format!(
                "snapshot {} is its own ancestor",
                current.snapshot_id
            )));
        }
        if let Some(s) = current.stream(stream) {
            let complete = full(&current, s);
            levels.push(Level {
                snapshot_id: current.snapshot_id.clone(),
                stream: s.clone(),
                recipient: current.encryption.recipient.clone(),
            });
            if complete {
                break;
            }
        }
        let Some(parent) = current.parent_snapshot_id.clone() else {
            break;
        };
        let key = layout::manifest_key(&current.account_id, &current.source_id, &parent);
        current = reader::read_manifest(store, &key).await?;
    }
    Ok(levels)
}

/// A part's index, fetched (and verified) or, for a part without one, built by reading it.
pub struct LoadedIndex {
    /// Position in the chain (0 = newest) and of the part in its stream.
    pub level: usize,
    pub part: usize,
    source: Source,
}

enum Source {
    Sealed { key: String, body: Bytes },
    Scanned(Vec<IndexEntry>),
}

async fn load_one(
    store: &ObjectStore,
    identity: &Identity,
    part: &ManifestPart,
) -> Result<Source, StorageError> {
    match &part.index {
        Some(meta) => Ok(Source::Sealed {
            key: meta.key.clone(),
            body: index::fetch_index(store, meta).await?,
        }),
        None => {
            let body = reader::fetch_part(store, part).await?;
            let (identity, key) = (identity.clone(), part.key.clone());
            let entries = blocking(move || index::scan_part(&identity, &key, body)).await?;
            Ok(Source::Scanned(entries))
        }
    }
}

/// Every part's index of the chain.
pub async fn load_indexes(
    store: &ObjectStore,
    identity: &Identity,
    levels: &[Level],
) -> Result<Vec<LoadedIndex>, StorageError> {
    let mut out = Vec::new();
    for (level, l) in levels.iter().enumerate() {
        for (part, p) in l.stream.parts.iter().enumerate() {
            out.push(LoadedIndex {
                level,
                part,
                source: load_one(store, identity, p).await?,
            });
        }
    }
    Ok(out)
}

/// Runs decoding work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Decode(format!("decoding task: {e}")))?
}

/// One version of a record in a chain: its index entry, and where it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub entry: IndexEntry,
    pub level: usize,
    pub part: usize,
}

type Entries = Box<dyn Iterator<Item = Result<IndexEntry, StorageError>> + Send>;

/// The next entry of one index, ordered so that the newest version of an id comes first.
struct Head {
    version: Version,
    source: usize,
}

impl Head {
    fn key(&self) -> (&str, usize, Reverse<usize>) {
        (
            &self.version.entry.id,
            self.version.level,
            Reverse(self.version.part),
        )
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The k-way merge of a chain's indexes: the newest version of every id, in id order,
/// tombstones included (see [`Merge::live`]).
pub struct Merge {
    sources: Vec<(usize, usize, Entries)>,
    heap: BinaryHeap<Reverse<Head>>,
}

impl Merge {
    pub fn new(identity: &Identity, loaded: Vec<LoadedIndex>) -> Result<Self, StorageError> {
        let mut merge = Merge {
            sources: Vec::with_capacity(loaded.len()),
            heap: BinaryHeap::new(),
        };
        for l in loaded {
            let entries: Entries = match l.source {
                Source::Sealed { key, body } => Box::new(index::read_index(identity, &key, body)?),
                Source::Scanned(entries) => Box::new(entries.into_iter().map(Ok)),
            };
            merge.sources.push((l.level, l.part, entries));
            merge.advance(merge.sources.len() - 1)?;
        }
        Ok(merge)
    }

    fn advance(&mut self, source: usize) -> Result<(), StorageError> {
        let (level, part, entries) = &mut self.sources[source];
        if let Some(entry) = entries.next().transpose()? {
            self.heap.push(Reverse(Head {
                version: Version {
                    entry,
                    level: *level,
                    part: *part,
                },
                source,
            }));
        }
        Ok(())
    }

    fn next_version(&mut self) -> Result<Option<Version>, StorageError> {
        let Some(Reverse(newest)) = self.heap.pop() else {
            return Ok(None);
        };
        self.advance(newest.source)?;
        // Older versions of the same id are passed over.
        while self
            .heap
            .peek()
            .is_some_and(|Reverse(h)| h.version.entry.id == newest.version.entry.id)
        {
            let Reverse(older) = self.heap.pop().expect("peeked");
            self.advance(older.source)?;
        }
        Ok(Some(newest.version))
    }

    /// Only the records present in the view: tombstones dropped.
    pub fn live(self) -> impl Iterator<Item = Result<Version, StorageError>> {
        self.filter(|v| !matches!(v, Ok(v) if v.entry.deleted))
    }
}

impl Iterator for Merge {
    type Item = Result<Version, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_version().transpose()
    }
}

/// Which lines of which parts of a chain make up its view: one bit per record.
pub struct LiveLines {
    bits: Vec<Vec<Vec<u64>>>,
    records: u64,
}

impl LiveLines {
    /// Marks the live versions of `merge` over `levels`.
    pub fn mark(levels: &[Level], merge: Merge) -> Result<Self, StorageError> {
        let mut bits: Vec<Vec<Vec<u64>>> = levels
            .iter()
            .map(|l| {
                l.stream
                    .parts
                    .iter()
                    .map(|p| vec![0u64; p.records.div_ceil(64) as usize])
                    .collect()
            })
            .collect();
        let mut records = 0;
        for version in merge.live() {
            let v = version?;
            let line = v.entry.line;
            let slot = bits
                .get_mut(v.level)
                .and_then(|l| l.get_mut(v.part))
                .and_then(|p| p.get_mut((line / 64) as usize))
                .ok_or_else(|| {
                    StorageError::Decode(format!(
                        "an index names line {line}, past the end of its part"
                    ))
                })?;
            *slot |= 1 << (line % 64);
            records += 1;
        }
        Ok(Self { bits, records })
    }

    pub fn is_live(&self, level: usize, part: usize, line: u64) -> bool {
        self.bits
            .get(level)
            .and_then(|l| l.get(part))
            .and_then(|p| p.get((line / 64) as usize))
            .is_some_and(|w| w & (1 << (line % 64)) != 0)
    }

    /// Records in the view.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Whether any line of this part is in the view (a part that has none need not be read).
    pub fn any_in(&self, level: usize, part: usize) -> bool {
        self.bits
            .get(level)
            .and_then(|l| l.get(part))
            .is_some_and(|p| p.iter().any(|w| *w != 0))
    }
}

/// The newest version of `id` in the chain, tombstone included; `None` if no snapshot of the
/// chain holds it. Reads only the indexes whose id range and filter may hold it, and of an
/// index that records its frames, only the frame that may hold it.
pub async fn find(
    store: &ObjectStore,
    identity: &Identity,
    levels: &[Level],
    id: &str,
) -> Result<Option<Version>, StorageError> {
    for (level, l) in levels.iter().enumerate() {
        for (part, p) in l.stream.parts.iter().enumerate().rev() {
            if p.index.as_ref().is_some_and(|meta| !meta.may_hold(id)) {
                continue;
            }
            let (identity, id) = (identity.clone(), id.to_owned());
            let framed = p
                .index
                .as_ref()
                .and_then(|meta| Some((meta, index_frame_of(meta, &id)?)));
            let found = match framed {
                Some((meta, (offset, end))) => {
                    let frame =
                        reader::fetch_frame(store, &meta.key, meta.stored_bytes, offset, end)
                            .await?;
                    blocking(move || first_match(index::read_index_frame(&identity, frame)?, &id))
                        .await?
                }
                None => {
                    let source = load_one(store, &identity, p).await?;
                    blocking(move || match source {
                        Source::Sealed { key, body } => {
                            first_match(index::read_index(&identity, &key, body)?, &id)
                        }
                        Source::Scanned(entries) => Ok(entries
                            .binary_search_by(|e| e.id.as_str().cmp(&id))
                            .ok()
                            .map(|at| entries[at].clone())),
                    })
                    .await?
                }
            };
            if let Some(entry) = found {
                return Ok(Some(Version { entry, level, part }));
            }
        }
    }
    Ok(None)
}

/// Where the frame of `meta`'s index that may hold `id` starts and ends (in the index's
/// decrypted bytes); `None` when the index does not record its frames.
fn index_frame_of(meta: &PartIndex, id: &str) -> Option<(u64, Option<u64>)> {
    let frames = meta.id_frames.as_deref().filter(|f| !f.is_empty())?;
    let at = frames
        .partition_point(|f| f.first_id.as_str() <= id)
        .saturating_sub(1);
    Some((frames[at].offset, frames.get(at + 1).map(|f| f.offset)))
}

/// The entry for `id` among `entries` (in id order).
fn first_match(
    entries: impl Iterator<Item = Result<IndexEntry, StorageError>>,
    id: &str,
) -> Result<Option<IndexEntry>, StorageError> {
    for entry in entries {
        let entry = entry?;
        match entry.id.as_str().cmp(id) {
            Ordering::Less => continue,
            Ordering::Equal => return Ok(Some(entry)),
            Ordering::Greater => break,
        }
    }
    Ok(None)
}

/// The record `entry` names (its line of `part`, without the newline), checked against the
/// entry's hash. Of a part that records its frames, only the frame holding the line is
/// fetched (ranged GETs) and decrypted; a part written as one frame is fetched whole and
/// checked against its sha256 first.
pub async fn read_record(
    store: &ObjectStore,
    identity: &Identity,
    part: &ManifestPart,
    entry: &IndexEntry,
) -> Result<Vec<u8>, StorageError> {
    let line = entry.line;
    // The frame the line is in, and where the next one starts, where the part records them.
    let frame = part
        .index
        .as_ref()
        .and_then(|index| index.frames.as_deref())
        .and_then(|frames| {
            let after = frames.partition_point(|f| f.line <= line);
            let at = after.checked_sub(1)?;
            Some((frames[at], frames.get(after).map(|f| f.offset)))
        });
    let identity = identity.clone();
    let record = match frame {
        Some((frame, end)) => {
            let fetched =
                reader::fetch_frame(store, &part.key, part.stored_bytes, frame.offset, end).await?;
            let key = part.key.clone();
            blocking(move || {
                nth_line(
                    fetched.lines(&identity)?,
                    line - frame.line,
                    &format!("{key}'s frame at line {}", frame.line),
                )
            })
            .await?
        }
        None => {
            let body = reader::fetch_part(store, part).await?;
            let part = part.clone();
            blocking(move || nth_line(reader::part_lines(&identity, &part, body)?, line, &part.key))
                .await?
        }
    };
    if index::record_hash(&record) != entry.hash {
        return Err(StorageError::Checksum {
            key: part.key.clone(),
        });
    }
    Ok(record)
}

/// Line `n` (0-based, without its newline) of `lines`.
fn nth_line<R: std::io::Read>(
    mut lines: reader::PartLines<R>,
    n: u64,
    key: &str,
) -> Result<Vec<u8>, StorageError> {
    lines.skip(n)?;
    let mut out = Vec::new();
    if !lines.next_into(&mut out)? {
        return Err(StorageError::Decode(format!("{key} has no line {n}")));
    }
    out.pop();
    Ok(out)
}

/// How a record differs between two views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Changed,
    Removed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Removed => "removed",
        }
    }
}

/// The differences from an older view to a newer one, in id order.
pub struct Diff<N: Iterator, O: Iterator> {
    newer: std::iter::Peekable<N>,
    older: std::iter::Peekable<O>,
}

/// Joins the live versions of two merges (see [`Merge::live`]).
pub fn diff<N, O>(newer: N, older: O) -> Diff<N, O>
where
    N: Iterator<Item = Result<Version, StorageError>>,
    O: Iterator<Item = Result<Version, StorageError>>,
{
    Diff {
        newer: newer.peekable(),
        older: older.peekable(),
    }
}

/// One difference: the record's id, how it changed, and its version in the newer view (absent
/// for a removed record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub id: String,
    pub change: Change,
    pub version: Option<Version>,
}

impl<N, O> Iterator for Diff<N, O>
where
    N: Iterator<Item = Result<Version, StorageError>>,
    O: Iterator<Item = Result<Version, StorageError>>,
{
    type Item = Result<Difference, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.newer.peek(), self.older.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return Some(Err(self.newer.next()?.unwrap_err())),
                (_, Some(Err(_))) => return Some(Err(self.older.next()?.unwrap_err())),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(Ok(n)), Some(Ok(o))) => n.entry.id.cmp(&o.entry.id),
            };
            let (id, change, version) = match order {
                Ordering::Less => {
                    let n = self.newer.next()?.ok()?;
                    (n.entry.id.clone(), Change::Added, Some(n))
                }
                Ordering::Greater => {
                    let o = self.older.next()?.ok()?;
                    (o.entry.id, Change::Removed, None)
                }
                Ordering::Equal => {
                    let n = self.newer.next()?.ok()?;
                    let o = self.older.next()?.ok()?;
                    if n.entry.hash == o.entry.hash {
                        continue;
                    }
                    (n.entry.id.clone(), Change::Changed, Some(n))
                }
            };
            return Some(Ok(Difference {
                id,
                change,
                version,
            }));
        }
    }
}

/// The lines of a verified part body that `keep` selects, each with its newline, handed to
/// `out` one by one; stops early when `out` says so (`false`).
pub fn read_lines(
    identity: &Identity,
    part: &ManifestPart,
    body: Bytes,
    mut keep: impl FnMut(u64) -> bool,
    mut out: impl FnMut(&[u8]) -> bool,
) -> Result<bool, StorageError> {
    let mut lines = reader::part_lines(identity, part, body)?;
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        if !lines.next_into(&mut buf)? {
            return Ok(true);
        }
        if keep(n) && !out(&buf) {
            return Ok(false);
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests;
