//! Record indexes: one small object per part mapping each record's platform id to its line.
//!
//! A part holds records in the order the platform listed them; finding one record, or building
//! a stream's state at a point in time, would mean decrypting every part of a chain. So the
//! extraction writes, next to `part-00007.jsonl.zst.age`, its index
//! `part-00007.index.zst.age`: JSON Lines sorted by id, one line per distinct id,
//!
//! ```text
//! {"id":"cus_0042","line":17,"hash":"5d41402abc4b2a76b9719d911017c592"}
//! {"id":"/docs/old.txt","line":3,"hash":"…","deleted":true}
//! ```
//!
//! where `line` is the record's 0-based line in the part, `hash` the first 128 bits of the
//! sha256 of that line (without its newline: equal hashes mean the record did not change, which
//! is what diffs and version lists compare), and `deleted` marks a tombstone (a sync's report of
//! a record deleted on the platform). When a part holds an id twice (a listing restarted within
//! the run), the later line is the current one and the only one indexed.
//!
//! The index is sealed exactly like a part (zstd inside age, to the account's recipient), so
//! record ids do not leak to whoever can list the bucket, and `age -d | zstd -d` reads it. Its
//! key, sha256, size, entry count and first and last id are recorded with the part (in
//! `snapshot_parts` and in the manifest's part entry), so a lookup skips indexes whose id range
//! cannot hold the id and every index is checked against its sha256 before it is decrypted.
//!
//! Ids are random on most platforms, so the ranges of a stream's parts overlap and a range alone
//! rarely rules a part out. Each index's metadata therefore also carries an [`IdFilter`], a
//! Bloom filter of its ids (10 bits per id, 7 probes: about one false positive in a hundred), and
//! a lookup opens only the indexes whose filter may hold the id.
//!
//! Parts written before indexes existed have none: [`scan_part`] builds the same entries by
//! reading the part, taking each record's top-level `id` member as its id.

use std::io::{BufRead, BufReader, Read};

use age::x25519::Identity;
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::StorageError;
use crate::manifest::{IdFrame, PartFrame, PartIndex};
use crate::part::{DEFAULT_ZSTD_LEVEL, PartWriter};
use crate::reader;

/// One record of a part, as its index lists it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The record's platform id.
    pub id: String,
    /// 0-based line of the record in its part.
    pub line: u64,
    /// [`record_hash`] of the line.
    pub hash: String,
    /// The record is a tombstone: the platform reported it deleted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// The first 128 bits of the sha256 of a record's line (without its newline), lowercase hex.
pub fn record_hash(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    hex::encode(&Sha256::digest(line)[..16])
}

/// Collects the entries of the part being written; [`IndexBuilder::seal`] sorts and seals them.
#[derive(Debug, Default)]
pub struct IndexBuilder {
    entries: Vec<IndexEntry>,
}

