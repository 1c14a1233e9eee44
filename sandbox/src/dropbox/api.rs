//! The Dropbox fake's HTTP surface under `/2`: bearer auth against the sandbox's OAuth
//! authority, the RPC routes (`POST`, JSON body) and the content-download route (`POST`,
//! arguments in the `Dropbox-API-Arg` header, metadata back in `Dropbox-API-Result`).
//!
//! Dropbox serves RPC routes on `api.dropboxapi.com` and content routes on
//! `content.dropboxapi.com`; the fake serves both paths from one address.

use std::sync::Arc;

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::cursor::Cursor;
use super::error::DropboxError;
use super::tree::{ChangeQuery, Changes};
use super::{DropboxFake, MAX_LIST_LIMIT};
use crate::faults::Fault;

type Answer = Result<Response, DropboxError>;

/// The routes under `/2`, authenticated as Dropbox's API front end does.
pub(crate) fn routes(fake: Arc<DropboxFake>) -> impl Endpoint<Output = Response> {
    let guard = Arc::clone(&fake);
    Route::new()
        .at("/files/list_folder", post(list_folder))
        .at("/files/list_folder/continue", post(list_folder_continue))
        .at("/files/download", post(download))
        .at("/users/get_current_account", post(get_current_account))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard);
            async move {
                let path = req.original_uri().path().to_owned();
                if let Err(err) = authenticate(&fake, &req, route_of(&path)) {
                    return Ok(err.into_response());
                }
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(_) => DropboxError::not_found(&path).into_response(),
                })
            }
        })
}

/// How the Dropbox fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    DropboxError::from_fault(fault).into_response()
}

/// `files/list_folder` from `/2/files/list_folder`.
fn route_of(path: &str) -> &str {
    path.strip_prefix("/2/").unwrap_or(path)
}

/// A missing or malformed header is bad input (400); a token the authority refuses is 401.
fn authenticate(fake: &DropboxFake, req: &Request, route: &str) -> Result<(), DropboxError> {
    let Some(header) = req.header("authorization") else {
        return Err(DropboxError::bad_input(
            route,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        ));
    };
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            DropboxError::bad_input(
                route,
                "Invalid authorization value in HTTP header \"Authorization\". \
                 Expecting \"Bearer <oauth2-access-token>\".",
            )
        })?;
    fake.oauth()
        .check("dropbox", token)
        .map_err(DropboxError::rejected_token)
}

fn content_type(req: &Request) -> String {
    req.header("content-type").unwrap_or_default().to_owned()
}

