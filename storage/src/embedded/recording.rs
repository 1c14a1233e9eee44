//! An `s3s::S3` implementation that delegates to `s3s_fs::FileSystem` and logs successful puts.
//!
//! Wrapping the S3 trait rather than the HTTP service means the log sees the key as s3s decoded
//! it (percent-decoding, path-style parsing) and only after the filesystem write succeeded.
//! Only the operations s3s-fs implements are forwarded; every other one keeps the trait's default
//! `NotImplemented`, exactly as s3s-fs alone would answer.

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3s_fs::FileSystem;

use super::PutLog;

pub(super) struct RecordingFs {
    inner: FileSystem,
    log: Option<PutLog>,
}

impl RecordingFs {
    pub(super) fn new(inner: FileSystem, log: Option<PutLog>) -> Self {
        Self { inner, log }
    }

    fn record(&self, key: String) {
        if let Some(log) = &self.log {
            log.record(key);
        }
    }
}

/// Writes the `S3` impl: listed operations are forwarded to `inner` unchanged. The whole impl
/// block is generated because `#[async_trait]` must see the methods, not a macro call.
macro_rules! recording_s3_impl {
    ($($op:ident: $input:ty => $output:ty,)*) => {
        #[async_trait::async_trait]
        impl S3 for RecordingFs {
            async fn put_object(
                &self,
                req: S3Request<PutObjectInput>,
            ) -> S3Result<S3Response<PutObjectOutput>> {
                let key = req.input.key.clone();
                check_key_length(&req.input.bucket, &key)?;
                let response = self.inner.put_object(req).await?;
                self.record(key);
                Ok(response)
            }

            async fn upload_part(
                &self,
                req: S3Request<UploadPartInput>,
            ) -> S3Result<S3Response<UploadPartOutput>> {
                let key = req.input.key.clone();
                let response = self.inner.upload_part(req).await?;
                self.record(key);
                Ok(response)
            }

            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*
        }
    };
}

recording_s3_impl! {
    create_bucket: CreateBucketInput => CreateBucketOutput,
    copy_object: CopyObjectInput => CopyObjectOutput,
    delete_bucket: DeleteBucketInput => DeleteBucketOutput,
    delete_object: DeleteObjectInput => DeleteObjectOutput,
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
    get_object: GetObjectInput => GetObjectOutput,
    head_bucket: HeadBucketInput => HeadBucketOutput,
    head_object: HeadObjectInput => HeadObjectOutput,
    list_buckets: ListBucketsInput => ListBucketsOutput,
    list_objects: ListObjectsInput => ListObjectsOutput,
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
    list_parts: ListPartsInput => ListPartsOutput,
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput,
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
}

/// s3s-fs keeps each object's metadata in one file at the root named after the base64 of the
/// bucket and key, so a long key fails *after* the object was written. Refuse it up front, with
/// a message that says why, instead of a bare InternalError and a half-written object.
fn check_key_length(bucket: &str, key: &str) -> S3Result<()> {
    let b64 = |n: usize| n.div_ceil(3) * 4;
    // ".bucket-{b64}.object-{b64}.metadata.json"
    let file_name_len = 8 + b64(bucket.len()) + 8 + b64(key.len()) + 14;
    if file_name_len > 255 {
        return Err(s3s::s3_error!(
            KeyTooLongError,
            "the embedded endpoint stores metadata in a file named after the key; this key ({} bytes) is too long for bucket `{bucket}`",
            key.len()
        ));
    }
    Ok(())
}