impl IndexBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes the record written as line `line` of the part.
    pub fn add(&mut self, id: &str, line: u64, record: &[u8], deleted: bool) {
        self.entries.push(IndexEntry {
            id: id.to_owned(),
            line,
            hash: record_hash(record),
            deleted,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries sorted by id, one per id (the last line of an id wins).
    pub fn into_sorted(mut self) -> Vec<IndexEntry> {
        self.entries
            .sort_by(|a, b| a.id.cmp(&b.id).then(b.line.cmp(&a.line)));
        self.entries.dedup_by(|later, kept| later.id == kept.id);
        self.entries
    }

    /// Sorts the entries and seals them to `recipient`, to be stored under `key`; `frames` are
    /// the part's ([`crate::part::SealedPart::frames`]), recorded in the metadata.
    pub fn seal(
        self,
        recipient: &str,
        key: &str,
        frames: &[PartFrame],
    ) -> Result<SealedIndex, StorageError> {
        let entries = self.into_sorted();
        let mut writer = PartWriter::new(recipient, DEFAULT_ZSTD_LEVEL)?;
        for entry in &entries {
            let line = serde_json::to_vec(entry).expect("an index entry always serialises");
            writer.write_record(&line)?;
        }
        let sealed = writer.finish()?;
        let meta = PartIndex {
            key: key.to_owned(),
            sha256: sealed.sha256.clone(),
            stored_bytes: sealed.stored_bytes(),
            entries: entries.len() as u64,
            first_id: entries.first().map(|e| e.id.clone()),
            last_id: entries.last().map(|e| e.id.clone()),
            filter: Some(IdFilter::of(entries.iter().map(|e| e.id.as_str()))),
            frames: (!frames.is_empty()).then(|| frames.to_vec()),
            id_frames: Some(
                sealed
                    .frames
                    .iter()
                    .filter_map(|f| {
                        Some(IdFrame {
                            first_id: entries.get(f.line as usize)?.id.clone(),
                            offset: f.offset,
                        })
                    })
                    .collect(),
            ),
        };
        Ok(SealedIndex {
            body: sealed.body,
            meta,
        })
    }
}

/// A sealed index, ready to store, and what the part's records say about it.
#[derive(Debug, Clone)]
pub struct SealedIndex {
    pub body: Bytes,
    pub meta: PartIndex,
}

impl PartIndex {
    /// Whether `id` may be in this index: in its id range (an empty index holds nothing) and,
    /// where it has a filter, in the filter.
    pub fn may_hold(&self, id: &str) -> bool {
        let in_range = match (&self.first_id, &self.last_id) {
            (Some(first), Some(last)) => first.as_str() <= id && id <= last.as_str(),
            _ => false,
        };
        in_range && self.filter.as_ref().is_none_or(|f| f.may_hold(id))
    }
}

/// A Bloom filter of an index's ids, stored with its metadata.
///
/// It is part of the storage format, so its hashing is specified here rather than left to a
/// library's (seeded, version-dependent) hasher: an id's SHA-256 gives `h1` (bytes 0..8) and
/// `h2` (bytes 8..16, made odd), both little-endian `u64`; probe `i` (0 ≤ i < `k`) is bit
/// `(h1 + i·h2) mod m` (wrapping arithmetic), bit `b` being bit `b % 8` of byte `b / 8` of
/// `bits` (standard base64 of `⌈m/8⌉` bytes). A filter never misses an id it was built with.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct IdFilter {
    /// Bits in the filter.
    pub m: u64,
    /// Probes per id.
    pub k: u32,
    pub bits: String,
}

/// Bits per id, and probes: about 1 % false positives.
const FILTER_BITS_PER_ID: u64 = 10;
const FILTER_PROBES: u32 = 7;

impl IdFilter {
    /// The filter of `ids`.
    pub fn of<'a>(ids: impl ExactSizeIterator<Item = &'a str>) -> Self {
        let m = (ids.len() as u64 * FILTER_BITS_PER_ID).max(64);
        let mut bits = vec![0u8; m.div_ceil(8) as usize];
        for id in ids {
            for b in probes(id, m, FILTER_PROBES) {
                bits[(b / 8) as usize] |= 1 << (b % 8);
            }
        }
        Self {
            m,
            k: FILTER_PROBES,
            bits: base64::engine::general_purpose::STANDARD.encode(bits),
        }
    }

    /// False only when `id` is certainly not among the filter's ids. A filter that cannot be
    /// read rules nothing out.
    ///
    /// Only the base64 groups holding the probed bits are decoded (a lookup asks every index
    /// of a stream, and a filter of a part is tens of KiB of text).
    pub fn may_hold(&self, id: &str) -> bool {
        let text = self.bits.as_bytes();
        let bytes = self.m.div_ceil(8);
        if self.m == 0 || text.len() as u64 != bytes.div_ceil(3) * 4 {
            return true;
        }
        probes(id, self.m, self.k).all(|b| {
            let (byte, group) = ((b / 8) as usize, (b / 8 / 3) as usize);
            let mut decoded = [0u8; 3];
            match base64::engine::general_purpose::STANDARD
                .decode_slice(&text[group * 4..group * 4 + 4], &mut decoded)
            {
                Ok(n) if byte % 3 < n => decoded[byte % 3] & (1 << (b % 8)) != 0,
                _ => true,
            }
        })
    }
}

/// The `k` bit positions of `id` in a filter of `m` bits.
fn probes(id: &str, m: u64, k: u32) -> impl Iterator<Item = u64> {
    let digest = Sha256::digest(id.as_bytes());
    let h1 = u64::from_le_bytes(digest[0..8].try_into().expect("8 bytes"));
    let h2 = u64::from_le_bytes(digest[8..16].try_into().expect("8 bytes")) | 1;
    (0..u64::from(k)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) % m)
}

