//! The Stripe fake's HTTP surface: authentication, routing and the list and retrieve handlers.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use poem::http::StatusCode;
use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::json;

use super::error::{ApiError, json_response};
use super::list::ListQuery;
use super::{Stream, StripeFake};
use crate::faults::Fault;

/// The routes under `/v1`, authenticated and answering every error in Stripe's shape.
pub(crate) fn routes(fake: Arc<StripeFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    Route::new()
        .at("/:stream", get(list))
        .at("/:stream/:id", get(retrieve))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            async move {
                if let Err(err) = authenticate(&fake, &req) {
                    return Ok(err.into_response());
                }
                let method = req.method().clone();
                let path = req.original_uri().path().to_owned();
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(err) => ApiError::from_routing(&err, &method, &path).into_response(),
                })
            }
        })
}

/// How the Stripe fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    ApiError::from_fault(fault).into_response()
}

/// A 404 in Stripe's shape for paths no platform serves.
pub(crate) fn unrecognized(
    err: &poem::Error,
    req_method: &poem::http::Method,
    path: &str,
) -> Response {
    ApiError::from_routing(err, req_method, path).into_response()
}

/// Stripe takes the secret key as a bearer token or as the basic-auth user name.
fn authenticate(fake: &StripeFake, req: &Request) -> Result<(), ApiError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let presented = if let Some(token) = strip_scheme(header, "Bearer") {
        token.to_owned()
    } else if let Some(encoded) = strip_scheme(header, "Basic") {
        let decoded = BASE64
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        decoded.split(':').next().unwrap_or_default().to_owned()
    } else if header.is_empty() {
        String::new()
    } else {
        // A bare key without a scheme is refused, as Stripe does.
        return Err(ApiError::invalid_api_key(header));
    };
    if presented.is_empty() {
        Err(ApiError::missing_api_key())
    } else if presented == fake.api_key() && !fake.key_revoked() {
        Ok(())
    } else {
        Err(ApiError::invalid_api_key(&presented))
    }
}

/// The credentials after an auth scheme name, matched case-insensitively as HTTP requires.
fn strip_scheme<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (name, rest) = header.split_once(' ').unwrap_or((header, ""));
    name.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

fn query_pairs(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    req.params()
        .map_err(|err| ApiError::invalid_param("query", format!("Invalid query string: {err}")))
}

#[handler]
async fn list(
    Path(stream): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<StripeFake>>,
) -> Response {
    let Some(stream) = Stream::from_name(&stream) else {
        return ApiError::unrecognized_url(req.method(), req.original_uri().path()).into_response();
    };
    let page = query_pairs(req)
        .and_then(|params| ListQuery::parse(fake, stream, &params))
        .and_then(|query| query.page(fake, stream));
    match page {
        Ok(page) => json_response(
            StatusCode::OK,
            &json!({
                "object": "list",
                "url": format!("/v1/{}", stream.name()),
                "has_more": page.has_more,
                "data": page.data,
            }),
        ),
        Err(err) => err.into_response(),
    }
}

#[handler]
async fn retrieve(
    Path((stream, id)): Path<(String, String)>,
    req: &Request,
    Data(fake): Data<&Arc<StripeFake>>,
) -> Response {
    let Some(stream) = Stream::from_name(&stream) else {
        return ApiError::unrecognized_url(req.method(), req.original_uri().path()).into_response();
    };
    // Events older than 30 days are gone, as in Stripe.
    match fake
        .decode(stream, &id)
        .filter(|&index| fake.listed(stream, index))
    {
        Some(index) => json_response(StatusCode::OK, &fake.generate(stream, index)),
        None => {
            ApiError::resource_missing(stream, &id, "id", StatusCode::NOT_FOUND).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_schemes_are_case_insensitive() {
        assert_eq!(strip_scheme("Bearer sk_x", "Bearer"), Some("sk_x"));
        assert_eq!(strip_scheme("bearer  sk_x ", "Bearer"), Some("sk_x"));
        assert_eq!(strip_scheme("Basic abc", "Bearer"), None);
        assert_eq!(strip_scheme("", "Bearer"), None);
    }
}
