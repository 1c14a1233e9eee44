//! The list answers: `files.list`, `changes.list` and `drives.list`, before the field mask.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::GoogleDriveFake;
use super::changes::{Subject, TokenError};
use super::error::DriveError;
use super::records::timestamp;

pub(crate) type Params = HashMap<String, String>;

/// `pageSize` within `1..=max`, `default` when absent.
fn page_size(params: &Params, default: usize, max: usize) -> Result<usize, DriveError> {
    match params.get("pageSize") {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or(DriveError::invalid("pageSize")),
    }
}

pub(crate) fn flag(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v == "true")
}

/// Where a listing continues: the next index to look at, the page number, and whether the
/// empty page Drive sometimes serves before this one was already served.
#[derive(Debug, PartialEq, Eq)]
struct Position {
    collection: String,
    offset: u64,
    page: u64,
    empty_served: bool,
}

impl Position {
    fn start(collection: &str) -> Self {
        Self {
            collection: collection.to_owned(),
            offset: 0,
            page: 0,
            empty_served: false,
        }
    }

    /// The page after this one, continuing at `offset`.
    fn next(&self, offset: u64) -> Self {
        Self {
            collection: self.collection.clone(),
            offset,
            page: self.page + 1,
            empty_served: false,
        }
    }

    fn token(&self) -> String {
        let raw = format!(
            "{}.{}.{}.{}",
            self.collection, self.offset, self.page, self.empty_served as u8
        );
        format!("~!!~{}", URL_SAFE_NO_PAD.encode(raw))
    }

    fn parse(token: &str, collection: &str) -> Result<Self, DriveError> {
        let invalid = || DriveError::invalid("pageToken");
        let raw = token
            .strip_prefix("~!!~")
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(invalid)?;
        let parts: Vec<&str> = raw.split('.').collect();
        match parts.as_slice() {
            [c, offset, page, empty] if *c == collection => Ok(Self {
                collection: collection.to_owned(),
                offset: offset.parse().map_err(|_| invalid())?,
                page: page.parse().map_err(|_| invalid())?,
                empty_served: *empty == "1",
            }),
            _ => Err(invalid()),
        }
    }
}

/// Which files a `files.list` query selects.
struct Selection {
    all_drives: bool,
    drive: Option<String>,
    trashed: Option<bool>,
}

fn selection(params: &Params) -> Result<Selection, DriveError> {
    let all_drives = flag(params, "includeItemsFromAllDrives");
    let corpora = params.get("corpora").map_or("user", String::as_str);
    let drive = match corpora {
        "user" | "domain" => None,
        "allDrives" | "drive" if !all_drives => {
            return Err(DriveError::bad_request(
                "The includeItemsFromAllDrives parameter must be set to true when corpora is allDrives or drive.",
            ));
        }
        "allDrives" => None,
        "drive" => Some(
            params
                .get("driveId")
                .cloned()
                .ok_or(DriveError::required("driveId"))?,
        ),
        _ => return Err(DriveError::invalid("corpora")),
    };
    let trashed = match params.get("q").map(|q| q.replace(char::is_whitespace, "")) {
        None => None,
        Some(q) if q == "trashed=false" => Some(false),
        Some(q) if q == "trashed=true" => Some(true),
        Some(_) => return Err(DriveError::invalid("q")),
    };
    Ok(Selection {
        all_drives,
        drive,
        trashed,
    })
}

