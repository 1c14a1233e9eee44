//! Errors raised while configuring or starting a sandbox.
//!
//! Errors an HTTP client sees are not here: each platform fake renders those in
//! its platform's own error shape (see `stripe::error`).

/// Why a sandbox could not be configured.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SandboxError {
    /// The part before the dot of a `platform.stream` spec names no platform the sandbox fakes.
    #[error("unknown sandbox platform `{platform}` (known: {known})")]
    UnknownPlatform { platform: String, known: String },

    /// The platform exists but has no such stream.
    #[error("unknown {platform} stream `{stream}` (known: {known})")]
    UnknownStream {
        platform: String,
        stream: String,
        known: String,
    },

    /// A `--records` argument that is not `platform.stream=count`.
    #[error("invalid records argument `{arg}`: {reason}")]
    InvalidRecordsArg { arg: String, reason: String },

    /// The fake would accept any request, or none, so this is refused up front.
    #[error("the {platform} API key of the sandbox must not be empty")]
    EmptyApiKey { platform: String },
}

/// The canonical (gRPC-style) status name Google-style error bodies carry beside the HTTP code
/// (`"status": "PERMISSION_DENIED"`), for the fakes whose platforms send one (Keap v2, Drive).
pub(crate) fn grpc_status(status: poem::http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        _ => "INTERNAL",
    }
}
