//! Whole streams and files as response bodies, decrypted on the way out with bounded memory.
//!
//! A task fetches one part at a time (checked against its sha256 before anything of it is
//! sent), then decrypts and decompresses it on a blocking thread in 64 KiB chunks into a
//! bounded channel that the response body drains. For `.jsonl.zst` the chunks pass through one
//! zstd encoder that lives across parts, so the download is a single zstd frame. Memory is one
//! part's ciphertext plus a few chunks, whatever the stream's size. A client that goes away
//! closes the channel and the task stops at its next chunk.
//!
//! The status and headers are sent before the first part is read: a failure after that (a part
//! damaged in the store) ends the body early and is logged, and the client sees a truncated
//! transfer rather than a clean end.

use age::x25519::Identity;
use bytes::Bytes;
use poem::Body;
use std::io::{self, Read, Write};
use storage::{StorageError, manifest::ManifestPart, object_store::ObjectStore, reader};
use tokio::sync::mpsc;

/// Bytes per chunk handed to the response body.
const CHUNK: usize = 64 * 1024;
/// Chunks buffered between the decoder and a slow client.
const QUEUED_CHUNKS: usize = 8;
/// zstd level of `.jsonl.zst` downloads: fast, and most of the gain on JSON.
const ZSTD_LEVEL: i32 = 3;

pub(super) type Chunks = mpsc::Sender<io::Result<Bytes>>;

/// Where decoded bytes go: straight out, or through one zstd frame.
pub(super) enum Sink {
    Plain,
    Zstd(zstd::Encoder<'static, Vec<u8>>),
}

impl Sink {
    /// Plain bytes, or one zstd frame when `zstd`.
    pub(super) fn new(zstd: bool) -> Result<Self, Stop> {
        Ok(if zstd {
            Sink::Zstd(zstd::Encoder::new(Vec::new(), ZSTD_LEVEL).map_err(Stop::Io)?)
        } else {
            Sink::Plain
        })
    }

    pub(super) fn write(&mut self, bytes: &[u8], tx: &Chunks) -> Result<(), Stop> {
        match self {
            Sink::Plain => send(tx, Bytes::copy_from_slice(bytes)),
            Sink::Zstd(encoder) => {
                encoder.write_all(bytes).map_err(Stop::Io)?;
                if encoder.get_ref().len() >= CHUNK {
                    let out = std::mem::take(encoder.get_mut());
                    send(tx, Bytes::from(out))?;
                }
                Ok(())
            }
        }
    }

    pub(super) fn finish(self, tx: &Chunks) -> Result<(), Stop> {
        match self {
            Sink::Plain => Ok(()),
            Sink::Zstd(encoder) => send(tx, Bytes::from(encoder.finish().map_err(Stop::Io)?)),
        }
    }
}

/// Why producing stopped early.
pub(super) enum Stop {
    /// The client went away: nothing to report.
    Gone,
    Io(io::Error),
    Storage(StorageError),
}

fn send(tx: &Chunks, bytes: Bytes) -> Result<(), Stop> {
    if bytes.is_empty() {
        return Ok(());
    }
    tx.blocking_send(Ok(bytes)).map_err(|_| Stop::Gone)
}

/// Decrypts one verified part or blob into `sink`, on the calling (blocking) thread.
fn copy_object(identity: &Identity, body: Bytes, sink: &mut Sink, tx: &Chunks) -> Result<(), Stop> {
    let mut plain = reader::open_reader(identity, body).map_err(Stop::Storage)?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match plain.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Io(e)),
        };
        sink.write(&buf[..n], tx)?;
    }
}

/// One stored object a download reads: a part of a stream, or a file's blob.
pub enum Object {
    /// Checked against the manifest's size and sha256.
    Part(Box<ManifestPart>),
    /// Checked against the blob record's size and sha256.
    Blob {
        key: String,
        stored_bytes: u64,
        stored_sha256: String,
    },
}

impl Object {
    fn key(&self) -> &str {
        match self {
            Object::Part(part) => &part.key,
            Object::Blob { key, .. } => key,
        }
    }

    async fn fetch(&self, store: &ObjectStore) -> Result<Bytes, StorageError> {
        match self {
            Object::Part(part) => reader::fetch_part(store, part).await,
            Object::Blob {
                key,
                stored_bytes,
                stored_sha256,
            } => {
                let body = store.get(key).await?;
                reader::verify(key, &body, *stored_bytes, stored_sha256)?;
                Ok(body)
            }
        }
    }
}

/// The decrypted contents of `objects`, one after the other, as a response body; `zstd`
/// re-compresses them.
pub fn body(store: ObjectStore, identity: Identity, objects: Vec<Object>, zstd: bool) -> Body {
    streamed(move |tx| async move {
        let mut at = String::new();
        produce(&store, identity, objects, zstd, &tx, &mut at)
            .await
            .map_err(|stop| (at, stop))
    })
}

/// A response body fed by `produce` through the channel it is given. A failure, with the
/// object it was reading, is logged and ends the body early.
pub(super) fn streamed<F>(produce: impl FnOnce(Chunks) -> F) -> Body
where
    F: Future<Output = Result<(), (String, Stop)>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(QUEUED_CHUNKS);
    let work = produce(tx.clone());
    tokio::spawn(async move {
        let (at, stop) = match work.await {
            Ok(()) => return,
            Err(failed) => failed,
        };
        let error = match stop {
            Stop::Gone => return,
            Stop::Io(e) => e.to_string(),
            Stop::Storage(e) => e.to_string(),
        };
        tracing::error!(object = %at, %error, "download ended early");
        let _ = tx.send(Err(io::Error::other(error))).await;
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Body::from_bytes_stream(chunks)
}

async fn produce(
    store: &ObjectStore,
    identity: Identity,
    objects: Vec<Object>,
    zstd: bool,
    tx: &Chunks,
    at: &mut String,
) -> Result<(), Stop> {
    let mut sink = Sink::new(zstd)?;
    for object in objects {
        if tx.is_closed() {
            return Err(Stop::Gone);
        }
        object.key().clone_into(at);
        let body = object.fetch(store).await.map_err(Stop::Storage)?;
        let (identity, tx) = (identity.clone(), tx.clone());
        sink = tokio::task::spawn_blocking(move || {
            copy_object(&identity, body, &mut sink, &tx)?;
            Ok::<_, Stop>(sink)
        })
        .await
        .map_err(|e| Stop::Io(io::Error::other(e)))??;
    }
    let tx = tx.clone();
    tokio::task::spawn_blocking(move || sink.finish(&tx))
        .await
        .map_err(|e| Stop::Io(io::Error::other(e)))?
}
