//! The one error envelope: `{"error": {"code", "message", "request_id", "details"}}`.
//!
//! Handlers return typed error responses; errors raised by the framework itself (a body that is
//! not JSON, a missing key, an unknown path) are turned into the same envelope here, and every
//! envelope gets the request's id, which is also sent as `X-Request-Id` and logged.

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode};
use poem_openapi::{Object, payload::Json};
use serde_json::Value;

#[derive(Object, Debug, Clone)]
pub struct ErrorBody {
    /// A stable, machine-readable code (`not_found`, `invalid_request`, `unauthorized`, …).
    pub code: String,
    /// A message for people.
    pub message: String,
    /// The id of the request, to quote when asking for help.
    pub request_id: String,
    /// Extra structured information, e.g. which field is wrong.
    pub details: Option<Value>,
}

#[derive(Object, Debug, Clone)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// Builds an error payload; the request id is filled in on the way out.
pub fn envelope(code: &str, message: impl Into<String>) -> Json<ErrorEnvelope> {
    Json(ErrorEnvelope {
        error: ErrorBody {
            code: code.to_owned(),
            message: message.into(),
            request_id: String::new(),
            details: None,
        },
    })
}

pub fn envelope_with(
    code: &str,
    message: impl Into<String>,
    details: Value,
) -> Json<ErrorEnvelope> {
    let mut e = envelope(code, message);
    e.0.error.details = Some(details);
    e
}

/// Logs an internal failure with the request's context and returns a message safe to show.
pub fn internal(e: impl std::fmt::Display) -> Json<ErrorEnvelope> {
    tracing::error!(error = %e, "internal error");
    envelope(
        "internal",
        "internal error; quote the request id when reporting it",
    )
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "rate_limited",
        503 => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "error",
    }
}

/// Applies request ids and the envelope to every response.
pub async fn envelope_middleware<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let request_id = format!("req_{}", uuid::Uuid::now_v7().simple());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(err) => {
            let status = err.status();
            let message = if status.is_server_error() {
                tracing::error!(error = %err, "unhandled error");
                "internal error; quote the request id when reporting it".to_owned()
            } else {
                err.to_string()
            };
            let body = serde_json::json!({"error": {"code": code_for(status), "message": message, "request_id": "", "details": null}});
            Response::builder()
                .status(status)
                .content_type("application/json")
                .body(body.to_string())
        }
    };
    let mut response = stamp(response, &request_id).await;
    response.headers_mut().insert(
        "x-request-id",
        request_id.parse().expect("request ids are ASCII"),
    );
    tracing::info!(%method, %path, status = response.status().as_u16(), %request_id, "request");
    Ok(response)
}

/// Writes the request id into an error envelope; other responses pass through untouched.
async fn stamp(response: Response, request_id: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let mut json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        // A framework error that is not JSON yet (e.g. a 404 for an unknown path).
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_owned() } else { text };
        serde_json::json!({"error": {"code": code_for(status), "message": message, "details": null}})
    });
    if json.get("error").and_then(Value::as_object).is_none() {
        json = serde_json::json!({"error": {"code": code_for(status), "message": json.to_string(), "details": null}});
    }
    json["error"]["request_id"] = Value::String(request_id.to_owned());
    let mut response = Response::from_parts(parts, poem::Body::from(json.to_string()));
    response.headers_mut().insert(
        poem::http::header::CONTENT_TYPE,
        "application/json".parse().expect("static header"),
    );
    response
        .headers_mut()
        .remove(poem::http::header::CONTENT_LENGTH);
    response
}
