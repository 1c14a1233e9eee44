//! The `files` stream: a full listing that starts from a changes token fetched first, and
//! syncs through the changes feed, falling back to a full listing when Drive refuses the token.
//!
//! Page tokens handed to the pipeline say which of the two a run is in: `files:<token>`
//! continues a listing, `changes:<token>` continues the changes feed. The stream cursor is a
//! changes start page token.

use super::client::{GoogleDriveConnector, error, page_token_rejected};
use super::export::file_ref;
use super::models::{ChangeHead, ChangeList, FileHead, FileList, StartPageToken};
use crate::{ConnectorError, ErrorKind, Page, PageRequest, Record};
use serde_json::{Value, value::RawValue};

/// What a restore needs of every file, and the fields the file reference is built from.
pub const FILE_FIELDS: &str = "kind,id,name,mimeType,description,parents,driveId,trashed,starred,\
createdTime,modifiedTime,version,size,md5Checksum,sha256Checksum,headRevisionId,originalFilename,\
fileExtension,shortcutDetails,owners(displayName,emailAddress),properties,appProperties,\
webViewLink,resourceKey";

const FILES_PREFIX: &str = "files:";
const CHANGES_PREFIX: &str = "changes:";

impl GoogleDriveConnector {
    pub(crate) async fn read_files(&self, request: &PageRequest) -> Result<Page, ConnectorError> {
        let cursor = match &request.cursor {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        match request.page_token.as_deref() {
            Some(t) if t.starts_with(FILES_PREFIX) => {
                let cursor = cursor.ok_or_else(|| {
                    error(
                        ErrorKind::Config,
                        "a files listing resumed without its cursor",
                    )
                })?;
                let token = &t[FILES_PREFIX.len()..];
                match self.list_files(Some(token), &cursor).await {
                    // Drive: a rejected `nextPageToken` is discarded and the listing restarted.
                    Err(e) if page_token_rejected(&e) => {
                        tracing::warn!(error = %e, "Drive refused a listing page token; listing again from the start");
                        self.list_files(None, &cursor).await
                    }
                    other => other,
                }
            }
            Some(t) if t.starts_with(CHANGES_PREFIX) => {
                self.read_changes(&t[CHANGES_PREFIX.len()..], cursor).await
            }
            Some(t) => Err(error(
                ErrorKind::Config,
                format!("page token `{t}` is not a Drive page token"),
            )),
            None => match &request.since {
                Some(Value::String(since)) => self.read_changes(since, Some(since.clone())).await,
                Some(other) => Err(error(
                    ErrorKind::Config,
                    format!("cursor {other} is not a Drive changes token"),
                )),
                None => self.start_listing().await,
            },
        }
    }

    /// A full listing: the changes token first, so that nothing changed while the listing
    /// runs is missed by the next sync (a change may be seen twice, never lost).
    async fn start_listing(&self) -> Result<Page, ConnectorError> {
        let url = self.url(&["changes", "startPageToken"])?;
        let start: StartPageToken = self
            .get_json(&url, &[("supportsAllDrives", "true".into())])
            .await?;
        self.list_files(None, &start.start_page_token).await
    }

    async fn list_files(&self, token: Option<&str>, cursor: &str) -> Result<Page, ConnectorError> {
        let url = self.url(&["files"])?;
        let mut query = vec![
            ("corpora", "allDrives".to_owned()),
            ("includeItemsFromAllDrives", "true".into()),
            ("supportsAllDrives", "true".into()),
            ("q", "trashed = false".into()),
            ("pageSize", self.config.page_size.to_string()),
            (
                "fields",
                format!("nextPageToken,incompleteSearch,files({FILE_FIELDS})"),
            ),
        ];
        if let Some(token) = token {
            query.push(("pageToken", token.to_owned()));
        }
        let list: FileList = self.get_json(&url, &query).await?;
        if list.incomplete_search {
            // Drive could not search every shared drive: a partial listing is not a backup.
            return Err(error(
                ErrorKind::Unavailable,
                "Drive reported an incomplete listing (not every shared drive answered); retrying later",
            ));
        }
        let mut records = Vec::with_capacity(list.files.len());
        for raw in list.files {
            let head = parse_file(&raw)?;
            if !head.trashed {
                records.push(self.file_record(head, raw));
            }
        }
        // Only a missing token ends a listing: Drive may answer short or empty pages before.
        let next = list.next_page_token.filter(|t| !t.is_empty());
        if next.is_some() && next.as_deref() == token {
            return Err(error(ErrorKind::Decode, "the page token did not advance"));
        }
        Ok(Page {
            records,
            next_page_token: next.map(|t| format!("{FILES_PREFIX}{t}")),
            cursor: Some(Value::String(cursor.to_owned())),
        })
    }

    /// One page of the changes feed from `token`; `cursor` is the run's cursor so far.
    async fn read_changes(
        &self,
        token: &str,
        cursor: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let url = self.url(&["changes"])?;
        let query = [
            ("pageToken", token.to_owned()),
            ("pageSize", self.config.page_size.to_string()),
            ("includeItemsFromAllDrives", "true".into()),
            ("supportsAllDrives", "true".into()),
            ("includeRemoved", "true".into()),
            ("spaces", "drive".into()),
            (
                "fields",
                format!(
                    "nextPageToken,newStartPageToken,changes(kind,changeType,time,removed,fileId,driveId,file({FILE_FIELDS}))"
                ),
            ),
        ];
        let list: ChangeList = match self.get_json(&url, &query).await {
            Ok(list) => list,
            Err(e) if page_token_rejected(&e) => {
                // An expired or invalid token: the changes since it are unknowable, so the
                // stream is listed whole again, in this run.
                tracing::warn!(error = %e, "Drive refused the changes token; listing every file again");
                return self.start_listing().await;
            }
            Err(e) => return Err(e),
        };
        let mut records = Vec::with_capacity(list.changes.len());
        for raw in list.changes {
            if let Some(record) = self.change_record(raw)? {
                records.push(record);
            }
        }
        let (next_page_token, cursor) = match (list.next_page_token, list.new_start_page_token) {
            (Some(next), _) if !next.is_empty() => {
                if next == token {
                    return Err(error(
                        ErrorKind::Decode,
                        "the changes token did not advance",
                    ));
                }
                (Some(format!("{CHANGES_PREFIX}{next}")), cursor)
            }
            (_, Some(new_start)) => (None, Some(new_start)),
            _ => {
                return Err(error(
                    ErrorKind::Decode,
                    "a changes page with neither nextPageToken nor newStartPageToken",
                ));
            }
        };
        Ok(Page {
            records,
            next_page_token,
            cursor: cursor.map(Value::String),
        })
    }

    /// A change as a record: the file as it is now, or a tombstone (the change itself) when
    /// the file was deleted, trashed or is no longer shared with the user. Changes to shared
    /// drives themselves belong to the `drives` stream and are skipped.
    fn change_record(&self, raw: Box<RawValue>) -> Result<Option<Record>, ConnectorError> {
        let change: ChangeHead = serde_json::from_str(raw.get())
            .map_err(|e| error(ErrorKind::Decode, format!("a change Drive sent: {e}")))?;
        if change.change_type.as_deref() == Some("drive") {
            return Ok(None);
        }
        let file = change.file.as_deref().map(parse_file).transpose()?;
        let id = change
            .file_id
            .clone()
            .or_else(|| file.as_ref().map(|f| f.id.clone()))
            .ok_or_else(|| error(ErrorKind::Decode, "a file change without a file id"))?;
        Ok(Some(match (change.removed, file, change.file) {
            (false, Some(head), Some(file)) if !head.trashed => self.file_record(head, file),
            _ => Record::tombstone(id, raw),
        }))
    }

    fn file_record(&self, head: FileHead, raw: Box<RawValue>) -> Record {
        let file = file_ref(&head, self.config.export_format);
        let record = Record::new(head.id, raw);
        match file {
            Some(file) => record.with_file(file),
            None => record,
        }
    }
}

fn parse_file(raw: &RawValue) -> Result<FileHead, ConnectorError> {
    serde_json::from_str(raw.get())
        .map_err(|e| error(ErrorKind::Decode, format!("a file without an id: {e}")))
}
