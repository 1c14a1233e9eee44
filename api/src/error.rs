//! The one error envelope: `{"error": {"code", "message", "request_id", "details"}}`.
//!
//! Handlers return typed error responses; errors raised by the framework itself (a body that is
//! not JSON, a missing key, an unknown path) are turned into the same envelope here, and every
//! envelope gets the request's id, which is also sent as `X-Request-Id` and logged.

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode};
use poem_openapi::{Object, payload::Json};
use serde_json::Value;

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
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

/// An error answer on its way out of a handler: a status and its envelope.
///
/// Handlers written as `async fn …() -> Result<OperationResponse, ApiError>` use `?` on
/// database calls, access checks ([`crate::access::Caller::require`]) and validation, and the
/// operation turns the error into its own response variant with the `From` impl that
/// [`error_responses!`](crate::error_responses) writes. Codes are listed in `docs/api.md`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorEnvelope,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: envelope(code, message).0,
        }
    }

    /// Adds structured details (`{"field": …}`, `{"job_id": …}`).
    pub fn with_details(mut self, details: Value) -> Self {
        self.body.error.details = Some(details);
        self
    }

    /// The same error with a more precise code (`invalid_credentials` for a 401).
    pub fn with_code(mut self, code: &str) -> Self {
        code.clone_into(&mut self.body.error.code);
        self
    }

    /// 400 `invalid_request`: a parameter could not be read; `details.field` names it.
    pub fn bad_param(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
            .with_details(serde_json::json!({ "field": field }))
    }

    /// 422 `invalid_field`: the body was read, but `field`'s value is not acceptable.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
            .with_details(serde_json::json!({ "field": field }))
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403 with `code` (`forbidden`, `role_too_high`, `user_required`).
    pub fn forbidden(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 `not_found` for `{kind} {id}`: what is missing and what is another tenant's look alike.
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{kind} {id} not found"),
        )
    }

    /// 409 with `code` (`duplicate_name`, `last_owner`, `account_not_empty`, …).
    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 409 `duplicate_name` with `details.field: "name"`; `message` says what has the name.
    pub fn duplicate_name(message: impl Into<String>) -> Self {
        Self::conflict("duplicate_name", message).with_details(serde_json::json!({"field": "name"}))
    }

    /// A unique index refusing a name as [`ApiError::duplicate_name`]; any other database
    /// error as itself.
    pub fn name_taken(e: sea_orm::DbErr, message: impl Into<String>) -> Self {
        if is_unique_violation(&e) {
            Self::duplicate_name(message)
        } else {
            e.into()
        }
    }

    /// 500 `internal`; `e` is logged, never shown.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: internal(e).0,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &str {
        &self.body.error.code
    }

    pub fn message(&self) -> &str {
        &self.body.error.message
    }

    /// The same error answered with another status (a 401 of a sign-in check as a 403 for a
    /// caller who is signed in already).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn into_body(self) -> Json<ErrorEnvelope> {
        Json(self.body)
    }

    /// An error whose status the operation does not declare: a bug, answered as a 500.
    #[doc(hidden)]
    pub fn undeclared(self) -> Json<ErrorEnvelope> {
        internal(format!(
            "undeclared {} `{}` answered as 500: {}",
            self.status, self.body.error.code, self.body.error.message
        ))
    }
}

/// Runs a handler body written with `?` and answers an error with the operation's own variant:
///
/// ```text
/// respond(async { let role = caller.require(&id, Role::Admin)?; …; Ok(R::Created(…)) }).await
/// ```
pub async fn respond<R: From<ApiError>>(
    body: impl std::future::Future<Output = Result<R, ApiError>>,
) -> R {
    body.await.unwrap_or_else(R::from)
}

/// True when `e` is a unique index refusing a duplicate (a name taken, a member added twice).
pub fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::internal(e)
    }
}

/// Lets `?` turn an [`ApiError`] into an operation's response: each listed status becomes the
/// named variant (holding `Json<ErrorEnvelope>`), and 500 becomes the `Internal` variant every
/// such enum has (do not list it). A status the operation does not declare is logged as a bug
/// and answered as a 500.
///
/// ```text
/// error_responses!(RevokeApiKeyResponse { 403 => Forbidden, 404 => NotFound });
/// async fn revoke(…) -> RevokeApiKeyResponse {
///     respond(async { …?; Ok(RevokeApiKeyResponse::Revoked) }).await
/// }
/// ```
#[macro_export]
macro_rules! error_responses {
    ($response:ty { $($status:literal => $variant:ident),* $(,)? }) => {
        impl From<$crate::error::ApiError> for $response {
            fn from(e: $crate::error::ApiError) -> Self {
                match e.status().as_u16() {
                    $($status => Self::$variant(e.into_body()),)*
                    500 => Self::Internal(e.into_body()),
                    _ => Self::Internal(e.undeclared()),
                }
            }
        }
    };
}

