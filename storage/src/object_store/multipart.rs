//! Multipart uploads (objects written piece by piece, of a size not known in advance) and
//! pre-signed download links.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::{ObjectStore, s3_error};
use crate::StorageError;

/// One uploaded piece of a multipart upload: its number and the ETag S3 gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
}

impl ObjectStore {
    /// Starts a multipart upload of `key`; returns its upload id.
    pub async fn create_multipart(&self, key: &str) -> Result<String, StorageError> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("CreateMultipartUpload", key, e))?;
        out.upload_id.ok_or_else(|| StorageError::S3 {
            op: "CreateMultipartUpload",
            key: key.to_owned(),
            message: "the store answered without an upload id".into(),
        })
    }

    /// Uploads piece `number` (from 1) of an upload; every piece but the last must be at least
    /// 5 MiB.
    pub async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        body: Bytes,
    ) -> Result<UploadedPart, StorageError> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("UploadPart", key, e))?;
        Ok(UploadedPart {
            number,
            etag: out.e_tag.unwrap_or_default(),
        })
    }

    /// Joins the uploaded pieces into the object.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> Result<(), StorageError> {
        let parts = parts
            .iter()
            .map(|p| {
                CompletedPart::builder()
                    .part_number(p.number)
                    .e_tag(&p.etag)
                    .build()
            })
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("CompleteMultipartUpload", key, e))?;
        Ok(())
    }

    /// Abandons an upload and frees its pieces.
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<(), StorageError> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
            .map_err(|e| s3_error("AbortMultipartUpload", key, e))?;
        Ok(())
    }

    /// A URL that downloads `key` without credentials until `ttl` has passed (SigV4 query
    /// signing; computed locally, no request is made).
    pub async fn presigned_get(&self, key: &str, ttl: Duration) -> Result<String, StorageError> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| StorageError::S3 {
            op: "PresignGetObject",
            key: key.to_owned(),
            message: e.to_string(),
        })?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| s3_error("PresignGetObject", key, e))?;
        Ok(request.uri().to_owned())
    }
}
