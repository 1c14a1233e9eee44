//! The directory tree behind the embedded endpoint, and how a write becomes visible atomically.
//!
//! ```text
//! {root}/{bucket}/{key}               an object's bytes, at the path its key names
//! {root}/.meta/{bucket}/{key}.json    its metadata: ETag, size, content type, user metadata
//! {root}/.tmp/{uuid}                  bodies being received; renamed into place once complete
//! {root}/.uploads/{upload_id}/        multipart uploads: `upload.json` and one file per part
//! ```
//!
//! Every path component is one segment of a key (at most [`MAX_SEGMENT`] bytes), so keys of any
//! length S3 allows fit; s3s-fs, which this replaces, kept metadata in one file at the root named
//! after base64(bucket) + base64(key) and so could not store keys over ~156 bytes. Bucket names
//! never start with `.`, so the dot directories cannot collide with a bucket.
//!
//! A body is written to `.tmp`, synced and renamed over the object, then its sidecar is renamed
//! into place: a reader sees the old object or the new one, never half of one, and a crashed
//! upload leaves at most a stray temp file (removed at the next start). The sidecar records the
//! object file's size and modification time; one that does not match (a crash between the two
//! renames, or an object written by s3s-fs, which had no sidecar here) is ignored and the ETag is
//! computed from the bytes. Writers and readers of one key take the same lock, so within the
//! process an object and its sidecar always change together. One process serves a folder.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use tokio::fs::{self, File};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::{Mutex, MutexGuard};

use futures::StreamExt;

/// S3's limit on a key, in bytes.
pub(super) const MAX_KEY: usize = 1024;
/// Longest key segment: a file name (255 bytes on common filesystems) less the sidecar's `.json`.
pub(super) const MAX_SEGMENT: usize = 250;
/// Key locks are striped: enough that unrelated keys rarely wait for each other.
const LOCK_STRIPES: usize = 64;
/// How often a commit retries when a concurrent delete pruned the directory it just created.
const COMMIT_ATTEMPTS: usize = 5;

const TMP_DIR: &str = ".tmp";
const META_DIR: &str = ".meta";
pub(super) const UPLOADS_DIR: &str = ".uploads";

pub(super) struct Folder {
    root: PathBuf,
    locks: Box<[Mutex<()>]>,
    hasher: RandomState,
}

/// What the sidecar says about an object.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct ObjectMeta {
    /// Hex MD5 of the body, or `{md5 of the part MD5s}-{parts}` for a multipart upload.
    pub e_tag: String,
    pub size: u64,
    /// The object file's modification time when it was written, in ns since the Unix epoch: the
    /// object's Last-Modified, and with `size` the check that this sidecar describes the file.
    pub last_modified_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `x-amz-meta-*` headers.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub user_metadata: HashMap<String, String>,
}

/// An object opened for reading, with what is known about it.
pub(super) struct OpenObject {
    pub file: File,
    pub size: u64,
    pub last_modified: SystemTime,
    /// `None` when there is no sidecar or it describes another version of the file.
    pub meta: Option<ObjectMeta>,
}

impl OpenObject {
    /// The sidecar's ETag, or the MD5 of the bytes when there is no usable sidecar. Leaves the
    /// file positioned at its start.
    pub async fn e_tag(&mut self) -> S3Result<String> {
        if let Some(meta) = &self.meta {
            return Ok(meta.e_tag.clone());
        }
        let mut md5 = Md5::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.file.read(&mut buf).await.map_err(internal("read"))?;
            if n == 0 {
                break;
            }
            md5.update(&buf[..n]);
        }
        self.file
            .seek(io::SeekFrom::Start(0))
            .await
            .map_err(internal("seek"))?;
        Ok(md5.finish_hex())
    }
}

/// A file in `.tmp`, removed on drop unless it was renamed into place.
pub(super) struct TempFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl TempFile {
    pub async fn write(&mut self, bytes: &[u8]) -> S3Result<()> {
        let writer = self.writer.as_mut().ok_or_else(|| {
            S3Error::with_message(s3s::S3ErrorCode::InternalError, "temp file already closed")
        })?;
        writer.write_all(bytes).await.map_err(internal("write"))
    }

