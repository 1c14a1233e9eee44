//! The ActiveCampaign fake's HTTP surface: `Api-Token` authentication, routing, the list
//! handler, and errors in ActiveCampaign's `{"message": ...}` / `{"errors": [...]}` shapes.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::{Value, json};

use super::list::ListQuery;
use super::{ActiveCampaignFake, Stream};
use crate::faults::Fault;

/// What ActiveCampaign answers, with 403, for a missing, wrong or revoked `Api-Token`.
pub const AUTH_FAILED_MESSAGE: &str = "No Result found for Subscriber with id 0";

/// The routes under `/api/3`, authenticated and answering every error in ActiveCampaign's shape.
pub(crate) fn routes(fake: Arc<ActiveCampaignFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    Route::new()
        .at("/:stream", get(list))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            async move {
                if !authenticated(&fake, &req) {
                    return Ok(message(StatusCode::FORBIDDEN, AUTH_FAILED_MESSAGE));
                }
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
                        message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed")
                    }
                    Err(_) => not_found(),
                })
            }
        })
}

/// How the fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { .. } => message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests: the account allows 5 requests per second.",
        ),
        Fault::ServerError { status } => message(
            Fault::status_code(status),
            "Internal Server Error (sandbox: injected by the fault plan)",
        ),
    }
}

/// Any key of the account works until revoked; the header name is case-insensitive (HTTP).
fn authenticated(fake: &ActiveCampaignFake, req: &Request) -> bool {
    let presented = req.header("api-token").unwrap_or_default().trim();
    !presented.is_empty() && presented == fake.api_key() && !fake.key_revoked()
}

fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, &json!({ "message": text }))
}

fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "No Result found for Route")
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

#[handler]
async fn list(
    Path(stream): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<ActiveCampaignFake>>,
) -> Response {
    let Some(stream) = Stream::from_name(&stream) else {
        return not_found();
    };
    let params: Vec<(String, String)> = match req.params() {
        Ok(params) => params,
        Err(_) => return invalid("query", "The query string could not be parsed"),
    };
    match ListQuery::parse(stream, &params) {
        Ok(query) => {
            let page = query.page(fake, stream);
            let mut body = serde_json::Map::new();
            body.insert(stream.name().to_owned(), Value::Array(page.records));
            // ActiveCampaign sends totals as strings.
            body.insert("meta".into(), json!({ "total": page.total.to_string() }));
            json_response(StatusCode::OK, &body.into())
        }
        Err(bad) => invalid("query", &bad.0),
    }
}

/// A 400 in the JSON:API-like shape ActiveCampaign uses for validation errors.
fn invalid(source: &str, detail: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({ "errors": [{ "title": detail, "detail": "", "code": "invalid", "source": { "pointer": source } }] }),
    )
}
