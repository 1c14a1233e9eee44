//! Google Drive in the conformance suite: OAuth tokens from the sandbox's authority, the
//! changes feed for syncs (deletions as tombstones), file contents downloaded or exported.

use crate::harness::{Changes, Fixture};
use connectors::googledrive::{DRIVE_FIELDS, FILE_FIELDS};
use connectors::oauth::TokenSet;
use sandbox::{
    Sandbox, SandboxConfig,
    googledrive::{self, PLATFORM},
    oauth::{CLIENT_ID, CLIENT_SECRET},
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub struct GoogleDrive;

/// What each Workspace type must export as (the connector's default, OOXML; Drawings as PDF).
pub fn export_format(mime: &str) -> Option<&'static str> {
    Some(match mime {
        googledrive::DOCUMENT => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        googledrive::SPREADSHEET => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
        googledrive::PRESENTATION => {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        }
        googledrive::DRAWING => "application/pdf",
        _ => return None,
    })
}

impl Fixture for GoogleDrive {
    const PLATFORM: &'static str = "googledrive";

    /// 60 files in pages of 25 (three pages, and the empty page Drive may serve between), and
    /// 30 shared drives, two pages.
    fn sandbox(seed: u64) -> SandboxConfig {
        SandboxConfig::new(seed)
            .with_records("googledrive.files", 60)
            .unwrap()
            .with_records("googledrive.drives", 30)
            .unwrap()
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        let issued = sandbox.oauth().issue(PLATFORM);
        TokenSet {
            access_token: issued.access_token,
            refresh_token: Some(issued.refresh_token),
            expires_at: Some(issued.expires_at),
            obtained_at: None,
        }
        .to_credentials()
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({
            "base_url": format!("{base_url}/drive/v3"),
            "page_size": 25,
            "oauth_app": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": format!("{base_url}/oauth/{PLATFORM}/authorize"),
                "token_url": format!("{base_url}/oauth/{PLATFORM}/token"),
            },
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    /// Files and shared drives as Drive answers them to the fields the connector asks for.
    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        let drive = sandbox.googledrive();
        match stream {
            "files" => drive
                .files()
                .iter()
                .map(|f| googledrive::select(f, FILE_FIELDS))
                .collect(),
            "drives" => drive
                .drives()
                .iter()
                .map(|d| googledrive::select(d, DRIVE_FIELDS))
                .collect(),
            other => panic!("no stream {other}"),
        }
    }

    /// Files by `id`; tombstones (changes) by `fileId`.
    fn id(record: &Value) -> String {
        record["id"]
            .as_str()
            .or_else(|| record["fileId"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// An edited binary file, a renamed document, a trashed and a deleted file, one in a
    /// shared drive edited, three new files: all in the sync. A renamed shared drive is not a
    /// file change and must not show up among the files.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let drive = sandbox.googledrive();
        let in_shared_drive = (0..drive.count())
            .find(|&i| drive.file(i).is_some_and(|f| f.get("driveId").is_some()))
            .expect("a file in a shared drive");
        drive.edit(1);
        drive.rename(2, "Renamed plan");
        drive.trash(3);
        drive.delete(5);
        drive.edit(in_shared_drive);
        let created = drive.create(3);
        drive.rename_drive(0, "Renamed team drive");
        let mut must: BTreeSet<String> = [1, 2, 3, 5, in_shared_drive]
            .into_iter()
            .map(|i| drive.file_id(i))
            .collect();
        must.extend(created);
        let mut changes = Changes::default();
        changes.must.insert("files".into(), must);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.oauth().revoke_all(PLATFORM);
    }

    fn file_contents(sandbox: &Sandbox, _stream: &str, record: &Value) -> Option<Vec<u8>> {
        let drive = sandbox.googledrive();
        let id = record["id"].as_str()?;
        let mime = record["mimeType"].as_str()?;
        if mime.starts_with("application/vnd.google-apps.") {
            drive.export_of(id, export_format(mime)?)
        } else {
            drive.media_of(id)
        }
    }
}

crate::conformance!(GoogleDrive);
