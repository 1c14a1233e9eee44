//! A fake of the Google Drive API v3, served under `/drive/v3`: `files.list`, `files.get`
//! (metadata and `alt=media`), `files.export`, `changes.getStartPageToken`, `changes.list` and
//! `drives.list`.
//!
//! It follows Drive's documented behaviour where a client can notice:
//! - OAuth 2.0 bearer tokens issued by the sandbox's [`crate::oauth`] authority for
//!   `googledrive` (access tokens live an hour; refresh tokens do not rotate). Expired, revoked
//!   and unknown tokens answer 401 `authError`.
//! - Partial responses: only the `fields` asked for; without `fields`, the v3 defaults
//!   (`kind,id,name,mimeType` per file) — see [`fields`].
//! - `files.list`: `pageSize` 1-1000 (default 100), an opaque `pageToken` -> `nextPageToken`,
//!   and pages that may be **empty before the end** (Drive documents this), so only a missing
//!   `nextPageToken` ends a listing. Trashed files are listed unless `q=trashed = false`;
//!   shared drive items only with `includeItemsFromAllDrives=true` (which `corpora=allDrives`
//!   requires), and `files.get`/`export` of them only with `supportsAllDrives=true`.
//! - `changes`: decimal page tokens, each file's latest change once, `nextPageToken` until the
//!   last page, which carries `newStartPageToken`; deleted files as `removed: true`, trashed
//!   ones with `file.trashed`, shared drive updates as `changeType: "drive"`. A malformed token
//!   answers 400 `invalid`; a token older than the history kept (see
//!   [`GoogleDriveFake::expire_change_history`]) answers 404 (?: Drive documents neither
//!   answer exactly; clients must restart from a full listing on both).
//! - Content: binary files download with `alt=media` (Workspace documents answer 403
//!   `fileNotDownloadable`); Docs, Sheets, Slides and Drawings export to the formats of
//!   Google's table (others answer 403 `fileNotExportable`); an export over 10 MB answers 403
//!   `exportSizeLimitExceeded` ([`GoogleDriveFake::set_export_too_large`]).
//! - Limits: 12,000 queries per minute per user answer 403 `userRateLimitExceeded`; 403
//!   `rateLimitExceeded` and 429 come from [`GoogleDriveFake::set_throttle_every`] and the
//!   shared fault plan. Other 403s (`insufficientPermissions`, `domainPolicy`) are permanent
//!   refusals ([`GoogleDriveFake::set_refusal`]).
//!
//! Files are generated from the seed (see `records`); mutations ([`GoogleDriveFake::edit`],
//! [`rename`](GoogleDriveFake::rename), [`trash`](GoogleDriveFake::trash),
//! [`delete`](GoogleDriveFake::delete), [`create`](GoogleDriveFake::create),
//! [`rename_drive`](GoogleDriveFake::rename_drive)) are kept as overrides and appended to
//! the change log.

pub(crate) mod api;
mod changes;
mod error;
pub mod fields;
mod list;
mod records;

pub use fields::select;
pub use records::{DOCUMENT, DRAWING, FOLDER, FORM, PRESENTATION, SHORTCUT, SPREADSHEET};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::Value;

use crate::generate::{self, IdCodec};
use crate::oauth::{OAuthAuthority, TokenPolicy};
use changes::{Log, Subject};
use records::Item;

/// The platform name tokens are issued for.
pub const PLATFORM: &str = "googledrive";

/// The streams the fake serves.
pub const STREAMS: [&str; 2] = ["files", "drives"];

/// Google's token behaviour: access tokens for an hour, refresh tokens that do not rotate.
pub const TOKEN_POLICY: TokenPolicy = TokenPolicy {
    access_ttl_secs: 3600,
    rotate_refresh_tokens: false,
};

/// Drive's documented per-user quota.
pub const USER_QUERIES_PER_MINUTE: u32 = 12_000;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    if stream == "drives" { 3 } else { 60 }
}

