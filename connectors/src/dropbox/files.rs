//! The `files` stream: `list_folder` of the whole Dropbox, `list_folder/continue` for the
//! following pages and for syncs, and a full listing again when Dropbox resets the cursor.
//!
//! The page token and the stream cursor are both Dropbox cursors. A full backup lists from
//! the root and ends with the final cursor; a sync continues from the saved cursor and gets
//! only what changed, deletions as `.tag: deleted` entries (tombstones, without contents).
//! After a reset the listing starts over within the run, so a record can appear twice in one
//! snapshot: the later one is current.

use super::PLATFORM;
use super::client::{DropboxConnector, error};
use super::models::{EntryHead, ListFolderResult};
use crate::{ConnectorError, ErrorKind, FileRef, Page, PageRequest, Record};
use serde_json::{Value, json, value::RawValue};

pub(super) async fn read_page(
    c: &DropboxConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let since = match &request.since {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(other) => {
            return Err(error(
                ErrorKind::Config,
                format!("cursor {other} is not a Dropbox cursor"),
            ));
        }
    };
    let result = match request.page_token.as_deref().or(since) {
        None => list_folder(c, false).await?,
        Some(cursor) => match continue_listing(c, cursor).await {
            Err(f) if f.is_endpoint_error("reset") => {
                tracing::warn!(
                    platform = PLATFORM,
                    sync = since.is_some(),
                    "Dropbox reset the listing cursor; listing every file again"
                );
                // Whatever was deleted since the cursor (records of earlier pages of this run,
                // or of earlier snapshots) is learned only from the deleted entries a listing
                // with `include_deleted` reports.
                list_folder(c, true).await?
            }
            other => other?,
        },
    };
    if result.has_more && request.page_token.as_deref() == Some(result.cursor.as_str()) {
        return Err(error(
            ErrorKind::Decode,
            "the listing cursor did not advance",
        ));
    }
    let records = result
        .entries
        .into_iter()
        .map(record)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        records,
        next_page_token: result.has_more.then(|| result.cursor.clone()),
        cursor: Some(Value::String(result.cursor)),
    })
}

/// Lists the whole Dropbox, recursively, from the root (`""`: Dropbox refuses `"/"`).
async fn list_folder(
    c: &DropboxConnector,
    include_deleted: bool,
) -> Result<ListFolderResult, ConnectorError> {
    let arg = json!({
        "path": "",
        "recursive": true,
        "include_deleted": include_deleted,
        "limit": c.config.page_size,
    });
    Ok(c.rpc("files/list_folder", &arg).await?)
}

async fn continue_listing(
    c: &DropboxConnector,
    cursor: &str,
) -> Result<ListFolderResult, super::client::Failure> {
    c.rpc("files/list_folder/continue", &json!({ "cursor": cursor }))
        .await
}

/// One entry as a record. Its id is `path_lower`: Dropbox keys its changes by path (a deleted
/// entry has no other id, and a move is the old path deleted plus the new one added), and
/// paths are case-insensitive. Files that can be downloaded carry a [`FileRef`] pinned to
/// their revision, so the bytes fetched later are exactly the ones `content_hash` describes.
fn record(json: Box<RawValue>) -> Result<Record, ConnectorError> {
    let head: EntryHead = serde_json::from_str(json.get()).map_err(|e| {
        error(
            ErrorKind::Decode,
            format!("a listed entry is not metadata: {e}"),
        )
    })?;
    let id = head
        .path_lower
        .clone()
        .or_else(|| head.id.clone())
        .ok_or_else(|| error(ErrorKind::Decode, "a listed entry has neither path nor id"))?;
    let file = (head.tag == "file" && head.is_downloadable != Some(false)).then(|| FileRef {
        locator: match &head.rev {
            Some(rev) => format!("rev:{rev}"),
            None => head.id.clone().unwrap_or_else(|| id.clone()),
        },
        fingerprint: head.content_hash.clone(),
        size: head.size,
        name: head
            .path_display
            .or(head.name)
            .unwrap_or_else(|| id.clone()),
        mime_type: None,
    });
    if head.tag == "deleted" {
        return Ok(Record::tombstone(id, json));
    }
    let record = Record::new(id, json);
    Ok(match file {
        Some(file) => record.with_file(file),
        None => record,
    })
}

#[cfg(test)]
mod tests {
    use super::record;
    use serde_json::value::RawValue;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn entries_become_records_keyed_by_path() {
        let file = record(raw(
            r#"{".tag": "file", "name": "Ü.txt", "path_lower": "/docs/ü.txt", "path_display": "/Docs/Ü.txt", "id": "id:abc", "rev": "015f0000001", "size": 3, "is_downloadable": true, "content_hash": "aa"}"#,
        ))
        .unwrap();
        assert_eq!(file.id, "/docs/ü.txt");
        let file_ref = file.file.unwrap();
        assert_eq!(file_ref.locator, "rev:015f0000001");
        assert_eq!(file_ref.fingerprint.as_deref(), Some("aa"));
        assert_eq!(file_ref.name, "/Docs/Ü.txt");
        assert_eq!(file_ref.size, Some(3));

        let gone = record(raw(
            r#"{".tag": "deleted", "name": "old.txt", "path_lower": "/old.txt", "path_display": "/old.txt"}"#,
        ))
        .unwrap();
        assert_eq!(gone.id, "/old.txt");
        assert!(gone.file.is_none(), "a tombstone has no contents");
        assert!(gone.deleted, "a deleted entry is a tombstone");

        let folder = record(raw(
            r#"{".tag": "folder", "name": "Docs", "path_lower": "/docs", "path_display": "/Docs", "id": "id:f"}"#,
        ))
        .unwrap();
        assert!(folder.file.is_none());
        let export_only = record(raw(
            r#"{".tag": "file", "name": "a.paper", "path_lower": "/a.paper", "id": "id:p", "rev": "0123456789", "is_downloadable": false}"#,
        ))
        .unwrap();
        assert!(export_only.file.is_none());
        assert!(record(raw(r#"{".tag": "file"}"#)).is_err());
    }
}