pub(crate) fn files_page(fake: &GoogleDriveFake, params: &Params) -> Result<Value, DriveError> {
    let size = page_size(params, 100, 1000)?;
    let selection = selection(params)?;
    let position = match params.get("pageToken") {
        Some(t) => Position::parse(t, "files")?,
        None => Position::start("files"),
    };
    let mut answer = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": []});
    // Drive may answer a page with no files before the end: every third page comes after one.
    if position.page % 3 == 2 && !position.empty_served {
        let next = Position {
            empty_served: true,
            ..position
        };
        answer["nextPageToken"] = next.token().into();
        return Ok(answer);
    }
    let state = fake.lock();
    let mut files = Vec::new();
    let mut index = position.offset;
    while index < state.files && files.len() < size {
        if let Some(item) = fake.item(&state, index) {
            let drive_id = item.drive.map(|d| fake.drive_id(d));
            let visible = (item.drive.is_none() || selection.all_drives)
                && selection
                    .drive
                    .as_ref()
                    .is_none_or(|d| Some(d) == drive_id.as_ref())
                && selection.trashed.is_none_or(|t| t == item.trashed);
            if visible {
                files.push(fake.resource(&item));
            }
        }
        index += 1;
    }
    answer["files"] = Value::Array(files);
    if index < state.files {
        answer["nextPageToken"] = position.next(index).token().into();
    }
    Ok(answer)
}

pub(crate) fn changes_page(fake: &GoogleDriveFake, params: &Params) -> Result<Value, DriveError> {
    let token = params
        .get("pageToken")
        .ok_or(DriveError::required("pageToken"))?;
    let size = page_size(params, 100, 1000)?;
    let all_drives = flag(params, "includeItemsFromAllDrives");
    let state = fake.lock();
    let entries = state.log.since(token).map_err(|e| match e {
        TokenError::Malformed => DriveError::invalid("pageToken"),
        TokenError::Expired => DriveError::page_token_expired(token),
    })?;
    let mut changes = Vec::new();
    let mut last_seq = None;
    let mut more = false;
    for entry in entries {
        let change = match entry.subject {
            Subject::File(index) => match fake.item(&state, index) {
                Some(item) if item.drive.is_some() && !all_drives => continue,
                Some(item) => json!({
                    "kind": "drive#change",
                    "changeType": "file",
                    "time": timestamp(entry.time),
                    "removed": false,
                    "fileId": item.id,
                    "file": fake.resource(&item),
                }),
                None => json!({
                    "kind": "drive#change",
                    "changeType": "file",
                    "time": timestamp(entry.time),
                    "removed": true,
                    "fileId": fake.file_id(index),
                }),
            },
            Subject::Drive(_) if !all_drives => continue,
            Subject::Drive(d) => json!({
                "kind": "drive#change",
                "changeType": "drive",
                "time": timestamp(entry.time),
                "removed": false,
                "driveId": fake.drive_id(d),
                "drive": fake.drive_resource(&state, d),
            }),
        };
        if changes.len() == size {
            more = true;
            break;
        }
        changes.push(change);
        last_seq = Some(entry.seq);
    }
    let mut answer = json!({"kind": "drive#changeList", "changes": changes});
    match (more, last_seq) {
        (true, Some(seq)) => answer["nextPageToken"] = (seq + 1).to_string().into(),
        _ => answer["newStartPageToken"] = state.log.start_token().to_string().into(),
    }
    Ok(answer)
}

pub(crate) fn drives_page(fake: &GoogleDriveFake, params: &Params) -> Result<Value, DriveError> {
    let size = page_size(params, 10, 100)?;
    let position = match params.get("pageToken") {
        Some(t) => Position::parse(t, "drives")?,
        None => Position::start("drives"),
    };
    let state = fake.lock();
    let end = (position.offset + size as u64).min(fake.drives);
    let drives: Vec<Value> = (position.offset..end)
        .map(|d| fake.drive_resource(&state, d))
        .collect();
    let mut answer = json!({"kind": "drive#driveList", "drives": drives});
    if end < fake.drives {
        answer["nextPageToken"] = position.next(end).token().into();
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_are_bound_to_their_collection() {
        let p = Position {
            collection: "files".into(),
            offset: 42,
            page: 3,
            empty_served: true,
        };
        assert_eq!(Position::parse(&p.token(), "files").unwrap(), p);
        assert!(Position::parse(&p.token(), "drives").is_err());
        assert!(Position::parse("garbage", "files").is_err());
        assert!(Position::parse("~!!~%%%", "files").is_err());
    }
}