/// A permanent 403 the fake answers every API request with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The token lacks the scopes the request needs.
    InsufficientPermissions,
    /// The Workspace administrator disabled Drive apps.
    DomainPolicy,
}

/// What users did to one file since it was generated.
#[derive(Clone, Debug, Default)]
pub(crate) struct Edit {
    pub(crate) name: Option<String>,
    pub(crate) modified: Option<i64>,
    pub(crate) versions: u64,
    pub(crate) revisions: u64,
    pub(crate) trashed: bool,
    pub(crate) removed: bool,
}

#[derive(Debug)]
pub(crate) struct State {
    /// Files ever created (deleted ones keep their index).
    pub(crate) files: u64,
    pub(crate) edits: HashMap<u64, Edit>,
    pub(crate) drive_names: HashMap<u64, String>,
    pub(crate) log: Log,
    pub(crate) too_large: HashSet<u64>,
    refusal: Option<Refusal>,
    throttle_every: Option<u32>,
    requests: u64,
    throttled: u64,
    quota: Quota,
    /// The time of the latest mutation (unix seconds).
    clock: i64,
}

/// The per-user quota: a bucket of a minute's queries, refilled continuously.
#[derive(Debug)]
struct Quota {
    per_minute: u32,
    tokens: f64,
    last: Instant,
}

