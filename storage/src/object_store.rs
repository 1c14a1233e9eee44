//! A thin wrapper over aws-sdk-s3: one bucket, whole-object put/get, list, delete.
//!
//! Parts are bounded by the writer (a few to tens of MiB), so single-request PutObject is
//! enough and keeps a retried upload atomic. Checksums are left to the SDK only where S3
//! requires them (`WhenRequired`): the sha256 in the manifest is what verification trusts, and
//! S3-compatible stores (MinIO, Garage, R2, the embedded endpoint) differ in which of the SDK's
//! flexible checksums they accept.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, ChecksumAlgorithm, CreateBucketConfiguration};
use bytes::Bytes;

use crate::StorageError;

/// Attempts per request, the first included (the SDK's standard retry mode, with backoff).
const MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt of one request; generous because a part upload moves tens of MiB.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);
/// A whole request, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(900);
/// ListObjectsV2's maximum page size.
const LIST_PAGE_SIZE: i32 = 1000;

/// Where the objects go. Comes from configuration; `Debug` redacts the secret.
#[derive(Clone)]
pub struct S3Config {
    /// `None` for AWS itself; `http://127.0.0.1:9000` and the like for S3-compatible stores.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Path-style URLs (`endpoint/bucket/key`), needed by local and most self-hosted stores.
    pub force_path_style: bool,
    /// Object Lock retention written on every object, for a bucket that has Object Lock
    /// enabled ([`lock`]).
    pub object_lock: Option<ObjectLock>,
}

impl S3Config {
    /// Settings for a local endpoint such as [`crate::embedded::EmbeddedS3`]: path style,
    /// region `us-east-1`.
    pub fn local(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: Some(endpoint.into()),
            region: "us-east-1".to_owned(),
            bucket: bucket.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            force_path_style: true,
            object_lock: None,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("force_path_style", &self.force_path_style)
            .field("object_lock", &self.object_lock)
            .finish()
    }
}

/// One bucket of an S3-compatible store. Cheap to clone (the SDK client is shared).
#[derive(Clone)]
pub struct ObjectStore {
    client: Client,
    bucket: String,
    /// Kept for CreateBucket, which outside us-east-1 must name the region.
    region: String,
    lock: Option<ObjectLock>,
    /// The bucket keeps versions (found by [`prepare`](Self::prepare); always so with a lock):
    /// deleting then means deleting every version. Shared by clones.
    versioned: Arc<AtomicBool>,
}

impl fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStore")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("lock", &self.lock)
            .finish_non_exhaustive()
    }
}

impl ObjectStore {
    pub fn new(cfg: &S3Config) -> Self {
        let credentials = Credentials::new(
            cfg.access_key_id.clone(),
            cfg.secret_access_key.clone(),
            None,
            None,
            "listbackup-config",
        );
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(cfg.force_path_style)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(timeouts);
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: Client::from_conf(builder.build()),
            bucket: cfg.bucket.clone(),
            region: cfg.region.clone(),
            lock: cfg.object_lock,
            versioned: Arc::new(AtomicBool::new(cfg.object_lock.is_some())),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The underlying SDK client, for operations this wrapper does not cover (multipart,
    /// ranged reads). It is configured with this store's endpoint, credentials and retries.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the bucket unless it is already there (idempotent, for startup).
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self.bucket_exists().await? {
            return Ok(());
        }
        let mut request = self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .set_object_lock_enabled_for_bucket(self.lock.map(|_| true));
        // AWS rejects an explicit us-east-1 constraint and requires one everywhere else.
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Someone (another replica starting at the same time) won the race.
            Err(SdkError::ServiceError(e))
                if e.err().is_bucket_already_owned_by_you()
                    || e.err().is_bucket_already_exists() =>
            {
                Ok(())
            }
            Err(e) => Err(s3_error("CreateBucket", &self.bucket, e)),
        }
    }

