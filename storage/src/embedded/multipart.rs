//! Multipart uploads: create, upload parts, complete, abort.
//!
//! An upload is a directory `.uploads/{upload_id}/` with `upload.json` (bucket, key, content
//! type, user metadata) and one file per part, each written like an object (temp file, then
//! rename). Completing concatenates the listed parts into a temp file and commits it like a
//! PutObject, so the object appears whole or not at all; the ETag is S3's
//! `{md5 of the part MD5s}-{part count}`.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::PathBuf;

use s3s::dto::*;
use s3s::{S3Result, TrailingHeaders, s3_error};
use serde::{Deserialize, Serialize};
use tokio::fs;
use tokio::io::AsyncReadExt;

use super::checksums::Requested;
use super::folder::{Folder, Md5, ObjectMeta, Received, check_key, internal};

/// S3's smallest part, except the last one.
const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_PART_NUMBER: i32 = 10_000;
const UPLOAD_INFO: &str = "upload.json";

#[derive(Serialize, Deserialize)]
struct UploadInfo {
    bucket: String,
    key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    user_metadata: HashMap<String, String>,
}

impl Folder {
    pub(super) async fn create_upload(
        &self,
        input: CreateMultipartUploadInput,
    ) -> S3Result<CreateMultipartUploadOutput> {
        check_key(&input.key)?;
        self.require_bucket(&input.bucket).await?;
        let upload_id = uuid::Uuid::new_v4().simple().to_string();
        let info = UploadInfo {
            bucket: input.bucket.clone(),
            key: input.key.clone(),
            content_type: input.content_type,
            user_metadata: input.metadata.unwrap_or_default(),
        };
        let dir = self.uploads_dir().join(&upload_id);
        fs::create_dir_all(&dir)
            .await
            .map_err(internal("create upload"))?;
        let mut temp = self.temp_file().await?;
        temp.write(&serde_json::to_vec(&info).map_err(internal("encode upload"))?)
            .await?;
        temp.finish().await?;
        temp.persist(&dir.join(UPLOAD_INFO))
            .await
            .map_err(internal("create upload"))?;
        Ok(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        })
    }

    pub(super) async fn upload_part_body(
        &self,
        input: UploadPartInput,
        algorithm: Option<ChecksumAlgorithm>,
        trailers: Option<TrailingHeaders>,
    ) -> S3Result<UploadPartOutput> {
        if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "part number must be between 1 and {MAX_PART_NUMBER}"
            ));
        }
        let dir = self
            .upload(&input.upload_id, &input.bucket, &input.key)
            .await?
            .0;
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
        let checksum = checksums.verify(trailers, input.content_md5.as_deref(), &received.md5)?;
        let e_tag = hex::encode(received.md5);
        // Parts never create the upload's directory: one aborted meanwhile stays aborted.
        received
            .temp
            .persist_into_existing(&part_path(&dir, input.part_number))
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => s3_error!(NoSuchUpload),
                _ => internal("store part")(e),
            })?;
        Ok(UploadPartOutput {
            e_tag: Some(ETag::Strong(e_tag)),
            checksum_crc32: checksum.checksum_crc32,
            checksum_crc32c: checksum.checksum_crc32c,
            checksum_crc64nvme: checksum.checksum_crc64nvme,
            checksum_sha1: checksum.checksum_sha1,
            checksum_sha256: checksum.checksum_sha256,
            ..Default::default()
        })
    }

    pub(super) async fn complete_upload(
        &self,
        input: CompleteMultipartUploadInput,
    ) -> S3Result<CompleteMultipartUploadOutput> {
        let (dir, info) = self
            .upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let parts = input
            .multipart_upload
            .and_then(|m| m.parts)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| s3_error!(InvalidRequest, "list at least one part"))?;

        let mut numbers = Vec::with_capacity(parts.len());
        for part in &parts {
            let number = part
                .part_number
                .ok_or_else(|| s3_error!(InvalidPart, "a part has no number"))?;
            if numbers.last().is_some_and(|previous| number <= *previous) {
                return Err(s3_error!(InvalidPartOrder));
            }
            numbers.push(number);
        }

        let mut temp = self.temp_file().await?;
        let mut whole = Md5::default();
        let mut part_md5s = Md5::default();
        let mut buf = vec![0u8; 64 * 1024];
        for (index, (part, number)) in parts.iter().zip(numbers).enumerate() {
            let mut file = match fs::File::open(part_path(&dir, number)).await {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(s3_error!(InvalidPart, "part {number} was not uploaded"));
                }
                Err(e) => return Err(internal("open part")(e)),
            };
            let mut md5 = Md5::default();
            let mut size = 0u64;
            loop {
                let n = file.read(&mut buf).await.map_err(internal("read part"))?;
                if n == 0 {
                    break;
                }
                md5.update(&buf[..n]);
                whole.update(&buf[..n]);
                temp.write(&buf[..n]).await?;
                size += n as u64;
            }
            let md5 = md5.finish();
            if let Some(given) = &part.e_tag
                && given.value() != hex::encode(md5)
            {
                return Err(s3_error!(
                    InvalidPart,
                    "part {number}'s ETag does not match"
                ));
            }
            if index + 1 < parts.len() && size < MIN_PART {
                return Err(s3_error!(
                    EntityTooSmall,
                    "part {number} is {size} bytes; every part but the last needs at least {MIN_PART}"
                ));
            }
            part_md5s.update(&md5);
        }
        let (size, modified) = temp.finish().await?;
        let e_tag = format!("{}-{}", part_md5s.finish_hex(), parts.len());
        let received = Received {
            temp,
            md5: whole.finish(),
            size,
            modified,
        };
        let meta = ObjectMeta {
            e_tag: e_tag.clone(),
            content_type: info.content_type,
            user_metadata: info.user_metadata,
            ..ObjectMeta::default()
        };
        self.commit(&info.bucket, &info.key, received, meta).await?;
        if let Err(e) = fs::remove_dir_all(&dir).await {
            tracing::warn!(error = %e, dir = %dir.display(), "embedded s3: completed upload left behind");
        }
        Ok(CompleteMultipartUploadOutput {
            bucket: Some(info.bucket),
            key: Some(info.key),
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        })
    }

    pub(super) async fn abort_upload(
        &self,
        input: AbortMultipartUploadInput,
    ) -> S3Result<AbortMultipartUploadOutput> {
        let (dir, _) = self
            .upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        match fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(AbortMultipartUploadOutput::default()),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(s3_error!(NoSuchUpload)),
            Err(e) => Err(internal("abort upload")(e)),
        }
    }

    /// The upload's directory and description; `NoSuchUpload` unless `upload_id` names an
    /// upload of exactly this bucket and key.
    async fn upload(
        &self,
        upload_id: &str,
        bucket: &str,
        key: &str,
    ) -> S3Result<(PathBuf, UploadInfo)> {
        // Upload ids are ours (32 hex digits); anything else could walk out of `.uploads`.
        let well_formed = upload_id.len() == 32 && upload_id.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Err(s3_error!(NoSuchUpload));
        }
        let dir = self.uploads_dir().join(upload_id);
        let info: UploadInfo = match fs::read(dir.join(UPLOAD_INFO)).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(internal("read upload"))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(s3_error!(NoSuchUpload)),
            Err(e) => return Err(internal("read upload")(e)),
        };
        if info.bucket != bucket || info.key != key {
            return Err(s3_error!(NoSuchUpload));
        }
        Ok((dir, info))
    }
}

fn part_path(dir: &std::path::Path, number: i32) -> PathBuf {
    dir.join(format!("part-{number:05}"))
}
