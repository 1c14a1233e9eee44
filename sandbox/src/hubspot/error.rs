//! HubSpot's error responses: `{"status": "error", "message", "correlationId", "category", ...}`.
//!
//! Connectors classify failures from the status and `category` (`RATE_LIMITS`,
//! `INVALID_AUTHENTICATION`, `VALIDATION_ERROR`, `OBJECT_NOT_FOUND`), so the fake uses
//! HubSpot's categories and wording.

use poem::Response;
use poem::http::StatusCode;
use serde_json::{Value, json};

use crate::faults::Fault;

/// A fixed correlation id: real ones are random UUIDs, but the fake's answers must be reproducible.
const CORRELATION_ID: &str = "00000000-5a4d-4b0c-8000-000000000000";

/// One error answer in HubSpot's shape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    status: StatusCode,
    category: &'static str,
    message: String,
    extra: Vec<(&'static str, Value)>,
}

impl ApiError {
    fn new(status: StatusCode, category: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            category,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub(crate) fn missing_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and \
             you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    }

    /// The presented token never appears in the answer: error bodies end up in logs.
    pub(crate) fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials are invalid, expired or revoked. Check that the private \
             app still exists and that its access token is current.",
        )
    }

    pub(crate) fn not_found(method: &poem::http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "OBJECT_NOT_FOUND",
            format!("No route or resource for {method} {path}"),
        )
    }

    pub(crate) fn from_routing(err: &poem::Error, method: &poem::http::Method, path: &str) -> Self {
        match err.status() {
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "VALIDATION_ERROR",
                format!("{method} is not supported on {path} by the sandbox"),
            ),
            StatusCode::NOT_FOUND => Self::not_found(method, path),
            status => Self::new(status, "VALIDATION_ERROR", err.to_string()),
        }
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { .. } => Self {
                extra: vec![
                    ("errorType", "RATE_LIMIT".into()),
                    ("policyName", "TEN_SECONDLY_ROLLING".into()),
                ],
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITS",
                    "You have reached your ten_secondly_rolling limit.",
                )
            },
            Fault::ServerError { status } => Self::new(
                Fault::status_code(status),
                "INTERNAL_ERROR",
                "internal error (sandbox: injected by the fault plan)",
            ),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({
            "status": "error",
            "message": self.message,
            "correlationId": CORRELATION_ID,
            "category": self.category,
        });
        if let Some(map) = body.as_object_mut() {
            for (key, value) in &self.extra {
                map.insert((*key).to_owned(), value.clone());
            }
        }
        body
    }

    pub(crate) fn into_response(self) -> Response {
        json_response(self.status, &self.to_json())
    }
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json;charset=utf-8")
        .body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_render_in_hubspot_shape() {
        let limited = ApiError::from_fault(Fault::RateLimited {
            retry_after_secs: Some(1),
        });
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.to_json()["category"], "RATE_LIMITS");
        assert_eq!(limited.to_json()["policyName"], "TEN_SECONDLY_ROLLING");
        assert_eq!(
            ApiError::invalid_token().to_json()["category"],
            "INVALID_AUTHENTICATION"
        );
        assert_eq!(
            ApiError::from_fault(Fault::ServerError { status: 500 })
                .into_response()
                .status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