/// An operation's responses, for operations whose success is one JSON body (or none) and whose
/// errors are the envelope: the enum, its `500`, and [`error_responses!`] for the rest.
///
/// ```text
/// operation_response!(GetTeamResponse, 200, "The team.", Ok(TeamView), {
///     404 => NotFound: "No such team (or not yours).",
/// });
/// ```
#[macro_export]
macro_rules! operation_response {
    ($name:ident, $ok_status:literal, $ok_doc:literal, $ok:ident $(($payload:ty))?, { $($status:literal => $variant:ident: $vdoc:literal),* $(,)? }) => {
        #[derive(poem_openapi::ApiResponse)]
        pub enum $name {
            #[doc = $ok_doc]
            #[oai(status = $ok_status)]
            $ok $((poem_openapi::payload::Json<$payload>))?,
            $(
                #[doc = $vdoc]
                #[oai(status = $status)]
                $variant(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
            )*
            /// An internal error; quote the request id.
            #[oai(status = 500)]
            Internal(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
        }
        $crate::error_responses!($name { $($status => $variant),* });
    };
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
    // No database text holds a NUL character: refuse one in the path or query up front, for
    // every operation, rather than let it reach a query (Postgres would fail it).
    let nul = req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().to_ascii_lowercase().contains("%00"));
    let response = if nul {
        let body = serde_json::json!({"error": {"code": "invalid_request", "message": "a path or query parameter contains a NUL character (%00)", "request_id": "", "details": null}});
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .content_type("application/json")
            .body(body.to_string())
    } else {
        match next.call(req).await {
            Ok(r) => r.into_response(),
            Err(err) => {
                let status = err.status();
                let message = if status.is_server_error() {
                    tracing::error!(error = %err, "unhandled error");
                    "internal error; quote the request id when reporting it".to_owned()
                } else {
                    err.to_string()
                };
                let mut details =
                    bad_field(&err).map(|field| serde_json::json!({ "field": field }));
                let retry_after = err
                    .downcast_ref::<crate::throttle::RateLimited>()
                    .map(|limited| crate::throttle::retry_after_secs(limited.0));
                if let Some(secs) = retry_after {
                    details = Some(serde_json::json!({ "retry_after": secs }));
                }
                let body = serde_json::json!({"error": {"code": code_for(status), "message": message, "request_id": "", "details": details}});
                let builder = Response::builder()
                    .status(status)
                    .content_type("application/json");
                match retry_after {
                    Some(secs) => builder.header("retry-after", secs.to_string()),
                    None => builder,
                }
                .body(body.to_string())
            }
        }
    };
    let mut response = stamp(response, &request_id).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = crate::allowed_methods().for_path(&path)
        && let Ok(value) = allow.parse()
    {
        response
            .headers_mut()
            .insert(poem::http::header::ALLOW, value);
    }
    response.headers_mut().insert(
        "x-request-id",
        request_id.parse().expect("request ids are ASCII"),
    );
    tracing::info!(%method, %path, status = response.status().as_u16(), %request_id, "request");
    Ok(response)
}

/// The parameter or body field a framework error is about, when it names one.
fn bad_field(err: &poem::Error) -> Option<String> {
    use poem_openapi::error::{ParseParamError, ParsePathError, ParseRequestPayloadError};
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return Some(e.name.to_owned());
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        return Some(e.name.to_owned());
    }
    let reason = &err.downcast_ref::<ParseRequestPayloadError>()?.reason;
    field_in_reason(reason)
}

/// The field a body parse error names: poem-openapi writes "unknown field `x`" and
/// "field `x` verification failed".
fn field_in_reason(reason: &str) -> Option<String> {
    let start = reason.find("field `")? + "field `".len();
    let len = reason[start..].find('`')?;
    Some(reason[start..start + len].to_owned())
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

#[cfg(test)]
mod tests {
    #[test]
    fn body_parse_errors_name_their_field() {
        assert_eq!(
            super::field_in_reason(r#"failed to parse "Register": unknown field `colour`."#),
            Some("colour".into())
        );
        assert_eq!(
            super::field_in_reason("field `name` verification failed. maxLength(200)"),
            Some("name".into())
        );
        assert_eq!(
            super::field_in_reason(r#"Type "String" expects an input value."#),
            None
        );
    }
}
