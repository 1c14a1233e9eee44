//! An `s3s::S3` wrapper that logs the key of every successful PutObject and UploadPart, then
//! passes it through the log's [`PutGate`](super::PutGate) before answering.
//!
//! Wrapping the S3 trait rather than the HTTP service means the log sees the key as s3s decoded
//! it (percent-decoding, path-style parsing) and only after the write succeeded. Only the
//! operations the [`Folder`](super::folder::Folder) serves are forwarded; every other one keeps
//! the trait's default `NotImplemented`, exactly as the folder alone would answer.

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::PutLog;

pub(super) struct Recording<S> {
    inner: S,
    log: Option<PutLog>,
}

impl<S> Recording<S> {
    pub(super) fn new(inner: S, log: Option<PutLog>) -> Self {
        Self { inner, log }
    }

    /// Logs a stored write of `key`, then waits while the gate holds its answer.
    async fn stored(&self, key: String) {
        if let Some(log) = &self.log {
            log.record(key.clone());
            log.gate().pass(&key).await;
        }
    }
}

/// Writes the `S3` impl: listed operations are forwarded to `inner` unchanged. The whole impl
/// block is generated because `#[async_trait]` must see the methods, not a macro call.
macro_rules! recording_s3_impl {
    ($($op:ident: $input:ty => $output:ty,)*) => {
        #[async_trait::async_trait]
        impl<S: S3> S3 for Recording<S> {
            async fn put_object(
                &self,
                req: S3Request<PutObjectInput>,
            ) -> S3Result<S3Response<PutObjectOutput>> {
                let key = req.input.key.clone();
                let response = self.inner.put_object(req).await?;
                self.stored(key).await;
                Ok(response)
            }

            async fn upload_part(
                &self,
                req: S3Request<UploadPartInput>,
            ) -> S3Result<S3Response<UploadPartOutput>> {
                let key = req.input.key.clone();
                let response = self.inner.upload_part(req).await?;
                self.stored(key).await;
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
    head_bucket: HeadBucketInput => HeadBucketOutput,
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
    get_bucket_versioning: GetBucketVersioningInput => GetBucketVersioningOutput,
    get_object: GetObjectInput => GetObjectOutput,
    head_object: HeadObjectInput => HeadObjectOutput,
    delete_object: DeleteObjectInput => DeleteObjectOutput,
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput,
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
}