    /// HeadBucket: the store is reachable, the credentials work and the bucket exists.
    pub async fn check(&self) -> Result<(), StorageError> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| s3_error("HeadBucket", &self.bucket, e))?;
        Ok(())
    }

    async fn bucket_exists(&self) -> Result<bool, StorageError> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_not_found() => Ok(false),
            Err(e) => Err(s3_error("HeadBucket", &self.bucket, e)),
        }
    }

    /// A PutObject of `key`, with the Object Lock retention when one is configured (S3 then
    /// wants a checksum of the body too, which the SDK computes).
    fn put_request(&self, key: &str) -> PutObjectFluentBuilder {
        let request = self.client.put_object().bucket(&self.bucket).key(key);
        match &self.lock {
            None => request,
            Some(lock) => request
                .object_lock_mode(lock.mode_s3())
                .object_lock_retain_until_date(lock.retain_until())
                .checksum_algorithm(ChecksumAlgorithm::Crc32),
        }
    }

    /// Writes the whole object, replacing any previous version (on a versioned bucket, as a
    /// new version).
    pub async fn put(&self, key: &str, body: Bytes) -> Result<(), StorageError> {
        self.put_request(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))?;
        Ok(())
    }

    /// Streams a file from disk into the object, replacing any previous version.
    pub async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<(), StorageError> {
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| StorageError::S3 {
                op: "PutObject",
                key: key.to_owned(),
                message: format!("reading {}: {e}", path.display()),
            })?;
        self.put_request(key)
            .body(body)
            .send()
            .await
            .map_err(|e| s3_error("PutObject", key, e))?;
        Ok(())
    }

    /// Reads the whole object; a missing key is [`StorageError::NotFound`].
    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        self.get_opt(key)
            .await?
            .ok_or_else(|| StorageError::NotFound {
                key: key.to_owned(),
            })
    }

    /// Reads the whole object, `None` when the key does not exist.
    pub async fn get_opt(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        self.get_object(key, None).await
    }

    /// Reads bytes `range` of the object (a ranged GET). Fewer bytes than asked for — the
    /// object is shorter than the caller was told — is [`StorageError::Checksum`].
    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        if range.is_empty() {
            return Ok(Bytes::new());
        }
        let header = format!("bytes={}-{}", range.start, range.end - 1);
        let body =
            self.get_object(key, Some(header))
                .await?
                .ok_or_else(|| StorageError::NotFound {
                    key: key.to_owned(),
                })?;
        if body.len() as u64 != range.end - range.start {
            return Err(StorageError::Checksum {
                key: key.to_owned(),
            });
        }
        Ok(body)
    }

    /// A GetObject of the whole object or of the `Range` given; `None` when the key does not
    /// exist.
    async fn get_object(
        &self,
        key: &str,
        range: Option<String>,
    ) -> Result<Option<Bytes>, StorageError> {
        let response = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(response) => response,
            Err(e) if is_missing_key(&e) => return Ok(None),
            Err(e) => return Err(s3_error("GetObject", key, e)),
        };
        let body = response
            .body
            .collect()
            .await
            .map_err(|e| StorageError::S3 {
                op: "GetObject",
                key: key.to_owned(),
                message: format!("reading body: {}", DisplayErrorContext(&e)),
            })?;
        Ok(Some(body.into_bytes()))
    }

    /// Every key under `prefix`, in key order, following continuation tokens.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.list_paged(prefix, LIST_PAGE_SIZE).await
    }

    async fn list_paged(&self, prefix: &str, page_size: i32) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(page_size)
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectsV2", prefix, e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
            let next = page
                .next_continuation_token()
                .filter(|_| page.is_truncated().unwrap_or(false));
            match next {
                // A store that hands back the same token would otherwise loop forever.
                Some(next) if token.as_deref() != Some(next) => token = Some(next.to_owned()),
                Some(_) => {
                    return Err(StorageError::S3 {
                        op: "ListObjectsV2",
                        key: prefix.to_owned(),
                        message: "store repeated a continuation token".to_owned(),
                    });
                }
                None => return Ok(keys),
            }
        }
    }

    /// Whether deletes remove every version (the bucket keeps versions, or a lock is configured).
    pub fn is_versioned(&self) -> bool {
        self.lock.is_some() || self.versioned.load(Ordering::Relaxed)
    }

    /// Learns what the bucket is before a process uses it: with a lock configured, that the
    /// bucket has Object Lock enabled (else an error: every write would be refused); without,
    /// whether it keeps versions (Object Lock buckets always do), so that deletes remove every
    /// version instead of leaving the data behind a delete marker. A store that does not
    /// implement versioning (it answers with an error) is taken as unversioned.
    pub async fn prepare(&self) -> Result<(), StorageError> {
        if self.lock.is_some() {
            return self.check_object_lock().await;
        }
        let versioned = match self
            .client
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => out.status().is_some(),
            Err(SdkError::ServiceError(_)) => false,
            Err(e) => return Err(s3_error("GetBucketVersioning", &self.bucket, e)),
        };
        self.versioned.store(versioned, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes the object for good; deleting a missing key succeeds, as in S3. On a versioned
    /// bucket (see [`prepare`](Self::prepare)) that means every version of it, and a version
    /// still retained makes this fail with [`StorageError::Locked`].
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        if self.is_versioned() {
            return self.delete_versions(key, false).await;
        }
        self.delete_latest(key).await
    }

    /// Deletes every object under `prefix` for good, as [`delete`](Self::delete) does each
    /// (on a versioned bucket, also the versions hidden behind delete markers).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        if self.is_versioned() {
            return self.delete_versions(prefix, true).await;
        }
        for key in self.list(prefix).await? {
            self.delete_latest(&key).await?;
        }
        Ok(())
    }

    /// A plain DeleteObject. On a versioned bucket it only hides the object behind a delete
    /// marker (its versions stay, retained or not, until [`delete`](Self::delete) of the key
    /// or of its snapshot removes them); elsewhere it deletes it.
    pub async fn delete_latest(&self, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("DeleteObject", key, e))?;
        Ok(())
    }
}

fn is_missing_key(err: &SdkError<GetObjectError>) -> bool {
    match err {
        SdkError::ServiceError(e) => {
            // Some S3-compatible stores answer a bare 404 without the NoSuchKey code; a missing
            // bucket must still surface as an error, not as an empty object.
            e.err().is_no_such_key()
                || (e.raw().status().as_u16() == 404
                    && e.err().code().is_none_or(|code| code != "NoSuchBucket"))
        }
        _ => false,
    }
}

/// Service errors become `Code (HTTP status): message`, which is what an operator needs; the
/// SDK's full context (with the raw response) is kept only for transport failures, where the
/// source chain is the useful part.
fn s3_error<E>(op: &'static str, key: &str, err: SdkError<E>) -> StorageError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    let message = match &err {
        SdkError::ServiceError(e) => format!(
            "{} (HTTP {}){}",
            e.err().code().unwrap_or("unknown error"),
            e.raw().status().as_u16(),
            e.err()
                .message()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ),
        _ => DisplayErrorContext(&err).to_string(),
    };
    StorageError::S3 {
        op,
        key: key.to_owned(),
        message,
    }
}

pub mod lock;
mod multipart;

pub use lock::{Hold, LockMode, ObjectLock};
pub use multipart::UploadedPart;

#[cfg(test)]
mod tests;
