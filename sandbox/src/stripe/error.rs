//! Stripe's error responses: `{"error": {"type", "code"?, "param"?, "message", "doc_url"?}}`.
//!
//! Connectors classify failures from this shape (type `rate_limit_error` means
//! back off, `invalid_request_error` with code `resource_missing` means a stale
//! cursor), so it follows Stripe's documented fields and wording.

use poem::http::{Method, StatusCode};
use poem::{Response, error::Error as PoemError};
use serde_json::{Map, Value, json};

use super::Stream;
use crate::faults::Fault;

/// One error answer in Stripe's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<String>,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code: None,
            param: None,
            message: message.into(),
        }
    }

    /// A 400 `invalid_request_error` about one parameter.
    pub(crate) fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
        }
    }

    pub(crate) fn unknown_param(param: &str) -> Self {
        Self::invalid_param(param, format!("Received unknown parameter: {param}"))
    }

    /// "No such customer: 'cus_..'" — 400 for a cursor parameter, 404 for a retrieve.
    pub(crate) fn resource_missing(
        stream: Stream,
        id: &str,
        param: &str,
        status: StatusCode,
    ) -> Self {
        Self {
            status,
            code: Some("resource_missing"),
            param: Some(param.to_owned()),
            ..Self::new(
                status,
                "invalid_request_error",
                format!("No such {}: '{id}'", stream.object()),
            )
        }
    }

    pub(crate) fn missing_api_key() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization \
             header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See \
             https://stripe.com/docs/api#authentication for details, or we can help at \
             https://support.stripe.com/.",
        )
    }

    /// The presented key appears only masked: error bodies end up in logs.
    pub(crate) fn invalid_api_key(presented: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            format!("Invalid API Key provided: {}", mask_key(presented)),
        )
    }

    pub(crate) fn unrecognized_url(method: &Method, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
                 or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// Routing failures inside `/v1`: unknown paths and methods the fake does not serve.
    pub(crate) fn from_routing(err: &PoemError, method: &Method, path: &str) -> Self {
        match err.status() {
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request_error",
                format!("{method} is not supported on {path} by the sandbox."),
            ),
            StatusCode::NOT_FOUND => Self::unrecognized_url(method, path),
            status => Self::new(status, "api_error", err.to_string()),
        }
    }

    pub(crate) fn from_fault(fault: Fault) -> Self {
        match fault {
            Fault::RateLimited { .. } => Self {
                code: Some("rate_limit"),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "Request rate limit exceeded. Learn more about rate limits here \
                     https://stripe.com/docs/rate-limits.",
                )
            },
            Fault::ServerError { status } => Self::new(
                Fault::status_code(status),
                "api_error",
                "Something went wrong on Stripe's end. (Sandbox: injected by the fault plan.)",
            ),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut error = Map::new();
        if let Some(code) = self.code {
            error.insert("code".into(), code.into());
            error.insert(
                "doc_url".into(),
                format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )
                .into(),
            );
        }
        error.insert("message".into(), self.message.clone().into());
        if let Some(param) = &self.param {
            error.insert("param".into(), param.clone().into());
        }
        error.insert("type".into(), self.kind.into());
        json!({ "error": error })
    }

    pub(crate) fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.to_json());
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                "Basic realm=\"Stripe\"".parse().expect("static header"),
            );
        }
        response
    }
}

/// A JSON body with Stripe's content type.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// `sk_test_****` + last four, like Stripe; short keys show no tail at all.
fn mask_key(key: &str) -> String {
    const PREFIXES: [&str; 6] = [
        "sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_",
    ];
    let prefix = PREFIXES
        .iter()
        .copied()
        .find(|p| key.starts_with(p))
        .unwrap_or("");
    let rest: Vec<char> = key[prefix.len()..].chars().collect();
    if rest.len() >= 12 {
        let tail: String = rest[rest.len() - 4..].iter().collect();
        format!("{prefix}{}{tail}", "*".repeat(rest.len() - 4))
    } else {
        format!("{prefix}{}", "*".repeat(rest.len().max(4)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_never_echo_the_key() {
        assert_eq!(mask_key("sk_test_wrong"), "sk_test_*****");
        assert_eq!(mask_key("sk_test_"), "sk_test_****");
        assert_eq!(
            mask_key("sk_live_abcdefghijklmnop"),
            "sk_live_************mnop"
        );
        assert_eq!(mask_key("garbage"), "*******");
        assert_eq!(mask_key("ключ"), "****");
    }

    #[test]
    fn resource_missing_carries_code_param_and_doc_url() {
        let err = ApiError::resource_missing(
            Stream::Customers,
            "cus_x",
            "starting_after",
            StatusCode::BAD_REQUEST,
        );
        let json = err.to_json();
        assert_eq!(json["error"]["code"], "resource_missing");
        assert_eq!(json["error"]["param"], "starting_after");
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert_eq!(json["error"]["message"], "No such customer: 'cus_x'");
        assert_eq!(
            json["error"]["doc_url"],
            "https://stripe.com/docs/error-codes/resource-missing"
        );
    }

    #[test]
    fn faults_render_as_stripe_errors() {
        let limited = ApiError::from_fault(Fault::RateLimited {
            retry_after_secs: Some(1),
        });
        assert_eq!(
            limited.clone().into_response().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(limited.to_json()["error"]["type"], "rate_limit_error");
        let failed = ApiError::from_fault(Fault::ServerError { status: 500 });
        assert_eq!(
            failed.clone().into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(failed.to_json()["error"]["type"], "api_error");
    }
}
