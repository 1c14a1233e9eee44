//! The storage layer's error type.
//!
//! Messages name the object key or operation involved but never key material or record content:
//! they end up in logs, job records and Temporal failure details.

/// Everything that can go wrong while writing, reading or serving snapshot objects.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An S3 request failed (after the SDK's retries). `key` is the object key, or the bucket
    /// for bucket-level operations.
    #[error("s3 {op} {key}: {message}")]
    S3 {
        op: &'static str,
        key: String,
        message: String,
    },

    /// A version of the object is retained by S3 Object Lock (or a legal hold) and the store
    /// refused to delete it.
    #[error(
        "s3 DeleteObject {key}: refused (AccessDenied): a version is retained by Object Lock or a legal hold, or the credentials lack s3:DeleteObjectVersion"
    )]
    Locked { key: String },

    /// The object does not exist (S3 `NoSuchKey`).
    #[error("s3 object not found: {key}")]
    NotFound { key: String },

    /// age encryption or decryption failed, e.g. the wrong identity for a part.
    #[error("crypto: {0}")]
    Crypto(String),

    /// Stored bytes could not be decoded: corrupt zstd, malformed manifest, bad base64.
    #[error("decode: {0}")]
    Decode(String),

    /// A stored object's size or sha256 differs from what the manifest (or blob record) says:
    /// it was damaged or replaced after it was written.
    #[error("{key} does not match its recorded size and sha256")]
    Checksum { key: String },

    /// A record handed to a part writer breaks the JSON Lines framing.
    #[error("invalid record: {0}")]
    InvalidRecord(&'static str),

    /// Text that should have been an age key or recipient is not one. The text itself is
    /// deliberately not part of the message: it may be a secret.
    #[error("invalid key text: {0}")]
    InvalidKey(&'static str),

    /// A key segment (account, source, snapshot or stream id) cannot be used in an object key.
    #[error("invalid object key segment: {0}")]
    InvalidSegment(String),

    /// The embedded S3 endpoint could not be started.
    #[error("embedded s3: {0}")]
    Embedded(String),

    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    /// Whether retrying the same operation cannot help: bad key material, corrupt or tampered
    /// data, a missing object. S3, I/O and server errors may be transient and are worth a retry
    /// (the SDK has already retried throttling and 5xx three times by then).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::S3 { .. } | Self::Io(_) | Self::Embedded(_) => false,
            Self::NotFound { .. }
            | Self::Crypto(_)
            | Self::Decode(_)
            | Self::Checksum { .. }
            | Self::Locked { .. }
            | Self::InvalidRecord(_)
            | Self::InvalidKey(_)
            | Self::InvalidSegment(_) => true,
        }
    }
}
