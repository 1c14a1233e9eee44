//! Reading snapshots back: the manifest, then each part verified against it and decrypted.
//!
//! Restore, the REST API (records, downloads, files) and verification all read the same way:
//! fetch a part, check its size and sha256 against the manifest *before* decrypting it (so damaged
//! or swapped objects are refused, never half-returned), then decrypt and decompress it as a
//! stream. Only one part's ciphertext is held in memory at a time, and parts are bounded by the
//! writer; the plaintext is read in chunks or line by line, never a whole stream at once.

use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::iter;

use age::x25519::Identity;
use bytes::Bytes;

use crate::StorageError;
use crate::manifest::{Manifest, ManifestPart};
use crate::object_store::ObjectStore;
use crate::part::sha256_hex;

/// Reads and parses the manifest stored under `key`.
pub async fn read_manifest(store: &ObjectStore, key: &str) -> Result<Manifest, StorageError> {
    Manifest::from_json(&store.get(key).await?)
}

/// Fetches one part and checks it against the manifest: its size and sha256 must match, or the
/// answer is [`StorageError::Checksum`].
pub async fn fetch_part(store: &ObjectStore, part: &ManifestPart) -> Result<Bytes, StorageError> {
    let body = store.get(&part.key).await?;
    verify(&part.key, &body, part.stored_bytes, &part.sha256)?;
    Ok(body)
}

