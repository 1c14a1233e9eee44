//! The integrity checks a client can ask for on an upload: `Content-MD5` and the flexible
//! `x-amz-checksum-*` values (as headers, or as trailers of an aws-chunked body). A body that
//! does not match is refused with `BadDigest` and never becomes an object.

use s3s::checksum::ChecksumHasher;
use s3s::dto::{Checksum, ChecksumAlgorithm};
use s3s::{S3Result, TrailingHeaders, s3_error};

/// The checksums requested for one body, computed while it streams in.
pub(super) struct Requested {
    hasher: ChecksumHasher,
    expected: Checksum,
}

impl Requested {
    /// Enables a hasher for every checksum the request carries or announces.
    pub fn new(algorithm: Option<&ChecksumAlgorithm>, expected: Checksum) -> S3Result<Self> {
        let mut hasher = ChecksumHasher::default();
        if expected.checksum_crc32.is_some() {
            hasher.crc32 = Some(Default::default());
        }
        if expected.checksum_crc32c.is_some() {
            hasher.crc32c = Some(Default::default());
        }
        if expected.checksum_sha1.is_some() {
            hasher.sha1 = Some(Default::default());
        }
        if expected.checksum_sha256.is_some() {
            hasher.sha256 = Some(Default::default());
        }
        if expected.checksum_crc64nvme.is_some() {
            hasher.crc64nvme = Some(Default::default());
        }
        if let Some(algorithm) = algorithm {
            match algorithm.as_str() {
                ChecksumAlgorithm::CRC32 => hasher.crc32 = Some(Default::default()),
                ChecksumAlgorithm::CRC32C => hasher.crc32c = Some(Default::default()),
                ChecksumAlgorithm::SHA1 => hasher.sha1 = Some(Default::default()),
                ChecksumAlgorithm::SHA256 => hasher.sha256 = Some(Default::default()),
                ChecksumAlgorithm::CRC64NVME => hasher.crc64nvme = Some(Default::default()),
                other => {
                    return Err(s3_error!(
                        InvalidArgument,
                        "unsupported checksum algorithm `{other}`"
                    ));
                }
            }
        }
        Ok(Self { hasher, expected })
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
    }

    /// Compares what was computed with the headers and the trailers; returns the checksums to
    /// echo in the response.
    pub fn verify(
        self,
        trailers: Option<TrailingHeaders>,
        content_md5: Option<&str>,
        md5: &[u8; 16],
    ) -> S3Result<Checksum> {
        if let Some(given) = content_md5 {
            use base64::Engine as _;
            let given = base64::engine::general_purpose::STANDARD
                .decode(given)
                .map_err(|_| s3_error!(InvalidDigest, "Content-MD5 is not base64"))?;
            if given.as_slice() != md5 {
                return Err(s3_error!(BadDigest, "Content-MD5 does not match the body"));
            }
        }
        let mut expected = self.expected;
        if let Some(trailers) = trailers.and_then(|t| t.take()) {
            let header = |name: &str| -> S3Result<Option<String>> {
                trailers
                    .get(name)
                    .map(|v| {
                        v.to_str()
                            .map(str::to_owned)
                            .map_err(|_| s3_error!(InvalidArgument, "{name} is not text"))
                    })
                    .transpose()
            };
            for (name, slot) in [
                ("x-amz-checksum-crc32", &mut expected.checksum_crc32),
                ("x-amz-checksum-crc32c", &mut expected.checksum_crc32c),
                ("x-amz-checksum-sha1", &mut expected.checksum_sha1),
                ("x-amz-checksum-sha256", &mut expected.checksum_sha256),
                ("x-amz-checksum-crc64nvme", &mut expected.checksum_crc64nvme),
            ] {
                if let Some(value) = header(name)? {
                    *slot = Some(value);
                }
            }
        }
        let computed = self.hasher.finalize();
        let pairs = [
            ("CRC32", &expected.checksum_crc32, &computed.checksum_crc32),
            (
                "CRC32C",
                &expected.checksum_crc32c,
                &computed.checksum_crc32c,
            ),
            ("SHA1", &expected.checksum_sha1, &computed.checksum_sha1),
            (
                "SHA256",
                &expected.checksum_sha256,
                &computed.checksum_sha256,
            ),
            (
                "CRC64NVME",
                &expected.checksum_crc64nvme,
                &computed.checksum_crc64nvme,
            ),
        ];
        for (name, expected, computed) in pairs {
            if let Some(expected) = expected
                && Some(expected) != computed.as_ref()
            {
                return Err(s3_error!(
                    BadDigest,
                    "the {name} checksum does not match the body"
                ));
            }
        }
        Ok(computed)
    }
}
