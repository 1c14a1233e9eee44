//! Exports: snapshots turned into one archive a person can open with standard tools.
//!
//! The archive is a tar file compressed with zstd (`tar --zstd -xf export.tar.zst`, or
//! `zstd -dc export.tar.zst | tar -x`):
//!
//! ```text
//! export.json                      what the archive holds: snapshots, streams, counts, files
//! {snapshot_id}/{stream}.jsonl     a stream's records as stored (or `.csv`, one row a record)
//! files/{sha256}                   a file's contents, named by the sha256 its records give
//! ```
//!
//! It is written as a stream, from a blocking thread: parts are fetched one at a time, checked
//! against the manifest, decrypted and decompressed into the tar, and the compressed archive goes
//! to the object store in pieces of a multipart upload ([`MultipartWriter`]). Memory is bounded
//! by one part's ciphertext and one upload piece, whatever the export's size. CSV needs its
//! columns before its first row, so a CSV stream is read twice and its rows are spooled to a
//! temporary file, never held in memory.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use age::x25519::Identity;
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::runtime::Handle;

use crate::StorageError;
use crate::manifest::{Manifest, ManifestPart, ManifestStream};
use crate::object_store::{ObjectStore, UploadedPart};
use crate::reader::{self, open_reader, part_lines};

/// The size of one upload piece (S3 wants at least 5 MiB for all but the last).
pub const PIECE_BYTES: usize = 8 * 1024 * 1024;

/// How a stream is written into the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// JSON Lines, byte for byte as stored.
    Jsonl,
    /// CSV with a header row: one column per top-level field of any record (`id` first, the
    /// others by name), nested values as JSON text, absent values empty.
    Csv,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }
}

/// A file to put in the archive: where its sealed object is and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFile {
    /// sha256 of the contents: the name records know it by.
    pub sha256: String,
    pub key: String,
    /// The contents' size.
    pub size: u64,
    pub stored_bytes: u64,
    pub stored_sha256: String,
}

/// One snapshot to export: its manifest and the streams chosen.
#[derive(Debug, Clone)]
pub struct SnapshotExport {
    pub manifest: Manifest,
    /// Names of the streams to export, in archive order.
    pub streams: Vec<String>,
}

impl SnapshotExport {
    fn streams(&self) -> impl Iterator<Item = &ManifestStream> {
        self.streams
            .iter()
            .filter_map(|name| self.manifest.stream(name))
    }
}

/// What an export has done so far, readable while it runs.
#[derive(Debug, Default)]
pub struct ExportProgress {
    /// Records written into the archive.
    pub records: AtomicU64,
    /// Files written into the archive.
    pub files: AtomicU64,
    /// Uncompressed bytes written into the archive.
    pub bytes: AtomicU64,
    /// Compressed bytes uploaded.
    pub uploaded: AtomicU64,
}

/// The blobs the chosen streams of `snapshots` refer to, sorted and without repeats.
pub fn referenced_blobs(snapshots: &[SnapshotExport]) -> Vec<String> {
    let set: BTreeSet<&String> = snapshots
        .iter()
        .flat_map(|s| s.streams())
        .flat_map(|stream| stream.parts.iter())
        .flat_map(|part| part.blobs.iter())
        .collect();
    set.into_iter().cloned().collect()
}

#[derive(Serialize)]
struct ArchiveIndex<'a> {
    format: u32,
    record_format: ExportFormat,
    snapshots: Vec<IndexSnapshot<'a>>,
    files: Vec<&'a str>,
}

#[derive(Serialize)]
struct IndexSnapshot<'a> {
    snapshot_id: &'a str,
    source_id: &'a str,
    platform: &'a str,
    kind: &'a str,
    parent_snapshot_id: Option<&'a str>,
    finished_at: chrono::DateTime<chrono::Utc>,
    streams: Vec<IndexStream>,
}

#[derive(Serialize)]
struct IndexStream {
    name: String,
    path: String,
    records: u64,
}