    /// Flushes and syncs the file, and returns its size and modification time.
    pub async fn finish(&mut self) -> S3Result<(u64, SystemTime)> {
        let mut writer = self.writer.take().ok_or_else(|| {
            S3Error::with_message(s3s::S3ErrorCode::InternalError, "temp file already closed")
        })?;
        writer.flush().await.map_err(internal("flush"))?;
        let file = writer.into_inner();
        file.sync_all().await.map_err(internal("sync"))?;
        let stat = file.metadata().await.map_err(internal("stat"))?;
        let modified = stat.modified().map_err(internal("stat"))?;
        Ok((stat.len(), modified))
    }

    /// Renames the file to `dest`, creating `dest`'s directory; the temp file is gone afterwards.
    pub async fn persist(mut self, dest: &Path) -> io::Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(dir) = dest.parent() {
                fs::create_dir_all(dir).await?;
            }
            match fs::rename(&self.path, dest).await {
                Ok(()) => {
                    self.path = PathBuf::new();
                    return Ok(());
                }
                // A delete of the last object in that directory pruned it in between.
                Err(e) if e.kind() == ErrorKind::NotFound && attempt < COMMIT_ATTEMPTS => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the file to `dest`, whose directory must exist (NotFound otherwise).
    pub async fn persist_into_existing(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest).await?;
        self.path = PathBuf::new();
        Ok(())
    }
}

/// A received body: the temp file holding it and what was computed on the way.
pub(super) struct Received {
    pub temp: TempFile,
    pub md5: [u8; 16],
    pub size: u64,
    pub modified: SystemTime,
}

