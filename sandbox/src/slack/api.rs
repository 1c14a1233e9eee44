//! The Slack fake's HTTP surface under `/slack`: Web API methods at `/api/{method}` (rate
//! limits, bearer tokens, Slack's `{"ok": …}` envelope), the `oauth.v2.access` token endpoint,
//! and file downloads at `/files-pri/…`.

use std::collections::HashMap;
use std::sync::Arc;

use poem::http::{Method, StatusCode};
use poem::web::{Data, Form, Path};
use poem::{Endpoint, EndpointExt, Request, Response, Route, get, handler};
use serde_json::{Value, json};

use super::methods::{self, Refusal};
use super::{PLATFORM, SlackFake};
use crate::faults::Fault;
use crate::oauth::{CLIENT_ID, TokenRejection, client_authenticated};

pub(crate) fn routes(fake: Arc<SlackFake>) -> impl Endpoint<Output = Response> {
    Route::new()
        .at("/api/:method", get(call).post(call))
        .at("/files-pri/:file/download/:name", get(download))
        .at("/files-pri/:file/:name", get(download))
        .data(fake)
}

/// How the Slack fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::RateLimited { .. } => json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"ok": false, "error": "ratelimited"}),
        ),
        Fault::ServerError { status } => json_response(
            Fault::status_code(status),
            &json!({"ok": false, "error": "internal_error"}),
        ),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string())
}

/// `{"ok": true, …body}`.
fn ok(body: Value) -> Response {
    let mut answer = json!({"ok": true});
    if let (Some(answer), Value::Object(fields)) = (answer.as_object_mut(), body) {
        answer.extend(fields);
    }
    json_response(StatusCode::OK, &answer)
}

/// `{"ok": false, "error": code, …extra}` — with a 200, as Slack answers errors.
fn refused(refusal: Refusal) -> Response {
    let mut body = json!({"ok": false, "error": refusal.code});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), refusal.extra) {
        body.extend(extra);
    }
    json_response(StatusCode::OK, &body)
}

fn bearer(req: &Request) -> Option<&str> {
    let header = req.header("authorization")?.trim();
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The bot token of an install without rotation, or a live token from the authority.
fn authenticate(fake: &SlackFake, req: &Request) -> Result<(), Refusal> {
    let token = bearer(req).ok_or_else(|| Refusal::new("not_authed"))?;
    if token == fake.bot_token() {
        return match fake.bot_token_revoked() {
            true => Err(Refusal::new("token_revoked")),
            false => Ok(()),
        };
    }
    fake.oauth()
        .check(PLATFORM, token)
        .map_err(|rejection| match rejection {
            TokenRejection::Expired => Refusal::new("token_expired"),
            TokenRejection::Revoked => Refusal::new("token_revoked"),
            TokenRejection::Unknown => Refusal::new("invalid_auth"),
        })
}

#[handler]
async fn call(
    Path(method): Path<String>,
    req: &Request,
    form: Option<Form<Vec<(String, String)>>>,
    Data(fake): Data<&Arc<SlackFake>>,
) -> Response {
    // GET arguments come in the query; POST arguments in the form (and the query).
    let mut params = req.params::<Vec<(String, String)>>().unwrap_or_default();
    if req.method() == Method::POST
        && let Some(Form(body)) = form
    {
        params.extend(body);
    }
    if let Err(retry_after) = fake.limits().admit(&method) {
        let mut response = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"ok": false, "error": "ratelimited"}),
        );
        response
            .headers_mut()
            .insert("retry-after", retry_after.into());
        return response;
    }
    if method == "oauth.v2.access" {
        return oauth_access(fake, req, &params);
    }
    if let Err(refusal) = authenticate(fake, req) {
        return refused(refusal);
    }
    if let Some(code) = fake.take_failure(&method) {
        let mut refusal = Refusal::new(&code);
        if code == "missing_scope" {
            refusal.extra = json!({"needed": "channels:history", "provided": "channels:read"});
        }
        return refused(refusal);
    }
    let non_marketplace = fake.limits().non_marketplace();
    let answer = match method.as_str() {
        "auth.test" => Ok(fake.identity()),
        "conversations.list" => methods::conversations_list(&fake.workspace(), &params),
        "users.list" => methods::users_list(&fake.workspace(), &params),
        "conversations.history" => {
            methods::conversations_history(&fake.workspace(), &params, non_marketplace)
        }
        "conversations.replies" => {
            methods::conversations_replies(&fake.workspace(), &params, non_marketplace)
        }
        "files.list" => methods::files_list(&fake.workspace(), &params),
        _ => Err(Refusal::new("unknown_method")),
    };
    match answer {
        Ok(body) => ok(body),
        Err(refusal) => refused(refusal),
    }
}

