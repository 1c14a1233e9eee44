//! Parts: one object of a stream, JSON Lines compressed with zstd and encrypted with age.
//!
//! The pipeline is `record + '\n' -> frame buffer -> zstd (on worker threads) -> age stream
//! writer -> Vec<u8>`, so only the ciphertext (and a few frames in flight) is held in memory,
//! never the plaintext of the whole part. The caller bounds a part by closing it (at a page
//! boundary, once [`PartWriter::raw_bytes`] passes its budget), which is what keeps retries
//! exact: a part is the unit that is uploaded, checksummed and committed.
//!
//! The format is deliberately nothing of our own: a binary age file whose plaintext is a run of
//! standard zstd frames (each with its content checksum), so `age -d -i key.txt part | zstd -d`
//! restores it. Each frame holds whole lines, about [`FRAME_BYTES`] of them, and is compressed
//! on its own: frames are compressed in parallel, and a record is read back by decrypting from
//! its frame's offset and decompressing that frame alone ([`PartFrame`], recorded with the
//! part's index), not the part up to its line.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::iter;
use std::thread::JoinHandle;

use age::stream::StreamWriter;
use age::x25519::Identity;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::StorageError;
use crate::keys::parse_recipient;
pub use crate::manifest::PartFrame;

/// zstd level used unless the caller asks otherwise: fast, and most of the gain on JSON.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// JSON Lines per zstd frame: a frame is closed at the first line end past this. Small enough
/// that reading one record decompresses little, large enough that compression loses little
/// (level 3's window is 2 MiB; frames start without history).
pub const FRAME_BYTES: usize = 1 << 20;

/// Upper bound on frames compressed at once per part. Several streams may be extracted at once,
/// and each frame in flight holds its buffers, so one part must not take every core.
const MAX_ZSTD_WORKERS: usize = 2;