impl Folder {
    /// Opens `root` (which must exist), creating the dot directories and removing temp files a
    /// previous run left behind.
    pub async fn open(root: &Path) -> io::Result<Self> {
        let root = fs::canonicalize(root).await?;
        let tmp = root.join(TMP_DIR);
        match fs::remove_dir_all(&tmp).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        for dir in [TMP_DIR, META_DIR, UPLOADS_DIR] {
            fs::create_dir_all(root.join(dir)).await?;
        }
        Ok(Self {
            root,
            locks: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        })
    }

    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        join_key(self.bucket_dir(bucket), key, "")
    }

    pub fn meta_path(&self, bucket: &str, key: &str) -> PathBuf {
        join_key(self.root.join(META_DIR).join(bucket), key, ".json")
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join(UPLOADS_DIR)
    }

    async fn lock(&self, bucket: &str, key: &str) -> MutexGuard<'_, ()> {
        let stripe = self.hasher.hash_one((bucket, key)) as usize % self.locks.len();
        self.locks[stripe].lock().await
    }

    /// `NoSuchBucket` unless the bucket's directory exists.
    pub async fn require_bucket(&self, bucket: &str) -> S3Result<()> {
        match fs::metadata(self.bucket_dir(bucket)).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(s3_error!(NoSuchBucket)),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(s3_error!(NoSuchBucket)),
            Err(e) => Err(internal("stat bucket")(e)),
        }
    }

    pub async fn temp_file(&self) -> S3Result<TempFile> {
        let path = self
            .root
            .join(TMP_DIR)
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = File::create(&path)
            .await
            .map_err(internal("create temp file"))?;
        Ok(TempFile {
            path,
            writer: Some(BufWriter::with_capacity(64 * 1024, file)),
        })
    }

    /// Writes a request body to a temp file, computing its MD5; `inspect` sees every chunk too
    /// (for the checksums a client asked for).
    pub async fn receive(
        &self,
        body: StreamingBlob,
        mut inspect: impl FnMut(&[u8]),
    ) -> S3Result<Received> {
        let mut temp = self.temp_file().await?;
        let mut md5 = Md5::default();
        let mut body = body;
        while let Some(chunk) = body.next().await {
            // The client went away or sent a malformed (e.g. aws-chunked) body: no object.
            let chunk = chunk.map_err(|e| {
                S3Error::with_message(
                    s3s::S3ErrorCode::IncompleteBody,
                    format!("reading the request body: {e}"),
                )
            })?;
            md5.update(&chunk);
            inspect(&chunk);
            temp.write(&chunk).await?;
        }
        let (size, modified) = temp.finish().await?;
        Ok(Received {
            temp,
            md5: md5.finish(),
            size,
            modified,
        })
    }

    /// Makes `body` the object `bucket/key` with `meta` (whose `size` and `last_modified_ns`
    /// are taken from `body`), replacing any previous version atomically.
    pub async fn commit(
        &self,
        bucket: &str,
        key: &str,
        body: Received,
        mut meta: ObjectMeta,
    ) -> S3Result<()> {
        meta.size = body.size;
        meta.last_modified_ns = unix_ns(body.modified);
        let mut sidecar = self.temp_file().await?;
        let json = serde_json::to_vec(&meta).map_err(internal("encode metadata"))?;
        sidecar.write(&json).await?;
        sidecar.finish().await?;

        let object_path = self.object_path(bucket, key);
        let meta_path = self.meta_path(bucket, key);
        let _guard = self.lock(bucket, key).await;
        body.temp
            .persist(&object_path)
            .await
            .map_err(|e| path_error(e, key))?;
        sidecar
            .persist(&meta_path)
            .await
            .map_err(|e| path_error(e, key))?;
        Ok(())
    }

    /// Opens an object with its (validated) sidecar; `NoSuchKey` when there is none.
    pub async fn open_object(&self, bucket: &str, key: &str) -> S3Result<OpenObject> {
        let path = self.object_path(bucket, key);
        let guard = self.lock(bucket, key).await;
        let file = match File::open(&path).await {
            Ok(file) => file,
            Err(e) if is_missing(&e) => {
                drop(guard);
                self.require_bucket(bucket).await?;
                return Err(s3_error!(NoSuchKey));
            }
            Err(e) => return Err(internal("open object")(e)),
        };
        let stat = file.metadata().await.map_err(internal("stat object"))?;
        if !stat.is_file() {
            // A directory: the key is only a prefix of other keys.
            return Err(s3_error!(NoSuchKey));
        }
        let last_modified = stat.modified().map_err(internal("stat object"))?;
        let meta = self
            .read_meta(bucket, key)
            .await
            .filter(|m| m.size == stat.len() && m.last_modified_ns == unix_ns(last_modified));
        drop(guard);
        Ok(OpenObject {
            file,
            size: stat.len(),
            last_modified,
            meta,
        })
    }

    /// The sidecar of `bucket/key` if there is a readable one (not checked against the file).
    pub async fn read_meta(&self, bucket: &str, key: &str) -> Option<ObjectMeta> {
        let bytes = fs::read(self.meta_path(bucket, key)).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Deletes the object and its sidecar, and the directories that leaves empty. Deleting a
    /// missing key succeeds, as in S3.
    pub async fn remove(&self, bucket: &str, key: &str) -> S3Result<()> {
        let object_path = self.object_path(bucket, key);
        let meta_path = self.meta_path(bucket, key);
        let _guard = self.lock(bucket, key).await;
        match fs::symlink_metadata(&object_path).await {
            Ok(stat) if stat.is_file() => {
                fs::remove_file(&object_path)
                    .await
                    .or_else(ignore_missing)
                    .map_err(internal("delete object"))?;
            }
            // A directory is a prefix, not an object: nothing to delete.
            Ok(_) => {}
            Err(e) if is_missing(&e) => {}
            Err(e) => return Err(internal("stat object")(e)),
        }
        fs::remove_file(&meta_path)
            .await
            .or_else(ignore_missing)
            .map_err(internal("delete metadata"))?;
        prune_empty_dirs(&object_path, &self.bucket_dir(bucket)).await;
        prune_empty_dirs(&meta_path, &self.root.join(META_DIR).join(bucket)).await;
        Ok(())
    }
}