/// Fetches an index and checks it against its recorded size and sha256.
pub async fn fetch_index(
    store: &crate::object_store::ObjectStore,
    index: &PartIndex,
) -> Result<Bytes, StorageError> {
    let body = store.get(&index.key).await?;
    reader::verify(&index.key, &body, index.stored_bytes, &index.sha256)?;
    Ok(body)
}

/// The entries of a verified index body, in id order, decrypted as they are read. A body whose
/// ids are not strictly increasing is refused as corrupt.
pub fn read_index(
    identity: &Identity,
    key: &str,
    body: Bytes,
) -> Result<IndexLines<impl Read + Send + 'static>, StorageError> {
    Ok(IndexLines::new(key, reader::open_reader(identity, body)?))
}

/// The entries of one frame of an index, fetched alone ([`reader::fetch_frame`]), in id order.
pub fn read_index_frame(
    identity: &Identity,
    frame: reader::FetchedFrame,
) -> Result<IndexLines<impl Read + Send + 'static>, StorageError> {
    let key = frame.key().to_owned();
    Ok(IndexLines::new(&key, frame.open(identity)?))
}

/// Iterator over an index's entries; see [`read_index`].
pub struct IndexLines<R> {
    reader: BufReader<R>,
    key: String,
    line: Vec<u8>,
    last: Option<String>,
}

impl<R: Read> IndexLines<R> {
    /// The entries `reader` holds (an index's decrypted, decompressed lines), for errors
    /// named by `key`.
    pub(crate) fn new(key: &str, reader: R) -> Self {
        Self {
            reader: BufReader::new(reader),
            key: key.to_owned(),
            line: Vec::new(),
            last: None,
        }
    }
}

impl<R: Read> Iterator for IndexLines<R> {
    type Item = Result<IndexEntry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.line.clear();
        match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(StorageError::Decode(format!("{}: {e}", self.key)))),
        }
        let entry: IndexEntry = match serde_json::from_slice(&self.line) {
            Ok(entry) => entry,
            Err(e) => return Some(Err(StorageError::Decode(format!("{}: {e}", self.key)))),
        };
        if self.last.as_ref().is_some_and(|last| *last >= entry.id) {
            return Some(Err(StorageError::Decode(format!(
                "{}: ids out of order",
                self.key
            ))));
        }
        self.last = Some(entry.id.clone());
        Some(Ok(entry))
    }
}

/// The index entries of a verified part that has no index object (written before indexes
/// existed), built by reading it: a record's id is its top-level `id` member (a string, or a
/// number in its JSON form); records without one cannot be looked up and are left out. Such
/// parts carry no tombstone marks, so every record counts as present.
pub fn scan_part(
    identity: &Identity,
    key: &str,
    body: Bytes,
) -> Result<Vec<IndexEntry>, StorageError> {
    let mut lines = BufReader::new(reader::open_reader(identity, body)?);
    let mut builder = IndexBuilder::new();
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = lines
            .read_until(b'\n', &mut buf)
            .map_err(|e| StorageError::Decode(format!("{key}: {e}")))?;
        if read == 0 {
            break;
        }
        if let Some(id) = top_level_id(&buf) {
            builder.add(&id, n, &buf, false);
        }
        n += 1;
    }
    Ok(builder.into_sorted())
}

