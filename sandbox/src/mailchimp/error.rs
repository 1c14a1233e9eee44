//! Mailchimp's error responses: `application/problem+json` with `type`, `title`, `status`,
//! `detail` and `instance`.
//!
//! Mailchimp sends no rate-limit headers; a throttled request is a 429 whose `title` is
//! "Too Many Requests" (the fault gate adds `Retry-After` to its own 429s).

use poem::Response;
use poem::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::generate;

pub(crate) const ERROR_DOC: &str = "https://mailchimp.com/developer/marketing/docs/errors/";

/// One error answer in Mailchimp's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
}

impl ApiError {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
        }
    }

    pub(crate) fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "API Key Missing",
            "Your request did not include an API key.",
        )
    }

    pub(crate) fn invalid_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "API Key Invalid",
            "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        )
    }

    /// A 400 about a query parameter.
    pub(crate) fn invalid_param(param: &str, problem: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Invalid Resource",
            format!("The query parameter `{param}` {}", problem.into()),
        )
    }

    pub(crate) fn not_found(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Resource Not Found",
            format!("The requested resource could not be found ({method} {path})."),
        )
    }

    pub(crate) fn too_many_connections() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "You have exceeded the limit of 10 simultaneous connections.",
        )
    }

    pub(crate) fn from_routing(err: &poem::Error, method: &Method, path: &str) -> Self {
        match err.status() {
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
                format!("{method} is not supported on {path} by the sandbox."),
            ),
            StatusCode::NOT_FOUND => Self::not_found(method, path),
            status => Self::new(status, "Internal Server Error", err.to_string()),
        }
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests",
                "You have exceeded the limit of 10 simultaneous connections.",
            ),
            Fault::ServerError { status } => Self::new(
                Fault::status_code(status),
                "Internal Server Error",
                "An unexpected internal error has occurred. (Sandbox: injected by the fault plan.)",
            ),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        // Mailchimp's `instance` is a request UUID; a hash of the answer keeps the fake deterministic.
        let hash = generate::index_hash(u64::from(self.status.as_u16()), self.detail.len() as u64);
        let instance = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            hash >> 32,
            (hash >> 16) & 0xffff,
            hash & 0xfff,
            (hash >> 20) & 0xfff,
            hash & 0xffff_ffff_ffff
        );
        json!({
            "type": ERROR_DOC,
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "instance": instance,
        })
    }

    pub(crate) fn into_response(self) -> Response {
        Response::builder()
            .status(self.status)
            .content_type("application/problem+json; charset=utf-8")
            .body(self.to_json().to_string())
    }
}

/// A successful JSON answer.
pub(crate) fn json_response(body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_problem_documents() {
        let json = ApiError::invalid_api_key().to_json();
        assert_eq!(json["title"], "API Key Invalid");
        assert_eq!(json["status"], 401);
        assert_eq!(json["type"], ERROR_DOC);
        assert_eq!(json["instance"].as_str().map(str::len), Some(36));
        let limited = ApiError::from_fault(Fault::RateLimited {
            retry_after_secs: Some(1),
        });
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            ApiError::from_fault(Fault::ServerError { status: 500 })
                .into_response()
                .status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