/// An RPC route's argument: a JSON body sent as `application/json`.
fn rpc_arg<T: DeserializeOwned>(
    route: &str,
    req: &Request,
    body: &[u8],
) -> Result<T, DropboxError> {
    let ct = content_type(req);
    let media = ct.split(';').next().unwrap_or_default().trim();
    if media != "application/json" && ct != "text/plain; charset=dropbox-cors-hack" {
        return Err(DropboxError::bad_input(
            route,
            &format!(
                "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \
                 \"application/json\", \"application/json; charset=utf-8\", \
                 \"text/plain; charset=dropbox-cors-hack\"."
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        DropboxError::bad_input(
            route,
            &format!("request body: could not decode input as JSON ({e})"),
        )
    })
}

fn json_answer(body: &Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .body(body.to_string())
}

fn respond(answer: Answer) -> Response {
    answer.unwrap_or_else(DropboxError::into_response)
}

#[derive(Deserialize)]
struct ListFolderArg {
    path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    include_deleted: bool,
    #[serde(default)]
    limit: Option<u64>,
}

#[handler]
fn list_folder(req: &Request, body: Vec<u8>, Data(fake): Data<&Arc<DropboxFake>>) -> Response {
    respond(start_listing(req, &body, fake))
}

fn start_listing(req: &Request, body: &[u8], fake: &DropboxFake) -> Answer {
    const ROUTE: &str = "files/list_folder";
    let arg: ListFolderArg = rpc_arg(ROUTE, req, body)?;
    if arg.path == "/" {
        return Err(DropboxError::bad_input(
            ROUTE,
            "request body: path: Specify the root folder as an empty string rather than as \"/\".",
        ));
    }
    let limit = arg.limit.unwrap_or(MAX_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(DropboxError::bad_input(
            ROUTE,
            &format!("request body: limit: {limit} is not within the range [1, {MAX_LIST_LIMIT}]"),
        ));
    }
    fake.with_tree(|tree| {
        let scope = tree.folder_scope(&arg.path).map_err(DropboxError::path)?;
        let query = ChangeQuery {
            scope,
            recursive: arg.recursive,
            after: 0,
            origin: tree.seq(),
            include_deleted: arg.include_deleted,
            limit: limit as usize,
        };
        let changes = tree.changes(&query);
        Ok(page(fake.epoch(), query, changes))
    })
}

#[derive(Deserialize)]
struct ContinueArg {
    cursor: String,
}

#[handler]
fn list_folder_continue(
    req: &Request,
    body: Vec<u8>,
    Data(fake): Data<&Arc<DropboxFake>>,
) -> Response {
    respond(continue_listing(req, &body, fake))
}

fn continue_listing(req: &Request, body: &[u8], fake: &DropboxFake) -> Answer {
    const ROUTE: &str = "files/list_folder/continue";
    let arg: ContinueArg = rpc_arg(ROUTE, req, body)?;
    let cursor = Cursor::decode(&arg.cursor).ok_or_else(|| {
        DropboxError::bad_input(ROUTE, "request body: cursor: Invalid \"cursor\" parameter")
    })?;
    if cursor.epoch != fake.epoch() {
        return Err(DropboxError::reset());
    }
    let query = cursor.query();
    let changes = fake.with_tree(|tree| tree.changes(&query));
    Ok(page(cursor.epoch, query, changes))
}

/// A `ListFolderResult`, its cursor continuing after the page's last change.
fn page(epoch: u64, query: ChangeQuery, changes: Changes) -> Response {
    let cursor = Cursor::new(
        epoch,
        &ChangeQuery {
            after: changes.last,
            ..query
        },
    );
    json_answer(&json!({
        "entries": changes.entries,
        "cursor": cursor.encode(),
        "has_more": changes.has_more,
    }))
}

#[derive(Deserialize)]
struct DownloadArg {
    path: String,
}

#[handler]
fn download(req: &Request, Data(fake): Data<&Arc<DropboxFake>>) -> Response {
    respond(file_contents(req, fake))
}

fn file_contents(req: &Request, fake: &DropboxFake) -> Answer {
    const ROUTE: &str = "files/download";
    let ct = content_type(req);
    let media = ct.split(';').next().unwrap_or_default().trim();
    if !matches!(media, "" | "text/plain" | "application/octet-stream") {
        return Err(DropboxError::bad_input(
            ROUTE,
            &format!(
                "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \
                     \"application/octet-stream\", \"text/plain; charset=dropbox-cors-hack\"."
            ),
        ));
    }
    let Some(raw) = req.headers().get("dropbox-api-arg") else {
        return Err(DropboxError::bad_input(
            ROUTE,
            "Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".",
        ));
    };
    // HTTP headers carry ASCII: Dropbox requires every character from U+007F up to be
    // escaped as `\uXXXX` and refuses the header otherwise.
    let arg: DownloadArg = Some(raw.as_bytes())
        .filter(|bytes| bytes.iter().all(|b| *b < 0x7f))
        .and_then(|bytes| serde_json::from_slice(bytes).ok())
        .ok_or_else(|| {
            DropboxError::bad_input(
                ROUTE,
                "HTTP header \"Dropbox-API-Arg\": could not decode input as JSON",
            )
        })?;
    let (metadata, bytes) = fake.download(&arg.path).map_err(DropboxError::path)?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .content_type("application/octet-stream")
        .header("dropbox-api-result", ascii_json(&metadata))
        .body(bytes))
}

#[handler]
fn get_current_account(
    req: &Request,
    body: Vec<u8>,
    Data(fake): Data<&Arc<DropboxFake>>,
) -> Response {
    respond(current_account(req, &body, fake))
}

fn current_account(req: &Request, body: &[u8], fake: &DropboxFake) -> Answer {
    const ROUTE: &str = "users/get_current_account";
    // A route without arguments takes no body, or `null` sent as JSON.
    if !(body.is_empty() && content_type(req).is_empty()) {
        let arg: Value = rpc_arg(ROUTE, req, body)?;
        if !arg.is_null() {
            return Err(DropboxError::bad_input(
                ROUTE,
                "request body: expected null, got value",
            ));
        }
    }
    Ok(json_answer(fake.account()))
}

/// JSON with every character from U+007F up escaped as `\uXXXX` (UTF-16 units), as Dropbox
/// writes its `Dropbox-API-Result` header.
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ascii_json;
    use serde_json::{Value, json};

    #[test]
    fn result_headers_are_ascii_and_decode_back() {
        let value = json!({"path_display": "/Überblick 📈.txt"});
        let header = ascii_json(&value);
        assert!(header.is_ascii(), "{header}");
        assert!(header.contains("\\u00dc") && header.contains("\\ud83d\\udcc8"));
        assert_eq!(serde_json::from_str::<Value>(&header).unwrap(), value);
    }
}
