//! HTTP endpoints of the sandbox's authorization server.

use super::{CLIENT_ID, CLIENT_SECRET, GrantError, OAuthAuthority};
use poem::{
    Request, Response, Route, handler,
    http::StatusCode,
    web::{Data, Form, Path, Query},
};
use serde::Deserialize;
use serde_json::json;
use std::{collections::HashMap, sync::Arc};

pub(crate) fn routes(authority: Arc<OAuthAuthority>) -> impl poem::Endpoint {
    use poem::EndpointExt;
    Route::new()
        .at("/:platform/authorize", poem::get(authorize))
        .at("/:platform/token", poem::post(token))
        .at("/:platform/revoke", poem::post(revoke))
        .data(authority)
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

fn oauth_error(error: GrantError) -> Response {
    let (status, code, description) = match error {
        GrantError::InvalidClient => (
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ),
        GrantError::InvalidGrant(d) => (StatusCode::BAD_REQUEST, "invalid_grant", d),
        GrantError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, "invalid_request", d),
        GrantError::UnsupportedGrantType => (
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type not supported",
        ),
    };
    json_response(
        status,
        json!({"error": code, "error_description": description}),
    )
}

/// Approves at once (there is no user to ask) and redirects back with a code and the state.
#[handler]
fn authorize(
    Path(platform): Path<String>,
    Query(q): Query<AuthorizeQuery>,
    authority: Data<&Arc<OAuthAuthority>>,
) -> Response {
    if q.client_id.as_deref() != Some(CLIENT_ID) {
        return oauth_error(GrantError::InvalidClient);
    }
    if q.response_type.as_deref() != Some("code") {
        return oauth_error(GrantError::InvalidRequest("response_type must be code"));
    }
    let Some(redirect_uri) = q
        .redirect_uri
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    else {
        return oauth_error(GrantError::InvalidRequest(
            "redirect_uri missing or not http(s)",
        ));
    };
    if q.code_challenge.is_some() && q.code_challenge_method.as_deref() != Some("S256") {
        return oauth_error(GrantError::InvalidRequest(
            "only S256 code challenges are supported",
        ));
    }
    let code = authority.authorize(&platform, &redirect_uri, q.code_challenge);
    let mut location = reqwest_like_append(&redirect_uri, "code", &code);
    if let Some(state) = q.state {
        location = reqwest_like_append(&location, "state", &state);
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header("location", location)
        .finish()
}

/// Appends one query parameter, percent-encoding the value.
fn reqwest_like_append(url: &str, key: &str, value: &str) -> String {
    let encoded: String = value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{key}={encoded}")
}

/// Client credentials from HTTP Basic or from the form (`client_secret_post`).
pub(crate) fn client_authenticated(req: &Request, form: &HashMap<String, String>) -> bool {
    use base64::Engine;
    if let Some(basic) = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .unwrap_or_default();
        return String::from_utf8_lossy(&decoded) == format!("{CLIENT_ID}:{CLIENT_SECRET}");
    }
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

#[handler]
fn token(
    req: &Request,
    Path(platform): Path<String>,
    Form(form): Form<HashMap<String, String>>,
    authority: Data<&Arc<OAuthAuthority>>,
) -> Response {
    if !client_authenticated(req, &form) {
        return oauth_error(GrantError::InvalidClient);
    }
    let issued = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (form.get("code"), form.get("redirect_uri"))
            else {
                return oauth_error(GrantError::InvalidRequest(
                    "code and redirect_uri are required",
                ));
            };
            authority.exchange_code(
                &platform,
                code,
                redirect_uri,
                form.get("code_verifier").map(String::as_str),
            )
        }
        Some("refresh_token") => {
            let Some(refresh) = form.get("refresh_token") else {
                return oauth_error(GrantError::InvalidRequest("refresh_token is required"));
            };
            authority.exchange_refresh(&platform, refresh)
        }
        _ => Err(GrantError::UnsupportedGrantType),
    };
    match issued {
        Ok(t) => json_response(
            StatusCode::OK,
            json!({
                "access_token": t.access_token,
                "token_type": "bearer",
                "expires_in": (t.expires_at - authority.now()).max(0),
                "refresh_token": t.refresh_token,
            }),
        ),
        Err(e) => oauth_error(e),
    }
}

#[handler]
fn revoke(
    req: &Request,
    Path(platform): Path<String>,
    Form(form): Form<HashMap<String, String>>,
    authority: Data<&Arc<OAuthAuthority>>,
) -> Response {
    if !client_authenticated(req, &form) {
        return oauth_error(GrantError::InvalidClient);
    }
    authority.revoke_all(&platform);
    Response::builder().status(StatusCode::OK).finish()
}
