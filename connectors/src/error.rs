//! The connector error model: one kind, decided once where a response is parsed, and whether
//! trying again can help.

use std::time::Duration;

/// What went wrong, in terms the pipeline acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 429 or a platform's own throttling answer: wait and retry.
    RateLimited,
    /// The credentials were refused (401): refresh once, then ask the user to reconnect.
    Unauthorized,
    /// The credentials lack a permission (403).
    Forbidden,
    /// The request itself is wrong (4xx other than the above): retrying cannot help.
    InvalidRequest,
    /// The platform failed (5xx): retry with backoff.
    Unavailable,
    /// The connection failed or timed out: retry with backoff.
    Network,
    /// The answer was not what the platform documents.
    Decode,
    /// The connection's settings are wrong (unknown stream, bad base URL, missing key).
    Config,
}

#[derive(Debug, thiserror::Error)]
#[error("{platform}: {message}")]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub platform: &'static str,
    pub message: String,
    pub status: Option<u16>,
    /// How long the platform asked us to wait, when it said.
    pub retry_after: Option<Duration>,
}

impl ConnectorError {
    pub fn new(platform: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            platform,
            message: message.into(),
            status: None,
            retry_after: None,
        }
    }

    /// True when the same request may succeed later.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited | ErrorKind::Unavailable | ErrorKind::Network
        )
    }

    /// A stable name for the kind, used as the Temporal failure type.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            ErrorKind::RateLimited => "RateLimited",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Forbidden => "Forbidden",
            ErrorKind::InvalidRequest => "InvalidRequest",
            ErrorKind::Unavailable => "PlatformUnavailable",
            ErrorKind::Network => "NetworkError",
            ErrorKind::Decode => "DecodeError",
            ErrorKind::Config => "ConfigError",
        }
    }
}