/// What goes into an archive and where it is read from.
pub struct Archive<'a> {
    /// Object-store calls are made through it: the archive is written on a blocking thread.
    pub handle: &'a Handle,
    pub store: &'a ObjectStore,
    /// The account's identity, to decrypt parts and files.
    pub identity: &'a Identity,
    pub snapshots: &'a [SnapshotExport],
    /// The files to include (none: records only).
    pub files: &'a [ExportFile],
    pub format: ExportFormat,
}

impl Archive<'_> {
    /// Writes the archive into `out` as tar + zstd; returns `out` once it is complete.
    pub fn write<W: Write>(&self, out: W, progress: &ExportProgress) -> Result<W, StorageError> {
        let Archive {
            handle,
            store,
            identity,
            snapshots,
            files,
            format,
        } = *self;
        write_archive(
            out, handle, store, identity, snapshots, files, format, progress,
        )
    }

    /// Like [`write`](Self::write), with the archive encrypted to `recipient` (`age1...`):
    /// `age -d -i key.txt export.tar.zst.age | tar --zstd -x` opens it. For accounts that hold
    /// their own key, so that the stored archive is nothing the service can read.
    pub fn write_sealed<W: Write>(
        &self,
        out: W,
        recipient: &str,
        progress: &ExportProgress,
    ) -> Result<W, StorageError> {
        let recipient = crate::keys::parse_recipient(recipient)?;
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| StorageError::Crypto(format!("export encryptor: {e}")))?;
        let sealed = self.write(encryptor.wrap_output(out)?, progress)?;
        Ok(sealed.finish()?)
    }
}

#[allow(clippy::too_many_arguments)]
fn write_archive<W: Write>(
    out: W,
    handle: &Handle,
    store: &ObjectStore,
    identity: &Identity,
    snapshots: &[SnapshotExport],
    files: &[ExportFile],
    format: ExportFormat,
    progress: &ExportProgress,
) -> Result<W, StorageError> {
    let encoder = zstd::Encoder::new(out, 3)?;
    let mut tar = tar::Builder::new(CountingWriter {
        inner: encoder,
        counter: &progress.bytes,
    });
    let index = ArchiveIndex {
        format: 1,
        record_format: format,
        snapshots: snapshots
            .iter()
            .map(|s| IndexSnapshot {
                snapshot_id: &s.manifest.snapshot_id,
                source_id: &s.manifest.source_id,
                platform: &s.manifest.platform,
                kind: &s.manifest.kind,
                parent_snapshot_id: s.manifest.parent_snapshot_id.as_deref(),
                finished_at: s.manifest.finished_at,
                streams: s
                    .streams()
                    .map(|stream| IndexStream {
                        path: stream_path(&s.manifest, stream, format),
                        name: stream.name.clone(),
                        records: stream.records,
                    })
                    .collect(),
            })
            .collect(),
        files: files.iter().map(|f| f.sha256.as_str()).collect(),
    };
    let index = serde_json::to_vec_pretty(&index)
        .map_err(|e| StorageError::Decode(format!("export index: {e}")))?;
    append(&mut tar, "export.json", index.len() as u64, &index[..])?;

    let fetch = |part: &ManifestPart| handle.block_on(reader::fetch_part(store, part));
    for snapshot in snapshots {
        for stream in snapshot.streams() {
            let path = stream_path(&snapshot.manifest, stream, format);
            match format {
                ExportFormat::Jsonl => {
                    let body = PartsReader {
                        parts: stream.parts.iter().collect(),
                        fetch: &fetch,
                        identity,
                        current: None,
                        progress,
                    };
                    append(&mut tar, &path, stream.raw_bytes, body)?;
                }
                ExportFormat::Csv => {
                    let mut spool = csv_spool(stream, &fetch, identity, progress)?;
                    let size = spool.seek(io::SeekFrom::End(0))?;
                    spool.rewind()?;
                    append(&mut tar, &path, size, spool)?;
                }
            }
        }
    }
    for file in files {
        let body = handle.block_on(store.get(&file.key))?;
        reader::verify(&file.key, &body, file.stored_bytes, &file.stored_sha256)?;
        let contents = open_reader(identity, body)?;
        append(
            &mut tar,
            &format!("files/{}", file.sha256),
            file.size,
            contents,
        )?;
        progress.files.fetch_add(1, Ordering::Relaxed);
    }
    let counting = tar.into_inner().map_err(from_io)?;
    counting.inner.finish().map_err(from_io)
}

