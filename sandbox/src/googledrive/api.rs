//! The Drive fake's HTTP surface under `/drive/v3`: bearer-token auth against the sandbox's
//! OAuth authority, the quota and refusals, partial responses, and the handlers.

use std::sync::Arc;

use poem::web::{Data, Path};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::Value;

use super::error::DriveError;
use super::fields::FieldMask;
use super::list::{self, Params, flag};
use super::{GoogleDriveFake, PLATFORM};
use crate::faults::Fault;

/// What each method answers without `fields` (Drive v3's defaults).
const DEFAULT_FILE_LIST: &str = "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)";
const DEFAULT_FILE: &str = "kind,id,name,mimeType";
const DEFAULT_CHANGE_LIST: &str = "kind,nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,driveId,file(kind,id,name,mimeType),drive(kind,id,name))";
const DEFAULT_DRIVE_LIST: &str = "kind,nextPageToken,drives(kind,id,name)";

/// The routes under `/drive/v3`.
pub(crate) fn routes(fake: Arc<GoogleDriveFake>) -> impl Endpoint<Output = Response> {
    let guard = Arc::clone(&fake);
    Route::new()
        .at("/files", get(list_files))
        .at("/files/:id", get(get_file))
        .at("/files/:id/export", get(export_file))
        .at("/changes", get(list_changes))
        .at("/changes/startPageToken", get(start_page_token))
        .at("/drives", get(list_drives))
        .data(fake)
        .around(move |ep, req| {
            let fake = Arc::clone(&guard);
            async move {
                if let Err(err) = authenticate(&fake, &req).and_then(|()| fake.admit()) {
                    return Ok(err.into_response());
                }
                let path = req.original_uri().path().to_owned();
                Ok::<_, poem::Error>(match ep.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(_) => DriveError::not_found(format!("Not Found: {path}")).into_response(),
                })
            }
        })
}

/// How the fake answers an injected fault.
pub(crate) fn fault_response(fault: Fault) -> Response {
    DriveError::from_fault(fault).into_response()
}

fn authenticate(fake: &GoogleDriveFake, req: &Request) -> Result<(), DriveError> {
    let header = req.header("authorization").unwrap_or_default().trim();
    let (scheme, token) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(DriveError::login_required());
    }
    fake.oauth()
        .check(PLATFORM, token.trim())
        .map_err(|_| DriveError::invalid_credentials())
}

fn params(req: &Request) -> Result<Params, DriveError> {
    req.params::<Vec<(String, String)>>()
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|_| DriveError::bad_request("Invalid query string"))
}

/// The answer projected through `fields` (or the method's default).
fn masked(answer: Result<Value, DriveError>, params: &Params, default: &str) -> Response {
    let mask = match params.get("fields") {
        Some(spec) => FieldMask::parse(spec),
        None => FieldMask::parse(default),
    };
    let response = answer.and_then(|value| {
        mask.map(|mask| mask.apply(&value))
            .ok_or(DriveError::invalid("fields"))
    });
    match response {
        Ok(value) => json(&value),
        Err(err) => err.into_response(),
    }
}

fn json(value: &Value) -> Response {
    Response::builder()
        .content_type("application/json; charset=UTF-8")
        .body(value.to_string())
}

fn bytes(content_type: &str, body: Vec<u8>) -> Response {
    Response::builder().content_type(content_type).body(body)
}

/// A list answer: the page `page` builds from the parameters, through the field mask.
fn listing(
    req: &Request,
    fake: &GoogleDriveFake,
    page: fn(&GoogleDriveFake, &Params) -> Result<Value, DriveError>,
    default_fields: &str,
) -> Response {
    match params(req) {
        Ok(p) => masked(page(fake, &p), &p, default_fields),
        Err(err) => err.into_response(),
    }
}

#[handler]
fn list_files(req: &Request, Data(fake): Data<&Arc<GoogleDriveFake>>) -> Response {
    listing(req, fake, list::files_page, DEFAULT_FILE_LIST)
}

#[handler]
fn list_changes(req: &Request, Data(fake): Data<&Arc<GoogleDriveFake>>) -> Response {
    listing(req, fake, list::changes_page, DEFAULT_CHANGE_LIST)
}

#[handler]
fn list_drives(req: &Request, Data(fake): Data<&Arc<GoogleDriveFake>>) -> Response {
    listing(req, fake, list::drives_page, DEFAULT_DRIVE_LIST)
}

#[handler]
fn start_page_token(Data(fake): Data<&Arc<GoogleDriveFake>>) -> Response {
    let token = fake.lock().log.start_token();
    json(&serde_json::json!({"kind": "drive#startPageToken", "startPageToken": token.to_string()}))
}

/// The file `id` names, if this request may see it: shared drive items need
/// `supportsAllDrives=true`, deleted ones are gone.
fn visible(
    fake: &GoogleDriveFake,
    id: &str,
    params: &Params,
) -> Result<super::records::Item, DriveError> {
    let state = fake.lock();
    fake.index_of(id)
        .and_then(|index| fake.item(&state, index))
        .filter(|item| item.drive.is_none() || flag(params, "supportsAllDrives"))
        .ok_or_else(|| DriveError::file_not_found(id))
}

/// The request's parameters and the file `id` names, or why they are refused.
fn file_request(
    fake: &GoogleDriveFake,
    id: &str,
    req: &Request,
) -> Result<(Params, super::records::Item), DriveError> {
    let params = params(req)?;
    let item = visible(fake, id, &params)?;
    Ok((params, item))
}

#[handler]
fn get_file(
    Path(id): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<GoogleDriveFake>>,
) -> Response {
    let (params, item) = match file_request(fake, &id, req) {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    if params.get("alt").is_some_and(|alt| alt == "media") {
        return match item.size {
            Some(_) => bytes(item.mime, fake.media(&item)),
            None => DriveError::not_downloadable().into_response(),
        };
    }
    masked(Ok(fake.resource(&item)), &params, DEFAULT_FILE)
}

#[handler]
fn export_file(
    Path(id): Path<String>,
    req: &Request,
    Data(fake): Data<&Arc<GoogleDriveFake>>,
) -> Response {
    let (params, item) = match file_request(fake, &id, req) {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    let Some(format) = params.get("mimeType") else {
        return DriveError::required("mimeType").into_response();
    };
    let formats = item.kind.export_formats();
    if formats.is_empty() {
        return DriveError::not_exportable().into_response();
    }
    if !formats.contains(&format.as_str()) {
        return DriveError::bad_request("The requested conversion is not supported.")
            .into_response();
    }
    if fake.lock().too_large.contains(&item.index) {
        return DriveError::export_too_large().into_response();
    }
    bytes(format, fake.exported(&item, format))
}