/// Checks a stored object's bytes against the size and sha256 recorded for it.
pub fn verify(key: &str, body: &[u8], size: u64, sha256: &str) -> Result<(), StorageError> {
    if body.len() as u64 != size || sha256_hex(body) != sha256 {
        return Err(StorageError::Checksum {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// The plaintext of a sealed part or blob (JSON Lines for a part, the file for a blob), read
/// as a stream. It owns its input, so it can move to a blocking thread or live across awaits.
/// Read errors mean a corrupt or tampered object.
pub fn open_reader(
    identity: &Identity,
    body: Bytes,
) -> Result<impl Read + Send + 'static, StorageError> {
    zstd::Decoder::new(decrypt_reader(identity, body)?)
        .map_err(|e: io::Error| StorageError::Decode(format!("zstd: {e}")))
}

/// The decrypted (still compressed) bytes of a sealed object, read as a stream that can seek.
pub fn decrypt_reader(
    identity: &Identity,
    body: Bytes,
) -> Result<impl Read + Seek + Send + 'static, StorageError> {
    let decryptor = age::Decryptor::new_buffered(Cursor::new(body))
        .map_err(|e| StorageError::Crypto(format!("part header: {e}")))?;
    decryptor
        .decrypt(iter::once(identity as &dyn age::Identity))
        .map_err(|e| StorageError::Crypto(format!("part key: {e}")))
}

/// age's payload: 64 KiB chunks of plaintext, each sealed with a 16-byte tag, after the header
/// and a 16-byte nonce.
const AGE_CHUNK: u64 = 64 * 1024;
const AGE_SEALED_CHUNK: u64 = AGE_CHUNK + 16;
const AGE_NONCE: u64 = 16;
/// Bytes read first to find the end of an object's age header (one X25519 recipient's header
/// is 168 bytes), and the most a header may take.
const HEADER_FIRST_READ: u64 = 1024;
const HEADER_MAX: u64 = 64 * 1024;

/// One zstd frame of a sealed object, fetched by ranged GETs: the object's age header, then
/// only the age chunks that hold the frame's compressed bytes — a few hundred KiB of a part of
/// several MiB.
///
/// The object as a whole is not checked against its sha256 (that would mean reading all of
/// it): age authenticates every 64 KiB chunk with the account's key, and its length is the one
/// the manifest records, so a damaged or truncated range fails to decrypt. Callers that read a
/// record this way check it against its index entry's hash too.
pub struct FetchedFrame {
    key: String,
    object: Ranges,
    offset: u64,
    end: Option<u64>,
}

/// Fetches the frame of the object `key` (`stored_bytes` long) whose compressed bytes run
/// from `offset` to `end` in its decrypted payload (`None`: to the end of the object).
pub async fn fetch_frame(
    store: &ObjectStore,
    key: &str,
    stored_bytes: u64,
    offset: u64,
    end: Option<u64>,
) -> Result<FetchedFrame, StorageError> {
    if end.is_some_and(|end| end <= offset) {
        return Err(StorageError::Decode(format!(
            "{key}: a frame at {offset} that ends at {end:?}"
        )));
    }
    let mut head = store
        .get_range(key, 0..HEADER_FIRST_READ.min(stored_bytes))
        .await?;
    let mut header = header_len(&head);
    if header.is_none() && head.len() as u64 == HEADER_FIRST_READ {
        head = store
            .get_range(key, 0..HEADER_MAX.min(stored_bytes))
            .await?;
        header = header_len(&head);
    }
    let payload =
        header.ok_or_else(|| StorageError::Decode(format!("{key}: no age header")))? + AGE_NONCE;
    let first = payload + offset / AGE_CHUNK * AGE_SEALED_CHUNK;
    let last = match end {
        Some(end) => (payload + (end - 1) / AGE_CHUNK * AGE_SEALED_CHUNK + AGE_SEALED_CHUNK)
            .min(stored_bytes),
        None => stored_bytes,
    };
    if first >= last {
        return Err(StorageError::Decode(format!(
            "{key}: a frame at {offset}, past the end of the object"
        )));
    }
    let chunks = store.get_range(key, first..last).await?;
    Ok(FetchedFrame {
        key: key.to_owned(),
        object: Ranges {
            len: stored_bytes,
            pieces: vec![(0, head), (first, chunks)],
            pos: 0,
        },
        offset,
        end,
    })
}

/// The length of the age header at the start of `head` (through the line of its MAC), if
/// `head` holds all of it. Stanza lines start with `-> ` or are base64, so the first line
/// starting with `---` is the MAC's.
fn header_len(head: &[u8]) -> Option<u64> {
    let mac = head.windows(4).position(|w| w == b"\n---")? + 1;
    let eol = head[mac..].iter().position(|b| *b == b'\n')?;
    Some((mac + eol + 1) as u64)
}

impl FetchedFrame {
    /// A frame of an object already fetched whole (`body`), read as [`fetch_frame`]'s are.
    #[cfg(test)]
    pub(crate) fn whole(key: &str, body: Bytes, offset: u64, end: Option<u64>) -> Self {
        Self {
            key: key.to_owned(),
            object: Ranges {
                len: body.len() as u64,
                pieces: vec![(0, body)],
                pos: 0,
            },
            offset,
            end,
        }
    }

    /// The object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The frame's bytes, decrypted and decompressed as they are read.
    pub fn open(self, identity: &Identity) -> Result<impl Read + Send + 'static, StorageError> {
        let key = &self.key;
        let decryptor = age::Decryptor::new_buffered(self.object)
            .map_err(|e| StorageError::Crypto(format!("{key} header: {e}")))?;
        let mut plain = decryptor
            .decrypt(iter::once(identity as &dyn age::Identity))
            .map_err(|e| StorageError::Crypto(format!("{key} key: {e}")))?;
        plain
            .seek(SeekFrom::Start(self.offset))
            .map_err(|e| StorageError::Decode(format!("{key}: frame at {}: {e}", self.offset)))?;
        let frame = plain.take(self.end.map_or(u64::MAX, |end| end - self.offset));
        Ok(zstd::Decoder::new(frame)
            .map_err(|e: io::Error| StorageError::Decode(format!("zstd: {e}")))?
            .single_frame())
    }

    /// The frame's records, one line at a time.
    pub fn lines(
        self,
        identity: &Identity,
    ) -> Result<PartLines<impl Read + Send + 'static>, StorageError> {
        let key = self.key.clone();
        Ok(PartLines {
            reader: BufReader::new(self.open(identity)?),
            key,
        })
    }
}

/// An object of which some byte ranges were fetched, read as if it were all there: reading
/// outside them is an error.
struct Ranges {
    len: u64,
    /// (offset, bytes), possibly overlapping.
    pieces: Vec<(u64, Bytes)>,
    pos: u64,
}

impl Ranges {
    /// The fetched bytes from the current position on, as far as one piece holds them.
    fn here(&self) -> io::Result<&[u8]> {
        if self.pos >= self.len {
            return Ok(&[]);
        }
        self.pieces
            .iter()
            .find(|(at, bytes)| *at <= self.pos && self.pos < at + bytes.len() as u64)
            .map(|(at, bytes)| &bytes[(self.pos - at) as usize..])
            .ok_or_else(|| io::Error::other(format!("byte {} was not fetched", self.pos)))
    }
}

