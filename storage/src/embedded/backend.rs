//! The S3 operations the embedded endpoint serves, over a [`Folder`].
//!
//! Exactly what our aws-sdk-s3 code uses, with S3's semantics: CreateBucket, HeadBucket,
//! GetBucketLocation (standard tools ask it first), PutObject, GetObject (ranges included), HeadObject, DeleteObject, DeleteObjects,
//! ListObjectsV2, and multipart uploads ([`super::multipart`]). Every other operation answers
//! `NotImplemented` (the trait's default).

use std::collections::HashMap;

use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::checksums::Requested;
use super::folder::{Folder, ObjectMeta, check_key, internal, unix_ns};
use super::listing::{self, Entry, ListQuery};

/// ListObjectsV2's largest (and default) page.
const MAX_LIST_KEYS: usize = 1000;
/// Chunk size of GetObject bodies.
const READ_CHUNK: usize = 64 * 1024;

#[async_trait::async_trait]
impl S3 for Folder {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        if !s3s::path::check_bucket_name(&bucket) {
            return Err(s3_error!(InvalidBucketName));
        }
        match tokio::fs::create_dir(self.bucket_dir(&bucket)).await {
            Ok(()) => Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{bucket}")),
            })),
            // One owner (the endpoint's single access key) owns every bucket.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(s3_error!(BucketAlreadyOwnedByYou))
            }
            Err(e) => Err(internal("create bucket")(e)),
        }
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    /// Every bucket is in the default region (no constraint), as standard clients (restic,
    /// rclone, minio-go) ask before they use a bucket.
    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    /// The endpoint keeps no versions: a bucket's versioning was never enabled (no status).
    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.require_bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let algorithm = announced(&req, req.input.checksum_algorithm.clone());
        let input = req.input;
        check_key(&input.key)?;
        self.require_bucket(&input.bucket).await?;
        let body = input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let mut checksums = Requested::new(
            algorithm.as_ref(),
            Checksum {
                checksum_crc32: input.checksum_crc32,
                checksum_crc32c: input.checksum_crc32c,
                checksum_crc64nvme: input.checksum_crc64nvme,
                checksum_sha1: input.checksum_sha1,
                checksum_sha256: input.checksum_sha256,
                checksum_type: None,
            },
        )?;
        let received = self.receive(body, |b| checksums.update(b)).await?;
        let checksum = checksums.verify(
            req.trailing_headers,
            input.content_md5.as_deref(),
            &received.md5,
        )?;
        let e_tag = hex::encode(received.md5);
        let size = received.size;
        let meta = ObjectMeta {
            e_tag: e_tag.clone(),
            content_type: input.content_type,
            user_metadata: input.metadata.unwrap_or_default(),
            ..ObjectMeta::default()
        };
        self.commit(&input.bucket, &input.key, received, meta)
            .await?;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(e_tag)),
            size: i64::try_from(size).ok(),
            checksum_crc32: checksum.checksum_crc32,
            checksum_crc32c: checksum.checksum_crc32c,
            checksum_crc64nvme: checksum.checksum_crc64nvme,
            checksum_sha1: checksum.checksum_sha1,
            checksum_sha256: checksum.checksum_sha256,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let input = req.input;
        check_key(&input.key)?;
        let mut object = self.open_object(&input.bucket, &input.key).await?;
        let e_tag = object.e_tag().await?;
        let (start, length, content_range) = match &input.range {
            None => (0, object.size, None),
            Some(range) => {
                let r = range.check(object.size).map_err(|_| {
                    s3_error!(
                        InvalidRange,
                        "the range is not satisfiable for an object of {} bytes",
                        object.size
                    )
                })?;
                let range_header = format!("bytes {}-{}/{}", r.start, r.end - 1, object.size);
                (r.start, r.end - r.start, Some(range_header))
            }
        };
        object
            .file
            .seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(internal("seek"))?;
        let body = ReaderStream::with_capacity(object.file.take(length), READ_CHUNK);
        let meta = object.meta.unwrap_or_default();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some(to_i64(length)?),
            content_range,
            accept_ranges: Some("bytes".to_owned()),
            content_type: meta.content_type,
            metadata: non_empty(meta.user_metadata),
            e_tag: Some(ETag::Strong(e_tag)),
            last_modified: Some(Timestamp::from(object.last_modified)),
            ..Default::default()
        }))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let input = req.input;
        check_key(&input.key)?;
        let mut object = self.open_object(&input.bucket, &input.key).await?;
        let e_tag = object.e_tag().await?;
        let meta = object.meta.unwrap_or_default();
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(to_i64(object.size)?),
            accept_ranges: Some("bytes".to_owned()),
            content_type: meta.content_type,
            metadata: non_empty(meta.user_metadata),
            e_tag: Some(ETag::Strong(e_tag)),
            last_modified: Some(Timestamp::from(object.last_modified)),
            ..Default::default()
        }))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let input = req.input;
        check_key(&input.key)?;
        self.require_bucket(&input.bucket).await?;
        self.remove(&input.bucket, &input.key).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in input.delete.objects {
            let result = match check_key(&object.key) {
                Ok(()) => self.remove(&input.bucket, &object.key).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) if quiet => {}
                Ok(()) => deleted.push(DeletedObject {
                    key: Some(object.key),
                    ..Default::default()
                }),
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_owned()),
                    message: e.message().map(str::to_owned),
                    key: Some(object.key),
                    version_id: None,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: (!deleted.is_empty()).then_some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let input = req.input;
        self.require_bucket(&input.bucket).await?;
        let max_keys = match input.max_keys {
            None => MAX_LIST_KEYS,
            Some(n) => usize::try_from(n)
                .map_err(|_| s3_error!(InvalidArgument, "max-keys must not be negative"))?
                .min(MAX_LIST_KEYS),
        };
        let token = input
            .continuation_token
            .as_deref()
            .map(decode_token)
            .transpose()?;
        let after = match (token, input.start_after.clone()) {
            (Some(t), Some(s)) => Some(t.max(s)),
            (t, s) => t.or(s),
        };
        let query = ListQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone(),
            after,
            max_keys,
        };
        let dir = self.bucket_dir(&input.bucket);
        let page = tokio::task::spawn_blocking(move || listing::list(&dir, &query))
            .await
            .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?
            .map_err(internal("list"))?;

        let next_continuation_token = page
            .truncated
            .then(|| page.entries.last().map(|e| encode_token(e.name())))
            .flatten();
        let mut contents = Vec::new();
        let mut common_prefixes = Vec::new();
        for entry in page.entries {
            match entry {
                Entry::Object {
                    key,
                    size,
                    last_modified,
                } => {
                    // Listings report the ETag only where the sidecar knows it: hashing every
                    // listed object of an old data dir would make a page cost its whole size.
                    let e_tag = self
                        .read_meta(&input.bucket, &key)
                        .await
                        .filter(|m| m.size == size && m.last_modified_ns == unix_ns(last_modified))
                        .map(|m| ETag::Strong(m.e_tag));
                    contents.push(Object {
                        key: Some(key),
                        size: Some(to_i64(size)?),
                        last_modified: Some(Timestamp::from(last_modified)),
                        e_tag,
                        storage_class: Some(ObjectStorageClass::from_static(
                            ObjectStorageClass::STANDARD,
                        )),
                        ..Default::default()
                    });
                }
                Entry::CommonPrefix(prefix) => common_prefixes.push(CommonPrefix {
                    prefix: Some(prefix),
                }),
            }
        }
        let key_count = contents.len() + common_prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: input.prefix,
            delimiter: input.delimiter,
            max_keys: Some(i32::try_from(max_keys).unwrap_or(i32::MAX)),
            key_count: Some(i32::try_from(key_count).unwrap_or(i32::MAX)),
            is_truncated: Some(page.truncated),
            continuation_token: input.continuation_token,
            next_continuation_token,
            start_after: input.start_after,
            contents: (!contents.is_empty()).then_some(contents),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.create_upload(req.input).await.map(S3Response::new)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let algorithm = announced(&req, req.input.checksum_algorithm.clone());
        self.upload_part_body(req.input, algorithm, req.trailing_headers)
            .await
            .map(S3Response::new)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.complete_upload(req.input).await.map(S3Response::new)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.abort_upload(req.input).await.map(S3Response::new)
    }
}

/// The checksum algorithm a client asked for: the modelled field, or the SDK's
/// `x-amz-sdk-checksum-algorithm` header, which s3s does not map (aws-sdk-s3 sends it, without a
/// value, when a request names an algorithm but checksums are computed only when required).
fn announced<T>(
    req: &S3Request<T>,
    modelled: Option<ChecksumAlgorithm>,
) -> Option<ChecksumAlgorithm> {
    modelled.or_else(|| {
        req.headers
            .get("x-amz-sdk-checksum-algorithm")
            .and_then(|v| v.to_str().ok())
            .map(|v| ChecksumAlgorithm::from(v.to_ascii_uppercase()))
    })
}

/// Continuation tokens are opaque to clients: URL-safe base64 of the last key or common
/// prefix of the previous page.
fn encode_token(last: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

fn decode_token(token: &str) -> S3Result<String> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "the continuation token is not valid"))
}

fn to_i64(n: u64) -> S3Result<i64> {
    i64::try_from(n).map_err(|_| s3_error!(InternalError, "size out of range"))
}

fn non_empty(map: HashMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then_some(map)
}