impl Quota {
    fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            tokens: f64::from(per_minute),
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill =
            now.duration_since(self.last).as_secs_f64() * f64::from(self.per_minute) / 60.0;
        self.tokens = (self.tokens + refill).min(f64::from(self.per_minute));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The Drive fake's data and limits.
#[derive(Debug)]
pub struct GoogleDriveFake {
    oauth: Arc<OAuthAuthority>,
    key: u64,
    files_codec: IdCodec,
    drives_codec: IdCodec,
    root_id: String,
    drives: u64,
    state: Mutex<State>,
}

impl GoogleDriveFake {
    pub(crate) fn new(seed: u64, oauth: Arc<OAuthAuthority>, counts: impl Fn(&str) -> u64) -> Self {
        oauth.set_policy(PLATFORM, TOKEN_POLICY);
        let key = generate::namespace_key(seed, "googledrive.files");
        let drive_key = generate::namespace_key(seed, "googledrive.drives");
        let files = counts("files");
        Self {
            oauth,
            key,
            files_codec: IdCodec::new("1", key),
            drives_codec: IdCodec::new("0A", drive_key),
            root_id: IdCodec::new("0AM", drive_key).encode(0),
            drives: counts("drives"),
            state: Mutex::new(State {
                files,
                edits: HashMap::new(),
                drive_names: HashMap::new(),
                log: Log::new(1_000 + seed % 1_000),
                too_large: HashSet::new(),
                refusal: None,
                throttle_every: None,
                requests: 0,
                throttled: 0,
                quota: Quota::new(USER_QUERIES_PER_MINUTE),
                clock: records_clock(files),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn oauth(&self) -> &OAuthAuthority {
        &self.oauth
    }

    /// Files ever created, deleted ones included (indices run from 0 to this).
    pub fn count(&self) -> u64 {
        self.lock().files
    }

    /// The id of file `index`.
    pub fn file_id(&self, index: u64) -> String {
        self.files_codec.encode(index)
    }

    /// The index of the file with id `id`.
    pub fn index_of(&self, id: &str) -> Option<u64> {
        self.files_codec.decode(id)
    }

    /// The id of shared drive `d`.
    pub fn drive_id(&self, d: u64) -> String {
        self.drives_codec.encode(d)
    }

    /// My Drive's root folder id.
    pub fn root_id(&self) -> &str {
        &self.root_id
    }

    /// Every file a full listing returns (not trashed, not deleted), with every field.
    pub fn files(&self) -> Vec<Value> {
        let state = self.lock();
        (0..state.files)
            .filter_map(|i| self.item(&state, i))
            .filter(|item| !item.trashed)
            .map(|item| self.resource(&item))
            .collect()
    }

    /// File `index` with every field, trashed or not; `None` once deleted.
    pub fn file(&self, index: u64) -> Option<Value> {
        let state = self.lock();
        self.item(&state, index).map(|item| self.resource(&item))
    }

    /// Every shared drive, with every field.
    pub fn drives(&self) -> Vec<Value> {
        let state = self.lock();
        (0..self.drives)
            .map(|d| self.drive_resource(&state, d))
            .collect()
    }

    /// The bytes `alt=media` returns for binary file `id`.
    pub fn media_of(&self, id: &str) -> Option<Vec<u8>> {
        let item = self.find(id)?;
        item.size.map(|_| self.media(&item))
    }

    /// The bytes `files.export` returns for Workspace document `id` in `format`.
    pub fn export_of(&self, id: &str, format: &str) -> Option<Vec<u8>> {
        let item = self.find(id)?;
        item.kind
            .export_formats()
            .contains(&format)
            .then(|| self.exported(&item, format))
    }

    /// Edits file `index`'s contents (a new revision and version, a later `modifiedTime`).
    pub fn edit(&self, index: u64) {
        self.mutate(index, |edit| {
            edit.revisions += 1;
            edit.versions += 1;
        });
    }

    /// Renames file `index`: a new version, the same contents.
    pub fn rename(&self, index: u64, name: &str) {
        self.mutate(index, |edit| {
            edit.name = Some(name.to_owned());
            edit.versions += 1;
        });
    }

    /// Moves file `index` to the trash.
    pub fn trash(&self, index: u64) {
        self.mutate(index, |edit| {
            edit.trashed = true;
            edit.versions += 1;
        });
    }

    /// Deletes file `index` for good (or the user lost access): `removed: true` in changes.
    pub fn delete(&self, index: u64) {
        self.mutate(index, |edit| edit.removed = true);
    }

    /// Adds `n` files after every existing one; returns their ids.
    pub fn create(&self, n: u64) -> Vec<String> {
        let mut state = self.lock();
        let first = state.files;
        state.files += n;
        let time = next_time(&mut state);
        (first..first + n)
            .map(|index| {
                state.log.record(Subject::File(index), time);
                self.file_id(index)
            })
            .collect()
    }

    /// Renames shared drive `d` (a `changeType: "drive"` change).
    pub fn rename_drive(&self, d: u64, name: &str) {
        let mut state = self.lock();
        state.drive_names.insert(d, name.to_owned());
        let time = next_time(&mut state);
        state.log.record(Subject::Drive(d), time);
    }

    /// Forgets the change history: every changes page token handed out so far is refused.
    pub fn expire_change_history(&self) {
        self.lock().log.expire();
    }

    /// Makes file `index`'s export exceed Drive's 10 MB export limit.
    pub fn set_export_too_large(&self, index: u64) {
        self.lock().too_large.insert(index);
    }

    /// Refuses every API request with a permanent 403 (or stops refusing with `None`).
    pub fn set_refusal(&self, refusal: Option<Refusal>) {
        self.lock().refusal = refusal;
    }

    /// Every `n`th API request answers 403 `userRateLimitExceeded` or `rateLimitExceeded`
    /// (alternately); `None` stops it. The count restarts.
    pub fn set_throttle_every(&self, n: Option<u32>) {
        let mut state = self.lock();
        state.throttle_every = n.filter(|n| *n > 0);
        state.requests = 0;
    }

    /// Sets the per-user quota (queries per minute), starting full.
    pub fn set_user_quota(&self, per_minute: u32) {
        self.lock().quota = Quota::new(per_minute.max(1));
    }

    /// How many requests answered a 403 rate limit.
    pub fn throttled(&self) -> u64 {
        self.lock().throttled
    }

    fn find(&self, id: &str) -> Option<Item> {
        let index = self.index_of(id)?;
        let state = self.lock();
        self.item(&state, index)
    }

    fn mutate(&self, index: u64, change: impl FnOnce(&mut Edit)) {
        let mut state = self.lock();
        if index >= state.files {
            return;
        }
        let time = next_time(&mut state);
        let edit = state.edits.entry(index).or_default();
        change(edit);
        edit.modified = Some(time);
        state.log.record(Subject::File(index), time);
    }

    /// Decides whether an API request is refused before it is served: the permanent refusal,
    /// the counted throttle, then the per-user quota.
    pub(crate) fn admit(&self) -> Result<(), error::DriveError> {
        let mut state = self.lock();
        if let Some(refusal) = state.refusal {
            return Err(match refusal {
                Refusal::InsufficientPermissions => error::DriveError::insufficient_permissions(),
                Refusal::DomainPolicy => error::DriveError::domain_policy(),
            });
        }
        state.requests += 1;
        if let Some(every) = state.throttle_every
            && state.requests.is_multiple_of(u64::from(every))
        {
            state.throttled += 1;
            return Err(if state.throttled % 2 == 1 {
                error::DriveError::user_rate_limit()
            } else {
                error::DriveError::project_rate_limit()
            });
        }
        if !state.quota.take() {
            state.throttled += 1;
            return Err(error::DriveError::user_rate_limit());
        }
        Ok(())
    }
}

/// Just after the latest generated modification time, so mutations sort after everything.
fn records_clock(files: u64) -> i64 {
    1_609_459_200 + (files as i64 + 1) * 3_600
}

fn next_time(state: &mut State) -> i64 {
    state.clock += 60;
    state.clock
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> GoogleDriveFake {
        GoogleDriveFake::new(7, Arc::default(), default_count)
    }

    #[test]
    fn every_kind_is_generated_with_consistent_checksums() {
        let fake = fake();
        let files = fake.files();
        assert_eq!(files.len(), 60);
        for mime in [
            FOLDER,
            DOCUMENT,
            SPREADSHEET,
            PRESENTATION,
            DRAWING,
            SHORTCUT,
            FORM,
        ] {
            assert!(files.iter().any(|f| f["mimeType"] == mime), "{mime}");
        }
        for file in &files {
            let id = file["id"].as_str().unwrap();
            assert_eq!(fake.file(fake.index_of(id).unwrap()).as_ref(), Some(file));
            if let Some(size) = file["size"].as_str() {
                let bytes = fake.media_of(id).unwrap();
                assert_eq!(bytes.len().to_string(), size);
                use sha2::Digest;
                let sha: String = sha2::Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                assert_eq!(file["sha256Checksum"], sha);
            } else {
                assert!(file.get("md5Checksum").is_none());
            }
        }
        assert!(files.iter().any(|f| f["size"] == "100000"));
        assert!(files.iter().any(|f| f.get("driveId").is_some()));
        assert!(files.iter().any(|f| f.get("owners").is_some()));
    }

    #[test]
    fn edits_change_contents_and_renames_do_not() {
        let fake = fake();
        let binary = (0..60)
            .find(|&i| records::kind(i) == records::Kind::Binary)
            .unwrap();
        let before = fake.file(binary).unwrap();
        fake.rename(binary, "renamed.txt");
        let renamed = fake.file(binary).unwrap();
        assert_eq!(renamed["md5Checksum"], before["md5Checksum"]);
        assert_ne!(renamed["version"], before["version"]);
        fake.edit(binary);
        let edited = fake.file(binary).unwrap();
        assert_ne!(edited["md5Checksum"], before["md5Checksum"]);
        assert!(edited["modifiedTime"].as_str() > renamed["modifiedTime"].as_str());
        fake.trash(binary);
        assert_eq!(fake.file(binary).unwrap()["trashed"], true);
        assert_eq!(fake.files().len(), 59);
        fake.delete(binary);
        assert_eq!(fake.file(binary), None);
        assert_eq!(fake.create(2).len(), 2);
        assert_eq!(fake.files().len(), 61);
    }
}