impl Read for Ranges {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let here = self.here()?;
        let n = here.len().min(buf.len());
        buf[..n].copy_from_slice(&here[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl BufRead for Ranges {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.here()
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt as u64;
    }
}

impl Seek for Ranges {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let to = match pos {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => self.len.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.pos.checked_add_signed(delta),
        };
        self.pos = to.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// The records of one part, one JSON line at a time (newline included).
pub struct PartLines<R> {
    reader: BufReader<R>,
    key: String,
}

/// The records of a verified part body (see [`fetch_part`]), line by line.
pub fn part_lines(
    identity: &Identity,
    part: &ManifestPart,
    body: Bytes,
) -> Result<PartLines<impl Read + Send + 'static>, StorageError> {
    Ok(PartLines {
        reader: BufReader::new(open_reader(identity, body)?),
        key: part.key.clone(),
    })
}

impl<R: Read> PartLines<R> {
    /// Skips `n` records; fewer than `n` left is an error (the part is shorter than the
    /// manifest says).
    pub fn skip(&mut self, n: u64) -> Result<(), StorageError> {
        let mut sink = Vec::new();
        for _ in 0..n {
            sink.clear();
            if !self.next_into(&mut sink)? {
                return Err(StorageError::Decode(format!(
                    "{} holds fewer records than its manifest entry",
                    self.key
                )));
            }
        }
        Ok(())
    }

    /// Appends the next record (with its newline) to `out`; `false` at the end of the part.
    pub fn next_into(&mut self, out: &mut Vec<u8>) -> Result<bool, StorageError> {
        let read = self
            .reader
            .read_until(b'\n', out)
            .map_err(|e| StorageError::Decode(format!("{}: {e}", self.key)))?;
        if read > 0 && out.last() != Some(&b'\n') {
            return Err(StorageError::Decode(format!(
                "{} ends inside a record",
                self.key
            )));
        }
        Ok(read > 0)
    }
}

/// The account's identity for a manifest: checks that it is the key the parts were sealed to,
/// so a wrong key is reported as such rather than as a corrupt part.
pub fn check_recipient(manifest: &Manifest, identity: &Identity) -> Result<(), StorageError> {
    if manifest.encryption.recipient != identity.to_public().to_string() {
        return Err(StorageError::Crypto(format!(
            "snapshot {} is encrypted to {}, not to this account's key",
            manifest.snapshot_id, manifest.encryption.recipient
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::AccountKey;
    use crate::part::PartWriter;

    fn sealed(key: &AccountKey, lines: &[&str]) -> (ManifestPart, Bytes) {
        let mut writer = PartWriter::new(&key.recipient(), 3).expect("writer");
        for line in lines {
            writer.write_record(line.as_bytes()).expect("write");
        }
        let part = writer.finish().expect("finish");
        let entry = part.manifest_entry("k/part-00001.jsonl.zst.age", 1, None);
        (entry, part.body)
    }

    #[test]
    fn lines_come_back_one_by_one_and_skip_counts_records() {
        let key = AccountKey::generate();
        let (entry, body) = sealed(&key, &[r#"{"id":1}"#, r#"{"id":2}"#, r#"{"id":3}"#]);
        verify(&entry.key, &body, entry.stored_bytes, &entry.sha256).expect("verified");
        let mut lines = part_lines(key.identity(), &entry, body.clone()).expect("open");
        lines.skip(1).expect("skip");
        let mut out = Vec::new();
        assert!(lines.next_into(&mut out).unwrap());
        assert!(lines.next_into(&mut out).unwrap());
        assert!(!lines.next_into(&mut out).unwrap());
        assert_eq!(out, b"{\"id\":2}\n{\"id\":3}\n");

        let mut lines = part_lines(key.identity(), &entry, body).expect("open");
        assert!(lines.skip(4).is_err(), "past the end");
    }

    #[test]
    fn a_changed_or_truncated_body_fails_verification() {
        let key = AccountKey::generate();
        let (entry, body) = sealed(&key, &["{}"]);
        let mut changed = body.to_vec();
        changed[40] ^= 1;
        assert!(matches!(
            verify(&entry.key, &changed, entry.stored_bytes, &entry.sha256),
            Err(StorageError::Checksum { .. })
        ));
        assert!(verify(&entry.key, &body[1..], entry.stored_bytes, &entry.sha256).is_err());
    }
}