/// A record's top-level `id` member as text: a string as is, a number as written.
pub fn top_level_id(line: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Head {
        id: Option<serde_json::Value>,
    }
    let head: Head = serde_json::from_slice(line).ok()?;
    match head.id? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AccountKey;

    fn entries(index: &SealedIndex, key: &AccountKey) -> Vec<IndexEntry> {
        read_index(key.identity(), "k", index.body.clone())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn the_id_filter_is_the_documented_format() {
        // Computed independently from the format's description (SHA-256, double hashing).
        let f = IdFilter::of(["cus_0001", "cus_0002", "ch_3"].into_iter());
        assert_eq!((f.m, f.k, f.bits.as_str()), (64, 7, "OQAJKFbAJoQ="));
    }

    #[test]
    fn the_id_filter_never_misses_and_rarely_lets_others_through() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("cus_{i:08x}")).collect();
        let f = IdFilter::of(ids.iter().map(String::as_str));
        assert!(ids.iter().all(|id| f.may_hold(id)));
        let through = (0..100_000)
            .filter(|i| f.may_hold(&format!("ch_{i:08x}")))
            .count();
        assert!(through < 2_000, "{through} of 100,000 false positives");
        // Probing the base64 text in place answers as decoding the whole filter does.
        let bits = base64::engine::general_purpose::STANDARD
            .decode(&f.bits)
            .unwrap();
        for i in 0..20_000 {
            let id = format!("in_{i:08x}");
            let whole = probes(&id, f.m, f.k).all(|b| bits[(b / 8) as usize] & (1 << (b % 8)) != 0);
            assert_eq!(f.may_hold(&id), whole, "{id}");
        }
        // A damaged filter rules nothing out.
        let damaged = IdFilter {
            bits: "not base64!".into(),
            ..f.clone()
        };
        assert!(damaged.may_hold("ch_1"));
        let short = IdFilter { m: 1 << 40, ..f };
        assert!(short.may_hold("ch_1"));
    }

    #[test]
    fn an_index_is_sorted_by_id_and_keeps_the_last_line_of_an_id() {
        let key = AccountKey::generate();
        let mut builder = IndexBuilder::new();
        builder.add("c", 0, br#"{"id":"c","v":1}"#, false);
        builder.add("a", 1, br#"{"id":"a"}"#, false);
        builder.add("c", 2, br#"{"id":"c","v":2}"#, false);
        builder.add("b", 3, br#"{".tag":"deleted"}"#, true);
        let sealed = builder.seal(&key.recipient(), "x.index", &[]).unwrap();
        assert!(sealed.body.starts_with(b"age-encryption.org/v1\n"));
        let got = entries(&sealed, &key);
        let ids: Vec<(&str, u64, bool)> = got
            .iter()
            .map(|e| (e.id.as_str(), e.line, e.deleted))
            .collect();
        assert_eq!(ids, [("a", 1, false), ("b", 3, true), ("c", 2, false)]);
        assert_eq!(got[2].hash, record_hash(br#"{"id":"c","v":2}"#));
        assert_eq!(sealed.meta.entries, 3);
        assert_eq!(sealed.meta.first_id.as_deref(), Some("a"));
        assert_eq!(sealed.meta.last_id.as_deref(), Some("c"));
        assert_eq!(sealed.meta.sha256, crate::part::sha256_hex(&sealed.body));
        assert!(sealed.meta.may_hold("b") && !sealed.meta.may_hold("d"));
    }

    #[test]
    fn hashes_ignore_the_newline_and_tell_contents_apart() {
        assert_eq!(record_hash(b"{\"a\":1}\n"), record_hash(b"{\"a\":1}"));
        assert_ne!(record_hash(b"{\"a\":1}"), record_hash(b"{\"a\":2}"));
        assert_eq!(record_hash(b"{}").len(), 32);
    }

    #[test]
    fn an_index_out_of_order_or_for_another_key_is_refused() {
        let key = AccountKey::generate();
        let mut writer = PartWriter::new(&key.recipient(), 3).unwrap();
        writer
            .write_record(br#"{"id":"b","line":0,"hash":"00"}"#)
            .unwrap();
        writer
            .write_record(br#"{"id":"a","line":1,"hash":"00"}"#)
            .unwrap();
        let body = writer.finish().unwrap().body;
        let read: Result<Vec<_>, _> = read_index(key.identity(), "k", body).unwrap().collect();
        assert!(matches!(read, Err(StorageError::Decode(_))));

        let sealed = IndexBuilder::new()
            .seal(&key.recipient(), "k", &[])
            .unwrap();
        assert_eq!(sealed.meta.entries, 0);
        assert!(!sealed.meta.may_hold("a"));
        let other = AccountKey::generate();
        assert!(read_index(other.identity(), "k", sealed.body).is_err());
    }

    #[test]
    fn a_part_without_an_index_is_scanned_by_its_id_members() {
        let key = AccountKey::generate();
        let mut writer = PartWriter::new(&key.recipient(), 3).unwrap();
        for line in [
            r#"{"id":"b","n":1}"#,
            r#"{"id":7}"#,
            r#"{"no_id":true}"#,
            r#"{"id":"b","n":2}"#,
        ] {
            writer.write_record(line.as_bytes()).unwrap();
        }
        let body = writer.finish().unwrap().body;
        let got = scan_part(key.identity(), "k", body).unwrap();
        let ids: Vec<(&str, u64)> = got.iter().map(|e| (e.id.as_str(), e.line)).collect();
        assert_eq!(ids, [("7", 1), ("b", 3)]);
        assert_eq!(got[1].hash, record_hash(br#"{"id":"b","n":2}"#));
    }
}