/// `oauth.v2.access`: the authorization-code and refresh-token grants, answered in Slack's
/// envelope (errors with a 200, like every other method).
fn oauth_access(fake: &SlackFake, req: &Request, params: &[(String, String)]) -> Response {
    let form: HashMap<String, String> = params.iter().cloned().collect();
    if !client_authenticated(req, &form) {
        let basic_or_form_id = form.get("client_id").map(String::as_str);
        let code = if basic_or_form_id.is_some_and(|id| id != CLIENT_ID) {
            "invalid_client_id"
        } else {
            "bad_client_secret"
        };
        return refused(Refusal::new(code));
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let issued = match (field("grant_type"), field("refresh_token"), field("code")) {
        ("refresh_token", refresh, _) if !refresh.is_empty() => fake
            .oauth()
            .exchange_refresh(PLATFORM, refresh)
            .map_err(|_| "invalid_refresh_token"),
        ("" | "authorization_code", _, code) if !code.is_empty() => fake
            .oauth()
            .exchange_code(
                PLATFORM,
                code,
                field("redirect_uri"),
                form.get("code_verifier").map(String::as_str),
            )
            .map_err(|_| "invalid_code"),
        _ => Err("invalid_grant_type"),
    };
    let tokens = match issued {
        Ok(tokens) => tokens,
        Err(code) => return refused(Refusal::new(code)),
    };
    let identity = fake.identity();
    ok(json!({
        "app_id": "A0SANDBOX01",
        "authed_user": {"id": identity["user_id"]},
        "scope": "channels:history,channels:read,groups:history,groups:read,im:history,im:read,mpim:history,mpim:read,users:read,files:read",
        "token_type": "bot",
        "access_token": tokens.access_token,
        "bot_user_id": identity["user_id"],
        "refresh_token": tokens.refresh_token,
        "expires_in": (tokens.expires_at - fake.oauth().now()).max(0),
        "team": {"id": identity["team_id"], "name": identity["team"]},
        "enterprise": null,
        "is_enterprise_install": false,
    }))
}

/// A file's contents. Without a valid token Slack serves its sign-in page instead — as
/// HTML with a 200, so a client that only checks the status saves a web page as the file.
#[handler]
async fn download(
    Path((file, _name)): Path<(String, String)>,
    req: &Request,
    Data(fake): Data<&Arc<SlackFake>>,
) -> Response {
    if authenticate(fake, req).is_err() {
        return Response::builder()
            .status(StatusCode::OK)
            .content_type("text/html; charset=utf-8")
            .body(SIGN_IN_PAGE);
    }
    let ws = fake.workspace();
    match ws.file_by_key(&file) {
        Some(found) if found.contents.is_some() => Response::builder()
            .status(StatusCode::OK)
            .content_type(found.mime_type())
            .body(found.contents.clone().unwrap_or_default()),
        _ => Response::builder()
            .status(StatusCode::NOT_FOUND)
            .content_type("text/plain")
            .body("File not found"),
    }
}

const SIGN_IN_PAGE: &str = "<!DOCTYPE html><html><head><title>Slack</title></head><body>\
<h1>Sign in to Sandbox</h1><form action=\"/signin\" method=\"post\"></form></body></html>";
