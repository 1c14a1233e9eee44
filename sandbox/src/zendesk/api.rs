//! The Zendesk fake's HTTP surface under `/api/v2`: authentication, routing and handlers.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};

use super::ZendeskFake;
use super::error::{ApiError, json_response};
use super::list::Paging;
use super::state::Kind;
use crate::faults::Fault;

/// The routes under `/api/v2`, authenticated and answering every error in Zendesk's shape.
pub(crate) fn routes(fake: Arc<ZendeskFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    Route::new()
        .at("/:resource", get(list))
        .at("/tickets/:id/comments.json", get(comments))
        .at("/incremental/:resource/cursor.json", get(export))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            async move {
                if !authenticated(&fake, &req) {
                    return Ok(ApiError::unauthenticated().into_response());
                }
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(_) => ApiError::not_found().into_response(),
                })
            }
        })
}

/// How the Zendesk fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    ApiError::from_fault(fault).into_response()
}

/// Basic `{email}/token:{api_token}` (API token) or `Bearer {access_token}` (OAuth).
fn authenticated(fake: &ZendeskFake, req: &Request) -> bool {
    if fake.token_revoked() {
        return false;
    }
    let header = req.header("authorization").unwrap_or_default().trim();
    let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return credentials == fake.oauth_token();
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Some(decoded) = BASE64
        .decode(credentials)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return false;
    };
    let expected_user = format!("{}/token", fake.email());
    match decoded.split_once(':') {
        Some((user, token)) => {
            user.eq_ignore_ascii_case(&expected_user) && token == fake.api_token()
        }
        None => false,
    }
}

fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    req.params()
        .map_err(|_| ApiError::invalid("InvalidValue", "the query string is malformed"))
}

/// `http://host` as the client addressed us, for the URLs in answers.
fn base(req: &Request) -> String {
    format!("http://{}", req.header("host").unwrap_or("localhost"))
}

fn ok(body: &serde_json::Value) -> Response {
    json_response(StatusCode::OK, body)
}

#[handler]
async fn list(
    Path(resource): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<ZendeskFake>>,
) -> Response {
    let Some(kind) = resource.strip_suffix(".json").and_then(Kind::from_name) else {
        return ApiError::not_found().into_response();
    };
    let paging = match query_pairs(req).and_then(|params| Paging::parse(&params)) {
        Ok(paging) => paging,
        Err(err) => return err.into_response(),
    };
    let metas = fake.lock().stream(kind).metas();
    let path = format!("{}/api/v2/{}.json", base(req), kind.name());
    let body = paging.render(kind.name(), &path, metas.len() as u64, |index| {
        let meta = *metas.get(usize::try_from(index).ok()?)?;
        Some(fake.generate(kind, index, meta))
    });
    ok(&body)
}

#[handler]
async fn comments(
    Path(id): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<ZendeskFake>>,
) -> Response {
    let Some(index) = id
        .parse::<u64>()
        .ok()
        .and_then(|id| Kind::Tickets.index(id))
        .filter(|&index| index < fake.count("tickets"))
    else {
        return ApiError::not_found().into_response();
    };
    let paging = match query_pairs(req).and_then(|params| Paging::parse(&params)) {
        Ok(paging) => paging,
        Err(err) => return err.into_response(),
    };
    let comments = fake.comments(index);
    let path = format!("{}/api/v2/tickets/{id}/comments.json", base(req));
    let body = paging.render("comments", &path, comments.len() as u64, |i| {
        comments.get(usize::try_from(i).ok()?).cloned()
    });
    ok(&body)
}

#[handler]
async fn export(
    Path(resource): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<ZendeskFake>>,
) -> Response {
    let kind = match Kind::from_name(&resource) {
        Some(kind @ (Kind::Tickets | Kind::Users)) => kind,
        _ => return ApiError::not_found().into_response(),
    };
    if let Err(err) = fake.take_export_budget() {
        return err.into_response();
    }
    match query_pairs(req).and_then(|params| fake.export(kind, &params, &base(req))) {
        Ok(body) => ok(&body),
        Err(err) => err.into_response(),
    }
}