fn stream_path(manifest: &Manifest, stream: &ManifestStream, format: ExportFormat) -> String {
    format!(
        "{}/{}.{}",
        manifest.snapshot_id,
        stream.name,
        format.extension()
    )
}

/// Appends one regular file of exactly `size` bytes read from `body`; a body of another
/// length is an error (the archive would be corrupt), never padded or cut.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    body: impl Read,
) -> Result<(), StorageError> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    let exact = Exact {
        inner: body,
        remaining: size,
        path,
    };
    tar.append_data(&mut header, path, exact).map_err(from_io)
}

/// An I/O error from the tar writer, with the storage error inside it (a damaged part, a
/// store that cannot be reached) brought back out, so callers can tell the two apart.
fn from_io(e: io::Error) -> StorageError {
    if !e.get_ref().is_some_and(|inner| inner.is::<StorageError>()) {
        return StorageError::Io(e);
    }
    match e.into_inner().map(|inner| inner.downcast::<StorageError>()) {
        Some(Ok(storage)) => *storage,
        Some(Err(other)) => StorageError::Io(io::Error::other(other)),
        None => StorageError::Io(io::Error::other("unknown I/O error")),
    }
}

/// A reader that must yield exactly `remaining` bytes.
struct Exact<'a, R> {
    inner: R,
    remaining: u64,
    path: &'a str,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(StorageError::Decode(format!(
                    "{} is longer than its manifest says",
                    self.path
                )))),
            };
        }
        let want = buf.len().min(self.remaining as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::other(StorageError::Decode(format!(
                "{} is shorter than its manifest says",
                self.path
            ))));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// The plaintext of a stream's parts, one after the other, each fetched and checked only when
/// the previous one is used up.
struct PartsReader<'a, F> {
    parts: std::collections::VecDeque<&'a ManifestPart>,
    fetch: &'a F,
    identity: &'a Identity,
    current: Option<Box<dyn Read + Send>>,
    progress: &'a ExportProgress,
}

impl<F> Read for PartsReader<'_, F>
where
    F: Fn(&ManifestPart) -> Result<Bytes, StorageError>,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(current) = &mut self.current {
                let n = current.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(part) = self.parts.pop_front() else {
                return Ok(0);
            };
            let body = (self.fetch)(part).map_err(io::Error::other)?;
            self.current = Some(Box::new(
                open_reader(self.identity, body).map_err(io::Error::other)?,
            ));
            self.progress
                .records
                .fetch_add(part.records, Ordering::Relaxed);
        }
    }
}

/// Calls `each` with every record of a stream, part by part.
fn for_each_record<F>(
    stream: &ManifestStream,
    fetch: &F,
    identity: &Identity,
    mut each: impl FnMut(&[u8]) -> Result<(), StorageError>,
) -> Result<(), StorageError>
where
    F: Fn(&ManifestPart) -> Result<Bytes, StorageError>,
{
    let mut line = Vec::new();
    for part in &stream.parts {
        let mut lines = part_lines(identity, part, fetch(part)?)?;
        loop {
            line.clear();
            if !lines.next_into(&mut line)? {
                break;
            }
            each(&line)?;
        }
    }
    Ok(())
}

fn record_object(
    line: &[u8],
    stream: &str,
) -> Result<serde_json::Map<String, Value>, StorageError> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StorageError::Decode(format!(
            "a record of `{stream}` is not a JSON object"
        ))),
    }
}

