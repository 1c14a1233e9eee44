//! The Keap fake's HTTP surface under `/crm/rest`: throttling, bearer-token auth against the
//! sandbox's OAuth authority, and the list handler for both API versions.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};

use super::error::KeapError;
use super::stream::{ApiVersion, Stream};
use super::{KeapFake, list as pages};
use crate::faults::Fault;

/// The routes under `/crm/rest`, throttled and authenticated as Keap's gateway does.
pub(crate) fn routes(fake: Arc<KeapFake>) -> impl Endpoint<Output = Response> {
    let guard_fake = Arc::clone(&fake);
    Route::new()
        .at("/:version/:stream", get(list))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard_fake);
            async move {
                // The gateway throttles before it looks at the token.
                if let Err(throttle) = fake.limits().admit() {
                    return Ok(KeapError::throttled(throttle).into_response());
                }
                if let Err(err) = authenticate(&fake, &req) {
                    return Ok(err.into_response());
                }
                let path = req.original_uri().path().to_owned();
                let quota = fake.limits().quota_available();
                let mut response = match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(_) => KeapError::not_found(ApiVersion::V2, &path).into_response(),
                };
                response
                    .headers_mut()
                    .insert("x-keap-product-quota-available", quota.into());
                Ok::<_, poem::Error>(response)
            }
        })
}

/// How the Keap fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    KeapError::from_fault(fault).into_response()
}

/// Only access tokens the authority issued for `keap`, unexpired and unrevoked, pass.
fn authenticate(fake: &KeapFake, req: &Request) -> Result<(), KeapError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(KeapError::missing_token());
    }
    fake.oauth()
        .check("keap", token)
        .map_err(KeapError::rejected_token)
}

fn version_of(segment: &str) -> Option<ApiVersion> {
    match segment {
        "v1" => Some(ApiVersion::V1),
        "v2" => Some(ApiVersion::V2),
        _ => None,
    }
}

#[handler]
async fn list(
    Path((version, stream)): Path<(String, String)>,
    req: &Request,
    Data(fake): Data<&Arc<KeapFake>>,
) -> Response {
    let path = req.original_uri().path();
    let requested = version_of(&version).unwrap_or(ApiVersion::V2);
    let Some(stream) = Stream::from_name(stream.trim_end_matches('/'))
        .filter(|s| version_of(&version) == Some(s.version()))
    else {
        return KeapError::not_found(requested, path).into_response();
    };
    let params = match req.params::<Vec<(String, String)>>() {
        Ok(params) => params,
        Err(err) => {
            return KeapError::invalid_argument(requested, &format!("Invalid query: {err}"))
                .into_response();
        }
    };
    let page = match stream.version() {
        ApiVersion::V2 => pages::v2_page(fake, stream, &params),
        ApiVersion::V1 => {
            let host = req.header("host").unwrap_or("localhost");
            pages::v1_page(fake, stream, &params, &format!("http://{host}"))
        }
    };
    match page {
        Ok(body) => Response::builder()
            .content_type("application/json")
            .body(body.to_string()),
        Err(err) => err.into_response(),
    }
}