/// Checks that `key` can be stored as a path: 1..=1024 bytes, not absolute, no empty, `.` or
/// `..` segments, no segment over [`MAX_SEGMENT`] bytes, no NUL.
pub(super) fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY {
        return Err(s3_error!(
            KeyTooLongError,
            "the key is {} bytes; at most {MAX_KEY} are allowed",
            key.len()
        ));
    }
    let invalid = |why: &str| {
        Err(S3Error::with_message(
            s3s::S3ErrorCode::InvalidArgument,
            format!("object key `{}` {why}", key.escape_debug()),
        ))
    };
    if key.is_empty() {
        return invalid("is empty");
    }
    if key.contains('\0') {
        return invalid("contains a NUL character");
    }
    for segment in key.split('/') {
        match segment {
            "" => return invalid("has an empty path segment (a leading, trailing or double `/`)"),
            "." | ".." => return invalid("has a `.` or `..` segment"),
            s if s.len() > MAX_SEGMENT => {
                return Err(s3_error!(
                    KeyTooLongError,
                    "a segment between `/`s is {} bytes; the embedded endpoint stores each as a file name of at most {MAX_SEGMENT}",
                    s.len()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// `base/seg1/seg2/.../last{suffix}`: one path component per key segment.
fn join_key(base: PathBuf, key: &str, suffix: &str) -> PathBuf {
    let mut path = base;
    let mut segments = key.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_none() && !suffix.is_empty() {
            path.push(format!("{segment}{suffix}"));
        } else {
            path.push(segment);
        }
    }
    path
}

/// Removes `path`'s parent directories while they are empty, stopping at `stop`.
async fn prune_empty_dirs(path: &Path, stop: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == stop || !d.starts_with(stop) || fs::remove_dir(d).await.is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// A write failed because the key's path is taken by the other kind of entry: `a` is an object
/// and `a/b` is asked for, or the other way round. S3 allows both; a folder cannot.
fn path_error(e: io::Error, key: &str) -> S3Error {
    match e.kind() {
        ErrorKind::NotADirectory | ErrorKind::IsADirectory | ErrorKind::AlreadyExists => {
            S3Error::with_message(
                s3s::S3ErrorCode::InvalidArgument,
                format!(
                    "object key `{}` conflicts with an existing key: the embedded endpoint stores keys as paths, so `a` and `a/b` cannot both be objects",
                    key.escape_debug()
                ),
            )
        }
        _ => internal("write object")(e),
    }
}

fn is_missing(e: &io::Error) -> bool {
    // `a/b` where `a` is a file answers NotADirectory: the key does not exist either.
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if is_missing(&e) { Ok(()) } else { Err(e) }
}

pub(super) fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Maps an I/O failure to a 500 that says what was being done (the log has the details).
pub(super) fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> S3Error {
    move |e| {
        tracing::error!(error = %e, "embedded s3: {what} failed");
        S3Error::with_message(
            s3s::S3ErrorCode::InternalError,
            format!("embedded endpoint: {what}: {e}"),
        )
    }
}

/// MD5 for ETags, on s3s's implementation.
#[derive(Default)]
pub(super) struct Md5(s3s::crypto::Md5);

impl Md5 {
    pub fn update(&mut self, bytes: &[u8]) {
        use s3s::crypto::Checksum as _;
        self.0.update(bytes);
    }

    pub fn finish(self) -> [u8; 16] {
        use s3s::crypto::Checksum as _;
        self.0.finalize()
    }

    pub fn finish_hex(self) -> String {
        hex::encode(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_one_component_per_segment() {
        let base = PathBuf::from("/r/b");
        assert_eq!(
            join_key(base.clone(), "a/b/c.txt", ""),
            Path::new("/r/b/a/b/c.txt")
        );
        assert_eq!(join_key(base, "a/b", ".json"), Path::new("/r/b/a/b.json"));
    }

    #[test]
    fn keys_that_are_not_paths_are_refused() {
        for ok in ["a", "a/b/c", "x y/é/ü.json", "..a/b..", ".hidden/.meta"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", "a/", "a//b", "./a", "a/../b", "..", "a\0b"] {
            let err = check_key(bad).expect_err(bad);
            assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidArgument, "{bad:?}");
        }
        let long_segment = "x".repeat(MAX_SEGMENT + 1);
        assert_eq!(
            *check_key(&long_segment).expect_err("long").code(),
            s3s::S3ErrorCode::KeyTooLongError
        );
        let long_key = vec!["y".repeat(100); 11].join("/");
        assert!(long_key.len() > MAX_KEY);
        assert_eq!(
            *check_key(&long_key).expect_err("long").code(),
            s3s::S3ErrorCode::KeyTooLongError
        );
        assert!(check_key(&vec!["z".repeat(200); 5].join("/")).is_ok());
    }

    #[test]
    fn md5_of_nothing_is_the_empty_etag() {
        assert_eq!(
            Md5::default().finish_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
    }
}