/// The stream as CSV in a temporary file: a first pass finds the columns, a second writes the
/// rows.
fn csv_spool<F>(
    stream: &ManifestStream,
    fetch: &F,
    identity: &Identity,
    progress: &ExportProgress,
) -> Result<std::fs::File, StorageError>
where
    F: Fn(&ManifestPart) -> Result<Bytes, StorageError>,
{
    let mut names: BTreeSet<String> = BTreeSet::new();
    for_each_record(stream, fetch, identity, |line| {
        for key in record_object(line, &stream.name)?.keys() {
            if !names.contains(key) {
                names.insert(key.clone());
            }
        }
        Ok(())
    })?;
    // `id` first, where records have one; the rest by name.
    let mut columns: Vec<String> = names.into_iter().collect();
    if let Some(at) = columns.iter().position(|c| c == "id") {
        let id = columns.remove(at);
        columns.insert(0, id);
    }
    let file = tempfile::tempfile()?;
    let mut csv = csv::Writer::from_writer(BufWriter::new(file));
    let csv_error = |e: csv::Error| StorageError::Io(io::Error::other(e));
    if !columns.is_empty() {
        csv.write_record(&columns).map_err(csv_error)?;
    }
    let mut row: Vec<String> = Vec::with_capacity(columns.len());
    for_each_record(stream, fetch, identity, |line| {
        let record = record_object(line, &stream.name)?;
        row.clear();
        row.extend(columns.iter().map(|c| match record.get(c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        }));
        csv.write_record(&row).map_err(csv_error)?;
        progress.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    })?;
    let buffered = csv
        .into_inner()
        .map_err(|e| StorageError::Io(io::Error::other(e.to_string())))?;
    buffered
        .into_inner()
        .map_err(|e| StorageError::Io(e.into_error()))
}

/// Counts the bytes that pass through.
struct CountingWriter<'a, W> {
    inner: W,
    counter: &'a AtomicU64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes an object as a multipart upload, [`PIECE_BYTES`] at a time, from a blocking thread:
/// at most one piece is held in memory. [`MultipartWriter::finish`] completes the upload; a
/// writer dropped unfinished abandons it.
pub struct MultipartWriter {
    handle: Handle,
    store: ObjectStore,
    key: String,
    upload_id: Option<String>,
    piece: Vec<u8>,
    parts: Vec<UploadedPart>,
    /// Where the uploaded bytes are counted.
    uploaded: Arc<ExportProgress>,
}

impl MultipartWriter {
    /// Starts the upload of `key`.
    pub fn start(
        handle: Handle,
        store: ObjectStore,
        key: &str,
        progress: Arc<ExportProgress>,
    ) -> Result<Self, StorageError> {
        let upload_id = handle.block_on(store.create_multipart(key))?;
        Ok(Self {
            handle,
            store,
            key: key.to_owned(),
            upload_id: Some(upload_id),
            piece: Vec::with_capacity(PIECE_BYTES),
            parts: Vec::new(),
            uploaded: progress,
        })
    }

    fn upload_piece(&mut self) -> Result<(), StorageError> {
        let upload_id = self.upload_id.as_deref().unwrap_or_default();
        let body = Bytes::from(std::mem::replace(
            &mut self.piece,
            Vec::with_capacity(PIECE_BYTES),
        ));
        let len = body.len() as u64;
        let number = self.parts.len() as i32 + 1;
        let part = self
            .handle
            .block_on(self.store.upload_part(&self.key, upload_id, number, body))?;
        self.parts.push(part);
        self.uploaded.uploaded.fetch_add(len, Ordering::Relaxed);
        Ok(())
    }

    /// Uploads what is left and completes the object; returns its size.
    pub fn finish(mut self) -> Result<u64, StorageError> {
        if !self.piece.is_empty() || self.parts.is_empty() {
            self.upload_piece()?;
        }
        let upload_id = self.upload_id.take().unwrap_or_default();
        self.handle.block_on(
            self.store
                .complete_multipart(&self.key, &upload_id, &self.parts),
        )?;
        Ok(self.uploaded.uploaded.load(Ordering::Relaxed))
    }
}

impl Write for MultipartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = PIECE_BYTES - self.piece.len();
        let n = buf.len().min(room);
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == PIECE_BYTES {
            self.upload_piece().map_err(io::Error::other)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for MultipartWriter {
    fn drop(&mut self) {
        if let Some(upload_id) = self.upload_id.take()
            && let Err(e) = self
                .handle
                .block_on(self.store.abort_multipart(&self.key, &upload_id))
        {
            tracing::warn!(key = %self.key, error = %e, "could not abandon an unfinished upload");
        }
    }
}

#[cfg(test)]
mod tests;
