//! `/_sandbox/...`: control endpoints for a sandbox running in another process
//! (the CLI's `--demo`, whole-system tests). Never faulted, never counted.

use std::collections::BTreeMap;

use poem::http::StatusCode;
use poem::web::{Data, Json, Path};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post, put,
};
use serde_json::{Map, Value, json};

use crate::stripe::{self, Stream};
use crate::{FaultPlan, Sandbox, Stats};

pub(crate) fn routes(sandbox: Sandbox) -> impl Endpoint {
    Route::new()
        .at("/health", get(health))
        .at("/stats", get(stats))
        .at("/stats/reset", post(reset_stats))
        .at("/faults", put(set_faults).get(faults))
        .at("/stripe/:stream/grow", post(grow_stripe))
        .at("/stripe/advance", post(advance_stripe))
        .at("/keap/quota", post(set_keap_quota))
        .data(sandbox)
}

/// Liveness plus what is being served, so a demo can print it.
#[handler]
async fn health(Data(sandbox): Data<&Sandbox>) -> Json<Value> {
    let counts: Map<String, Value> = stripe::STREAMS
        .iter()
        .map(|&stream| (stream.to_owned(), sandbox.stripe().count(stream).into()))
        .collect();
    Json(json!({
        "status": "ok",
        "seed": sandbox.config().seed,
        "records": { "stripe": counts },
    }))
}

#[handler]
async fn stats(Data(sandbox): Data<&Sandbox>) -> Json<Stats> {
    Json(sandbox.stats())
}

#[handler]
async fn reset_stats(Data(sandbox): Data<&Sandbox>) -> StatusCode {
    sandbox.reset_stats();
    StatusCode::NO_CONTENT
}

#[handler]
async fn faults(Data(sandbox): Data<&Sandbox>) -> Json<FaultPlan> {
    Json(sandbox.faults())
}

/// Takes the body as bytes and parses it here, so bad JSON gets a JSON error
/// rather than poem's plain-text one.
#[handler]
async fn set_faults(Data(sandbox): Data<&Sandbox>, body: Vec<u8>) -> Response {
    match serde_json::from_slice::<FaultPlan>(&body) {
        Ok(plan) => {
            sandbox.set_faults(plan.clone());
            Json(plan).into_response()
        }
        Err(err) => control_error(
            StatusCode::BAD_REQUEST,
            format!("invalid fault plan: {err}"),
        ),
    }
}

#[handler]
async fn grow_stripe(
    Path(stream): Path<String>,
    req: &Request,
    Data(sandbox): Data<&Sandbox>,
) -> Response {
    let Some(stream) = Stream::from_name(&stream) else {
        return control_error(
            StatusCode::NOT_FOUND,
            format!(
                "unknown Stripe stream `{stream}` (known: {})",
                stripe::STREAMS.join(", ")
            ),
        );
    };
    if let Some(source) = stream.follows() {
        return control_error(
            StatusCode::BAD_REQUEST,
            format!(
                "Stripe `{}` follow {source}: grow one of {}",
                stream.name(),
                stripe::COUNTED_STREAMS.join(", ")
            ),
        );
    }
    match whole_number(req, "n", 5) {
        Ok(n) => {
            let count = sandbox.stripe().grow_stream(stream, n);
            Json(json!({ "platform": "stripe", "stream": stream.name(), "count": count }))
                .into_response()
        }
        Err(message) => control_error(StatusCode::BAD_REQUEST, message),
    }
}

/// Lets time pass on the Stripe fake: payments settle, events age out of the 30-day listing.
#[handler]
async fn advance_stripe(req: &Request, Data(sandbox): Data<&Sandbox>) -> Response {
    match whole_number(req, "secs", 86_400) {
        Ok(secs) => {
            let now = sandbox.stripe().advance(secs);
            Json(json!({ "platform": "stripe", "now": now })).into_response()
        }
        Err(message) => control_error(StatusCode::BAD_REQUEST, message),
    }
}

/// Sets Keap's daily quota (`?requests=`) and, with `?window_secs=`, makes it reset every so
/// many seconds from now instead of at UTC midnight.
#[handler]
async fn set_keap_quota(req: &Request, Data(sandbox): Data<&Sandbox>) -> Response {
    let requests = match whole_number(req, "requests", 100) {
        Ok(n) => n,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    let has_window = req
        .params::<BTreeMap<String, String>>()
        .is_ok_and(|p| p.contains_key("window_secs"));
    let window = if has_window {
        match whole_number(req, "window_secs", 60) {
            Ok(secs) => Some(secs),
            Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
        }
    } else {
        None
    };
    if let Some(secs) = window {
        sandbox.keap().set_quota_window(secs);
    }
    sandbox.keap().set_daily_quota(requests);
    Json(json!({ "platform": "keap", "requests": requests, "window_secs": window })).into_response()
}

/// Query parameter `name` as a non-negative integer, or a message saying what it must be.
fn whole_number(req: &Request, name: &str, example: u64) -> Result<u64, String> {
    req.params::<BTreeMap<String, String>>()
        .ok()
        .and_then(|params| params.get(name)?.parse().ok())
        .ok_or_else(|| {
            format!(
                "query parameter `{name}` must be a non-negative integer, e.g. ?{name}={example}"
            )
        })
}

/// Errors in the same `{"error": {...}}` shape the platforms use, so one client helper reads both.
fn control_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "type": "invalid_request_error", "message": message.into() } });
    Json(body).with_status(status).into_response()
}
