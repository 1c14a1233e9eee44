//! Dropbox's error answers, which differ by kind:
//! - 400 (bad input): **plain text**, `Error in call to API function "<route>": <what>`;
//! - 401 (auth): JSON `{"error_summary", "error": {".tag": "expired_access_token" | …}}`;
//! - 409 (the endpoint's own errors): JSON `{"error_summary": "path/not_found/..",
//!   "error": {".tag": "path", "path": {".tag": "not_found"}}}`;
//! - 429: JSON `{"error_summary", "error": {"reason": {".tag": "too_many_requests"},
//!   "retry_after": N}}`, always with `Retry-After`;
//! - 5xx: plain text.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

use super::tree::PathError;
use crate::faults::Fault;
use crate::oauth::TokenRejection;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DropboxError {
    status: StatusCode,
    body: Body,
    retry_after_secs: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Body {
    Json(Value),
    Text(String),
}

impl DropboxError {
    /// 400 for input Dropbox cannot parse or accept.
    pub(crate) fn bad_input(route: &str, what: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: Body::Text(format!("Error in call to API function \"{route}\": {what}")),
            retry_after_secs: None,
        }
    }

    /// 401 with an `AuthError` tag.
    pub(crate) fn auth(tag: &str) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: Body::Json(json!({"error_summary": format!("{tag}/.."), "error": {".tag": tag}})),
            retry_after_secs: None,
        }
    }

    pub(crate) fn rejected_token(rejection: TokenRejection) -> Self {
        match rejection {
            TokenRejection::Expired => Self::auth("expired_access_token"),
            // A revoked token is indistinguishable from one never issued.
            TokenRejection::Revoked | TokenRejection::Unknown => Self::auth("invalid_access_token"),
        }
    }

    /// 409: the route's own error union, one or two levels deep.
    pub(crate) fn endpoint(tag: &str, inner: Option<&str>) -> Self {
        let (summary, error) = match inner {
            Some(inner) => (
                format!("{tag}/{inner}/.."),
                json!({".tag": tag, tag: {".tag": inner}}),
            ),
            None => (format!("{tag}/.."), json!({".tag": tag})),
        };
        Self {
            status: StatusCode::CONFLICT,
            body: Body::Json(json!({"error_summary": summary, "error": error})),
            retry_after_secs: None,
        }
    }

    /// 409 `path/<LookupError>`.
    pub(crate) fn path(error: PathError) -> Self {
        Self::endpoint("path", Some(error.tag()))
    }

    /// 409 `reset`: the cursor is no longer valid; the client must list again.
    pub(crate) fn reset() -> Self {
        Self::endpoint("reset", None)
    }

    pub(crate) fn too_many_requests(retry_after_secs: u64) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: Body::Json(json!({
                "error_summary": "too_many_requests/..",
                "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after_secs},
            })),
            retry_after_secs: Some(retry_after_secs),
        }
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            // A bare 429 keeps Dropbox's body (which always names a wait) but drops the header.
            Fault::RateLimited { retry_after_secs } => Self {
                retry_after_secs,
                ..Self::too_many_requests(retry_after_secs.unwrap_or(1))
            },
            Fault::ServerError { status } => Self {
                status: Fault::status_code(status),
                body: Body::Text("Internal Server Error".into()),
                retry_after_secs: None,
            },
        }
    }

    pub(crate) fn not_found(path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            body: Body::Text(format!("Unknown API function: \"{path}\"")),
            retry_after_secs: None,
        }
    }

    pub(crate) fn into_response(self) -> Response {
        let mut builder = Response::builder().status(self.status);
        if let Some(secs) = self.retry_after_secs {
            builder = builder.header("retry-after", secs);
        }
        match self.body {
            Body::Json(body) => builder
                .content_type("application/json")
                .body(body.to_string()),
            Body::Text(text) => builder.content_type("text/plain; charset=utf-8").body(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_kind() {
        let missing = DropboxError::path(PathError::NotFound);
        assert_eq!(missing.status, StatusCode::CONFLICT);
        assert_eq!(
            missing.body,
            Body::Json(json!({
                "error_summary": "path/not_found/..",
                "error": {".tag": "path", "path": {".tag": "not_found"}},
            }))
        );
        assert_eq!(
            DropboxError::reset().body,
            Body::Json(json!({"error_summary": "reset/..", "error": {".tag": "reset"}}))
        );
        let expired = DropboxError::rejected_token(TokenRejection::Expired);
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        let limited = DropboxError::from_fault(Fault::RateLimited {
            retry_after_secs: Some(3),
        });
        assert_eq!(limited.retry_after_secs, Some(3));
        assert!(matches!(
            DropboxError::bad_input("files/list_folder", "x").body,
            Body::Text(t) if t.starts_with("Error in call to API function \"files/list_folder\"")
        ));
    }
}