/// A frame handed to a worker thread: its compressor and input come back with its output, to
/// be used again.
type FrameJob = JoinHandle<io::Result<(zstd::bulk::Compressor<'static>, Vec<u8>, Vec<u8>)>>;

/// Builds one part in memory; see the module docs.
pub struct PartWriter {
    sealed: StreamWriter<Vec<u8>>,
    level: i32,
    /// The lines of the frame being filled.
    frame: Vec<u8>,
    /// Frames being compressed, oldest first, with the line each starts at.
    in_flight: VecDeque<(u64, FrameJob)>,
    workers: usize,
    /// Compressors and frame buffers free to use again.
    idle: Vec<zstd::bulk::Compressor<'static>>,
    spare: Vec<Vec<u8>>,
    /// Where the frames written so far start.
    frames: Vec<PartFrame>,
    /// Compressed bytes written so far: the next frame's offset.
    compressed: u64,
    /// The line the frame being filled starts at.
    frame_line: u64,
    records: u64,
    raw_bytes: u64,
}

impl PartWriter {
    /// Starts a part encrypted to `recipient` (`age1...`), compressed at `zstd_level`.
    pub fn new(recipient: &str, zstd_level: i32) -> Result<Self, StorageError> {
        let recipient = parse_recipient(recipient)?;
        let encryptor =
            age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| StorageError::Crypto(format!("part encryptor: {e}")))?;
        let sealed = encryptor.wrap_output(Vec::new())?;
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_ZSTD_WORKERS);
        Ok(Self {
            sealed,
            level: zstd_level,
            frame: Vec::new(),
            in_flight: VecDeque::new(),
            workers,
            idle: Vec::new(),
            spare: Vec::new(),
            frames: Vec::new(),
            compressed: 0,
            frame_line: 0,
            records: 0,
            raw_bytes: 0,
        })
    }

    /// Appends one record as a line. `json` must be single-line JSON (serde_json's compact
    /// output is); a raw newline would split the record in two on restore.
    pub fn write_record(&mut self, json: &[u8]) -> Result<(), StorageError> {
        if json.contains(&b'\n') {
            return Err(StorageError::InvalidRecord(
                "record contains a raw newline; JSON Lines needs compact JSON",
            ));
        }
        if self.frame.capacity() == 0 {
            self.frame = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(FRAME_BYTES + FRAME_BYTES / 4));
        }
        self.frame.extend_from_slice(json);
        self.frame.push(b'\n');
        self.records += 1;
        self.raw_bytes += json.len() as u64 + 1;
        if self.frame.len() >= FRAME_BYTES {
            self.close_frame()?;
        }
        Ok(())
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// Uncompressed bytes written so far, newlines included.
    pub fn raw_bytes(&self) -> u64 {
        self.raw_bytes
    }

    /// Hands the frame being filled to a worker thread, first writing out the oldest frame in
    /// flight if every worker is busy.
    fn close_frame(&mut self) -> io::Result<()> {
        if self.in_flight.len() >= self.workers {
            self.write_oldest()?;
        }
        let mut compressor = match self.idle.pop() {
            Some(c) => c,
            None => {
                let mut c = zstd::bulk::Compressor::new(self.level)?;
                // The frame checksum lets `zstd -d` (and we) detect corruption independently
                // of age.
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
                c
            }
        };
        let input = std::mem::take(&mut self.frame);
        let job = std::thread::Builder::new()
            .name("part-frame".into())
            .spawn(move || {
                let output = compressor.compress(&input)?;
                Ok((compressor, input, output))
            })?;
        self.in_flight.push_back((self.frame_line, job));
        self.frame_line = self.records;
        Ok(())
    }

    /// Waits for the oldest frame in flight and appends it to the sealed output.
    fn write_oldest(&mut self) -> io::Result<()> {
        let Some((line, job)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let (compressor, mut input, output) = job
            .join()
            .map_err(|_| io::Error::other("compressing a frame failed"))??;
        self.sealed.write_all(&output)?;
        self.frames.push(PartFrame {
            line,
            offset: self.compressed,
        });
        self.compressed += output.len() as u64;
        self.idle.push(compressor);
        input.clear();
        self.spare.push(input);
        Ok(())
    }

    /// Compresses the last frame, finalises the age stream and checksums the result. An empty
    /// part is one empty frame, so stock `zstd -d` reads it too.
    pub fn finish(mut self) -> Result<SealedPart, StorageError> {
        if !self.frame.is_empty() || self.records == 0 {
            self.close_frame()?;
        }
        while !self.in_flight.is_empty() {
            self.write_oldest()?;
        }
        let body = self.sealed.finish()?;
        let sha256 = sha256_hex(&body);
        Ok(SealedPart {
            body: Bytes::from(body),
            sha256,
            records: self.records,
            raw_bytes: self.raw_bytes,
            frames: self.frames,
        })
    }
}

/// A finished part, ready to upload.
#[derive(Debug, Clone)]
pub struct SealedPart {
    /// The object body: a binary age file.
    pub body: Bytes,
    /// Lowercase hex sha256 of `body`, as recorded in the manifest.
    pub sha256: String,
    pub records: u64,
    /// Uncompressed JSON Lines size.
    pub raw_bytes: u64,
    /// Where each zstd frame starts, in line order.
    pub frames: Vec<PartFrame>,
}

impl SealedPart {
    /// Bytes as stored in S3.
    pub fn stored_bytes(&self) -> u64 {
        self.body.len() as u64
    }

    /// The part's manifest entry once stored under `key`, with its index (if any) and no
    /// blobs.
    pub fn manifest_entry(
        &self,
        key: &str,
        part_no: u32,
        index: Option<crate::manifest::PartIndex>,
    ) -> crate::manifest::ManifestPart {
        crate::manifest::ManifestPart {
            key: key.to_owned(),
            part_no,
            records: self.records,
            raw_bytes: self.raw_bytes,
            stored_bytes: self.stored_bytes(),
            sha256: self.sha256.clone(),
            blobs: Vec::new(),
            index,
        }
    }
}

/// Decrypts and decompresses a part into its JSON Lines bytes.
pub fn open_part(identity: &Identity, body: &[u8]) -> Result<Vec<u8>, StorageError> {
    let mut plain = Vec::new();
    part_reader(identity, body)?
        .read_to_end(&mut plain)
        .map_err(|e| StorageError::Decode(format!("part body: {e}")))?;
    Ok(plain)
}

