//! The HubSpot fake's HTTP surface under `/crm/v3`: authentication, rate-limit headers,
//! routing and the list, search, owners and pipelines handlers.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde_json::{Value, json};

use super::error::{ApiError, json_response};
use super::properties;
use super::search::SearchQuery;
use super::{HubSpotFake, Stream};
use crate::faults::Fault;

/// HubSpot's documented burst budget for private apps on Professional/Enterprise portals.
const BURST_MAX: u32 = 190;
const BURST_INTERVAL: Duration = Duration::from_secs(10);
const DAILY_MAX: u32 = 1_000_000;
pub(crate) const LIST_DEFAULT_LIMIT: u64 = 10;
pub(crate) const LIST_MAX_LIMIT: u64 = 100;
const OWNERS_DEFAULT_LIMIT: u64 = 100;
const OWNERS_MAX_LIMIT: u64 = 500;

/// The routes under `/crm/v3`, authenticated and answering every error in HubSpot's shape.
pub(crate) fn routes(fake: Arc<HubSpotFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    let window = Arc::new(Mutex::new((Instant::now(), 0u32)));
    Route::new()
        .at("/objects/:object", get(list))
        .at("/objects/:object/search", post(search))
        .at("/owners", get(owners))
        .at("/properties/:object", get(property_definitions))
        .at("/pipelines/:object", get(pipelines))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            let window = Arc::clone(&window);
            async move {
                if let Err(err) = authenticate(&fake, &req) {
                    return Ok(err.into_response());
                }
                let method = req.method().clone();
                let path = req.original_uri().path().to_owned();
                let mut response = match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) => ApiError::from_routing(&err, &method, &path).into_response(),
                };
                // HubSpot leaves these headers off search answers.
                if !path.ends_with("/search") {
                    add_rate_limit_headers(&mut response, &window);
                }
                Ok::<_, poem::Error>(response)
            }
        })
}

/// How the HubSpot fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    ApiError::from_fault(fault).into_response()
}

fn authenticate(fake: &HubSpotFake, req: &Request) -> Result<(), ApiError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    if header.is_empty() || !scheme.eq_ignore_ascii_case("Bearer") || token.is_empty() {
        Err(ApiError::missing_credentials())
    } else if token == fake.access_token() && !fake.token_revoked() {
        Ok(())
    } else {
        Err(ApiError::invalid_token())
    }
}

/// `X-HubSpot-RateLimit-*` over a rolling window of this fake's own requests.
fn add_rate_limit_headers(response: &mut Response, window: &Mutex<(Instant, u32)>) {
    let used = {
        let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0.elapsed() >= BURST_INTERVAL {
            *window = (Instant::now(), 0);
        }
        window.1 = window.1.saturating_add(1);
        window.1
    };
    let headers = response.headers_mut();
    let interval = BURST_INTERVAL.as_millis() as u64;
    let pairs: [(&str, u64); 5] = [
        ("x-hubspot-ratelimit-max", BURST_MAX.into()),
        (
            "x-hubspot-ratelimit-remaining",
            BURST_MAX.saturating_sub(used).into(),
        ),
        ("x-hubspot-ratelimit-interval-milliseconds", interval),
        ("x-hubspot-ratelimit-daily", DAILY_MAX.into()),
        (
            "x-hubspot-ratelimit-daily-remaining",
            DAILY_MAX.saturating_sub(used).into(),
        ),
    ];
    for (name, value) in pairs {
        headers.insert(name, value.into());
    }
}

fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    req.params::<Vec<(String, String)>>()
        .map_err(|err| ApiError::validation(format!("Invalid query string: {err}")))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(n, v)| n == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn parse_limit(params: &[(String, String)], default: u64, max: u64) -> Result<u64, ApiError> {
    match param(params, "limit") {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::validation(format!("limit must be between 1 and {max}, got `{v}`"))
            }),
    }
}

/// One page of a stream in id order: `after` names the first id of the page.
fn list_page(
    fake: &HubSpotFake,
    stream: Stream,
    params: &[(String, String)],
    (default, max): (u64, u64),
    path: &str,
) -> Result<Value, ApiError> {
    let limit = parse_limit(params, default, max)?;
    let start = match param(params, "after") {
        None => 0,
        Some(after) => stream.index_of(after).ok_or_else(|| {
            ApiError::validation(format!("`after` `{after}` is not a valid paging cursor"))
        })?,
    };
    let count = if param(params, "archived") == Some("true") {
        0 // nothing in the fake is ever archived
    } else {
        fake.count_of(stream)
    };
    let end = start.saturating_add(limit).min(count);
    let requested = properties::requested(params);
    let results: Vec<Value> = (start.min(end)..end)
        .map(|i| {
            let mut record = fake.generate(stream, i);
            properties::select(&mut record, stream, &requested);
            record
        })
        .collect();
    let mut body = json!({ "results": results });
    if end < count {
        let after = stream.id(end);
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("https://api.hubapi.com/crm/v3/{path}?after={after}"),
        }});
    }
    Ok(body)
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn list(
    Path(object): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<HubSpotFake>>,
) -> Response {
    let Some(stream) = Stream::object_from_path(&object) else {
        return ApiError::not_found(req.method(), req.original_uri().path()).into_response();
    };
    let path = format!("objects/{}", stream.name());
    respond(query_pairs(req).and_then(|params| {
        list_page(
            fake,
            stream,
            &params,
            (LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT),
            &path,
        )
    }))
}

#[handler]
async fn owners(req: &Request, Data(fake): Data<&Arc<HubSpotFake>>) -> Response {
    respond(query_pairs(req).and_then(|params| {
        list_page(
            fake,
            Stream::Owners,
            &params,
            (OWNERS_DEFAULT_LIMIT, OWNERS_MAX_LIMIT),
            "owners",
        )
    }))
}

#[handler]
async fn search(
    Path(object): Path<String>,
    req: &Request,
    body: Vec<u8>,
    Data(fake): Data<&Arc<HubSpotFake>>,
) -> Response {
    let Some(stream) = Stream::object_from_path(&object) else {
        return ApiError::not_found(req.method(), req.original_uri().path()).into_response();
    };
    respond(SearchQuery::parse(stream, &body).map(|query| {
        let page = fake.search(stream, &query);
        let mut body = json!({ "total": page.total, "results": page.results });
        if let Some(after) = page.next_after {
            body["paging"] = json!({ "next": { "after": after.to_string() } });
        }
        body
    }))
}

#[handler]
async fn pipelines(Path(object): Path<String>, Data(fake): Data<&Arc<HubSpotFake>>) -> Response {
    let object = match object.as_str() {
        "deals" => Stream::Deals,
        "tickets" => Stream::Tickets,
        _ => {
            return ApiError::validation(format!(
                "Unable to infer object type from: {object} (the sandbox has deal and ticket pipelines)"
            ))
            .into_response();
        }
    };
    let results: Vec<Value> = (0..fake.count_of(Stream::Pipelines))
        .filter(|&i| Stream::pipeline_object(i) == object)
        .map(|i| fake.generate(Stream::Pipelines, i))
        .collect();
    json_response(StatusCode::OK, &json!({ "results": results }))
}

#[handler]
async fn property_definitions(
    Path(object): Path<String>,
    req: &Request,
    Data(_fake): Data<&Arc<HubSpotFake>>,
) -> Response {
    match Stream::object_from_path(&object) {
        Some(stream) => json_response(StatusCode::OK, &properties::definitions(stream)),
        None => ApiError::not_found(req.method(), req.original_uri().path()).into_response(),
    }
}
