//! The GoHighLevel fake's HTTP surface: OAuth bearer auth, the `Version` header, location
//! scoping, the per-location budget and GHL's error shape (`{"statusCode", "message", "error"}`).

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde_json::{Value, json};

use super::limits::Budget;
use super::search::{self, ContactSearch};
use super::{API_VERSION, GoHighLevelFake, Location, Stream, records};
use crate::faults::Fault;
use crate::oauth::OAuthAuthority;

/// The platform name tokens are issued for.
pub const PLATFORM: &str = "gohighlevel";

/// One error answer in GHL's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    budget: Option<Budget>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            budget: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "statusCode": self.status.as_u16(),
            "message": self.message,
            "error": self.status.canonical_reason().unwrap_or("Error"),
        });
        let mut response = json_response(self.status, &body);
        if let Some(budget) = self.budget {
            budget.apply(&mut response);
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// The routes under `/gohighlevel`.
pub(crate) fn routes(
    fake: Arc<GoHighLevelFake>,
    oauth: Arc<OAuthAuthority>,
) -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/contacts/search", post(search_contacts))
        .at("/opportunities/search", get(search_opportunities))
        .at("/calendars/", get(list_calendars))
        .at("/calendars/events", get(list_events))
        .data(fake)
        .around(move |ep, req| {
            let oauth = Arc::clone(&oauth);
            async move {
                if let Err(err) = authenticate(&oauth, &req) {
                    return Ok(err.into_response());
                }
                let path = req.original_uri().path().to_owned();
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) if err.status() == StatusCode::METHOD_NOT_ALLOWED => {
                        ApiError::new(err.status(), format!("Cannot call {path} this way"))
                            .into_response()
                    }
                    Err(_) => ApiError::new(StatusCode::NOT_FOUND, format!("Cannot GET {path}"))
                        .into_response(),
                })
            }
        })
}

/// How the fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { .. } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
                .with_budget(Budget::exhausted())
                .into_response()
        }
        Fault::ServerError { status } => {
            ApiError::new(Fault::status_code(status), "Internal server error").into_response()
        }
    }
}

/// A bearer token the sandbox authority issued for GoHighLevel, then the `Version` header.
fn authenticate(oauth: &OAuthAuthority, req: &Request) -> Result<(), ApiError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or_default();
    if token.is_empty() || oauth.check(PLATFORM, token).is_err() {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "Invalid JWT"));
    }
    match req.header("version") {
        Some(API_VERSION) => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "version {other} is not supported"
        ))),
        None => Err(ApiError::bad_request("version header was not found")),
    }
}

/// The location a request names, counted against its budget.
fn admit<'a>(
    fake: &'a GoHighLevelFake,
    location: Option<&str>,
) -> Result<(&'a Location, Budget), ApiError> {
    let location = location
        .filter(|l| !l.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "locationId is required"))?;
    let loc = fake.find(location).ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "The token does not have access to this location.",
        )
    })?;
    let budget = fake.limiter.take(&loc.id);
    if budget.retry_after.is_some() {
        return Err(
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests").with_budget(budget),
        );
    }
    Ok((loc, budget))
}

fn answer(result: Result<Value, ApiError>, budget: Budget) -> Response {
    let mut response = match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(err) => err.into_response(),
    };
    budget.apply(&mut response);
    response
}

fn query(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    req.params()
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[handler]
async fn search_contacts(Data(fake): Data<&Arc<GoHighLevelFake>>, body: Vec<u8>) -> Response {
    let search = match serde_json::from_slice::<ContactSearch>(&body) {
        Ok(search) => search,
        Err(e) => {
            return ApiError::bad_request(format!("invalid search body: {e}")).into_response();
        }
    };
    match admit(fake, search.location_id.as_deref()) {
        Ok((loc, budget)) => answer(search.run(loc), budget),
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn search_opportunities(req: &Request, Data(fake): Data<&Arc<GoHighLevelFake>>) -> Response {
    let params = match query(req) {
        Ok(p) => p,
        Err(err) => return err.into_response(),
    };
    match admit(fake, param(&params, "location_id")) {
        Ok((loc, budget)) => answer(search::opportunities(loc, &params), budget),
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn list_calendars(req: &Request, Data(fake): Data<&Arc<GoHighLevelFake>>) -> Response {
    let params = match query(req) {
        Ok(p) => p,
        Err(err) => return err.into_response(),
    };
    match admit(fake, param(&params, "locationId")) {
        Ok((loc, budget)) => {
            let count = loc.count(Stream::Calendars);
            let data = loc.lock();
            let calendars: Vec<Value> = (0..count)
                .map(|i| records::generate(loc, &data, Stream::Calendars, i))
                .collect();
            answer(Ok(json!({ "calendars": calendars })), budget)
        }
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn list_events(req: &Request, Data(fake): Data<&Arc<GoHighLevelFake>>) -> Response {
    let params = match query(req) {
        Ok(p) => p,
        Err(err) => return err.into_response(),
    };
    match admit(fake, param(&params, "locationId")) {
        Ok((loc, budget)) => answer(search::events(loc, &params), budget),
        Err(err) => err.into_response(),
    }
}