/// Streaming form of [`open_part`], for restores that process records without holding a whole
/// decompressed part. Read errors mean a corrupt or tampered part.
pub fn part_reader<'a>(
    identity: &'a Identity,
    body: &'a [u8],
) -> Result<impl Read + 'a, StorageError> {
    let decryptor = age::Decryptor::new_buffered(body)
        .map_err(|e| StorageError::Crypto(format!("part header: {e}")))?;
    let plain = decryptor
        .decrypt(iter::once(identity as &dyn age::Identity))
        .map_err(|e| StorageError::Crypto(format!("part key: {e}")))?;
    zstd::Decoder::new(plain).map_err(|e: io::Error| StorageError::Decode(format!("zstd: {e}")))
}

/// `json` (valid JSON) as one line for a part: JSON a platform pretty-printed has the
/// whitespace between its tokens removed — the same JSON, compact; JSON already on one line is
/// returned as it is. Only whitespace outside strings goes: a string cannot hold a raw line
/// break, so every line break is outside one.
pub fn one_line(json: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !json.contains(&b'\n') {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Lowercase hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::keys::AccountKey;

    fn sample_part(key: &AccountKey, n: usize) -> (Vec<u8>, SealedPart) {
        let mut writer = PartWriter::new(&key.recipient(), DEFAULT_ZSTD_LEVEL).expect("writer");
        let mut expected = Vec::new();
        for i in 0..n {
            let record = serde_json::json!({
                "id": format!("cus_{i:06}"),
                "email": format!("user{i}@example.com"),
                "note": "line one\nline two",
                "amount": i * 100,
            });
            let line = serde_json::to_vec(&record).expect("json");
            writer.write_record(&line).expect("write");
            expected.extend_from_slice(&line);
            expected.push(b'\n');
        }
        assert_eq!(writer.records(), n as u64);
        assert_eq!(writer.raw_bytes(), expected.len() as u64);
        (expected, writer.finish().expect("finish"))
    }

    #[test]
    fn part_round_trip() {
        let key = AccountKey::generate();
        let (expected, part) = sample_part(&key, 10_000);
        assert_eq!(part.records, 10_000);
        assert_eq!(part.raw_bytes, expected.len() as u64);
        assert_eq!(part.sha256, sha256_hex(&part.body));
        assert_eq!(part.sha256.len(), 64);
        assert!(part.body.starts_with(b"age-encryption.org/v1\n"));
        assert!(part.stored_bytes() < part.raw_bytes, "compressed");
        let plain = open_part(key.identity(), &part.body).expect("open");
        assert!(plain == expected, "decoded bytes differ");
    }

    #[test]
    fn frames_start_at_line_ends_and_each_reads_alone() {
        let key = AccountKey::generate();
        let (expected, part) = sample_part(&key, 30_000);
        let lines: Vec<&[u8]> = expected.split_inclusive(|&b| b == b'\n').collect();
        assert!(part.frames.len() >= 3, "{} frames", part.frames.len());
        assert_eq!(part.frames[0], PartFrame { line: 0, offset: 0 });
        assert!(
            part.frames
                .windows(2)
                .all(|w| w[0].line < w[1].line && w[0].offset < w[1].offset)
        );
        for (i, frame) in part.frames.iter().enumerate() {
            let next = part.frames.get(i + 1);
            let end = next.map_or(lines.len() as u64, |f| f.line);
            let mut read = crate::reader::FetchedFrame::whole(
                "p",
                part.body.clone(),
                frame.offset,
                next.map(|f| f.offset),
            )
            .lines(key.identity())
            .expect("frame");
            for n in frame.line..end {
                let mut line = Vec::new();
                assert!(read.next_into(&mut line).expect("line"), "line {n}");
                assert_eq!(line, lines[n as usize], "line {n}");
            }
            assert!(
                !read.next_into(&mut Vec::new()).expect("end"),
                "frame {i} ends"
            );
        }
    }

    #[test]
    fn pretty_printed_json_is_stored_as_the_same_json_on_one_line() {
        let pretty = serde_json::to_vec_pretty(&serde_json::json!({
            "id": "ch_1",
            "description": "two  spaces,\ta tab, a line\nbreak and \"quotes\" \\",
            "amount": 1.10,
            "nested": {"list": [1, {"k": " v "}], "empty": {}},
        }))
        .unwrap();
        assert!(pretty.contains(&b'\n'));
        let line = one_line(&pretty);
        assert!(!line.contains(&b'\n'), "{}", String::from_utf8_lossy(&line));
        let value = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(value(&line), value(&pretty));
        // Only whitespace between tokens went: the text is the compact form of the same JSON.
        assert_eq!(
            String::from_utf8(line.to_vec()).unwrap(),
            serde_json::to_string(&value(&pretty)).unwrap()
        );
        // Numbers keep their text (no float round trip).
        let text = b"{\n  \"amount\": 1.10,\n  \"n\": 1e400\n}";
        assert_eq!(&*one_line(text), br#"{"amount":1.10,"n":1e400}"#);
        // One line already: kept as it is, spaces and all.
        let compact = br#"{"a": "b c"}"#;
        assert!(matches!(one_line(compact), std::borrow::Cow::Borrowed(b) if b == compact));
        let mut writer = PartWriter::new(&AccountKey::generate().recipient(), 3).unwrap();
        writer.write_record(&one_line(&pretty)).unwrap();
    }

    #[test]
    fn empty_part_round_trips() {
        let key = AccountKey::generate();
        let (_, part) = sample_part(&key, 0);
        assert_eq!(open_part(key.identity(), &part.body).expect("open"), b"");
    }

    #[test]
    fn wrong_identity_and_tampering_fail() {
        let key = AccountKey::generate();
        let (_, part) = sample_part(&key, 50);
        let other = AccountKey::generate();
        assert!(matches!(
            open_part(other.identity(), &part.body),
            Err(StorageError::Crypto(_))
        ));
        let mut tampered = part.body.to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        assert!(open_part(key.identity(), &tampered).is_err());
    }

    #[test]
    fn multiline_record_is_rejected() {
        let key = AccountKey::generate();
        let mut writer = PartWriter::new(&key.recipient(), 3).expect("writer");
        let err = writer.write_record(b"{\n\"a\": 1}").unwrap_err();
        assert!(matches!(err, StorageError::InvalidRecord(_)));
        assert_eq!(writer.records(), 0);
    }

    #[test]
    fn bad_recipient_is_rejected() {
        assert!(matches!(
            PartWriter::new("not-a-recipient", 3),
            Err(StorageError::InvalidKey(_))
        ));
    }

    fn on_path(name: &str) -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    }

    /// DESIGN.md promises restores with stock tools; hold the format to that.
    #[test]
    fn stock_age_and_zstd_restore_a_part() {
        let (Some(age_bin), Some(zstd_bin)) = (on_path("age"), on_path("zstd")) else {
            println!("note: `age` or `zstd` not on PATH; stock-tool restore check skipped");
            return;
        };
        let key = AccountKey::generate();
        // Several frames: stock zstd reads them as one stream.
        let (expected, part) = sample_part(&key, 20_000);
        assert!(part.frames.len() > 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let key_path = dir.path().join("key.txt");
        let part_path = dir.path().join("part-00001.jsonl.zst.age");
        std::fs::write(&key_path, format!("{}\n", key.to_secret_string())).expect("key");
        std::fs::write(&part_path, &part.body).expect("part");

        let mut age = Command::new(age_bin)
            .arg("-d")
            .arg("-i")
            .arg(&key_path)
            .arg(&part_path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn age");
        let age_out = age.stdout.take().expect("age stdout");
        let zstd = Command::new(zstd_bin)
            .arg("-d")
            .arg("-c")
            .stdin(age_out)
            .output()
            .expect("run zstd");
        assert!(age.wait().expect("age exit").success(), "age -d failed");
        assert!(
            zstd.status.success(),
            "zstd -d failed: {}",
            String::from_utf8_lossy(&zstd.stderr)
        );
        assert!(
            zstd.stdout == expected,
            "stock tools decoded different bytes"
        );
    }
}
