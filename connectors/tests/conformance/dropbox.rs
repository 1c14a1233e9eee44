//! Dropbox in the conformance suite: OAuth tokens from the sandbox's authority, `list_folder`
//! cursors, tombstones for deletions and moves, and file contents pinned to revisions.

use crate::harness::{Changes, Fixture, oauth_credentials, sandbox_oauth_app};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub struct Dropbox;

fn path_lower(entry: &Value) -> String {
    entry["path_lower"].as_str().unwrap_or_default().to_owned()
}

impl Fixture for Dropbox {
    const PLATFORM: &'static str = "dropbox";

    /// 60 files in 10 folders: seven pages of 10 entries.
    fn sandbox(seed: u64) -> SandboxConfig {
        SandboxConfig::new(seed)
            .with_records("dropbox.files", 60)
            .unwrap()
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        oauth_credentials(sandbox, Self::PLATFORM)
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        let mut config = json!({
            "base_url": base_url,
            "content_url": base_url,
            "page_size": 10,
            "oauth_app": sandbox_oauth_app(base_url, Self::PLATFORM),
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        match stream {
            "files" => sandbox.dropbox().entries(),
            "account" => vec![sandbox.dropbox().account().clone()],
            other => panic!("no Dropbox stream {other}"),
        }
    }

    /// Entries are keyed by `path_lower` (tombstones have no other id); the account by its id.
    fn id(record: &Value) -> String {
        record["path_lower"]
            .as_str()
            .or(record["account_id"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// New files (one in new folders), an edit, a deletion, a move and a change of case: the
    /// sync returns each changed path once, the deleted and moved-away ones as tombstones.
    fn mutate(sandbox: &Sandbox) -> Changes {
        let dropbox = sandbox.dropbox();
        let files: Vec<Value> = dropbox
            .entries()
            .into_iter()
            .filter(|e| e[".tag"] == "file")
            .collect();
        let mut must = BTreeSet::new();
        dropbox.write_file("/Reports/New Plan.txt");
        must.insert("/reports/new plan.txt".to_owned());
        dropbox.write_file("/Clients/Ünïcode GmbH/brief.md");
        must.extend(
            [
                "/clients",
                "/clients/ünïcode gmbh",
                "/clients/ünïcode gmbh/brief.md",
            ]
            .map(String::from),
        );
        let edited = files[0]["path_display"].as_str().unwrap();
        dropbox.write_file(edited);
        must.insert(path_lower(&files[0]));
        dropbox.delete(files[1]["path_display"].as_str().unwrap());
        must.insert(path_lower(&files[1]));
        dropbox.rename(
            files[2]["path_display"].as_str().unwrap(),
            "/Archive/moved.txt",
        );
        must.extend([path_lower(&files[2]), "/archive/moved.txt".to_owned()]);
        let recased = files[3]["path_display"].as_str().unwrap();
        dropbox.rename(recased, &recased.to_uppercase());
        must.insert(path_lower(&files[3]));
        let mut changes = Changes::default();
        changes.must.insert("files".into(), must);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.oauth().revoke_all("dropbox");
    }

    fn file_contents(sandbox: &Sandbox, stream: &str, record: &Value) -> Option<Vec<u8>> {
        if stream != "files" || record[".tag"] != "file" {
            return None;
        }
        let rev = record["rev"].as_str()?;
        sandbox.dropbox().contents(&format!("rev:{rev}"))
    }
}

crate::conformance!(Dropbox);
