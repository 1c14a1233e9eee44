//! Zendesk's error answers: `{"error": "<Title>", "description": "<text>"}`, except for
//! authentication, which is the bare `{"error": "Couldn't authenticate you"}`.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::faults::Fault;

/// One error answer in Zendesk's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    body: Value,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "description": description.into()}),
            retry_after_secs: None,
        }
    }

    pub(crate) fn unauthenticated() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"error": "Couldn't authenticate you"}),
            retry_after_secs: None,
        }
    }

    /// A 400 about the request's parameters.
    pub(crate) fn invalid(error: &str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "RecordNotFound", "Not found")
    }

    pub(crate) fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "APIRateLimitExceeded",
                "Number of allowed API requests per minute exceeded",
            )
        }
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            // The shared gate adds the Retry-After header itself.
            Fault::RateLimited { .. } => Self {
                retry_after_secs: None,
                ..Self::rate_limited(0)
            },
            Fault::ServerError { status } => Self::new(
                Fault::status_code(status),
                "InternalError",
                "Something went wrong on our end",
            ),
        }
    }

    #[cfg(test)]
    pub(crate) fn body(&self) -> &Value {
        &self.body
    }

    pub(crate) fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body);
        if let Some(secs) = self.retry_after_secs {
            response.headers_mut().insert("retry-after", secs.into());
        }
        response
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}
