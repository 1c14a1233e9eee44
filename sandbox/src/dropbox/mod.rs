//! A fake of Dropbox's API v2: `files/list_folder`, `files/list_folder/continue`,
//! `files/download` and `users/get_current_account`, under `/2`.
//!
//! It follows Dropbox's documented behaviour where a connector can notice:
//! - OAuth 2.0 bearer tokens issued by the sandbox's [`crate::oauth`] authority for `dropbox`,
//!   whose policy here is Dropbox's: short-lived access tokens (4 hours) and a refresh token
//!   that does not rotate. An expired token answers 401 `expired_access_token`, a revoked or
//!   unknown one 401 `invalid_access_token`; a missing header is bad input (400, plain text).
//! - RPC style: every route is `POST`; RPC arguments are a JSON body (`application/json`),
//!   content-download arguments the `Dropbox-API-Arg` header, which must be ASCII (non-ASCII
//!   characters escaped as `\uXXXX`) and the file's metadata comes back in `Dropbox-API-Result`.
//! - Errors: 400 plain text for bad input, 409 JSON with `error_summary` and the route's error
//!   union (`path/not_found`, `reset`, …), 429 JSON with `Retry-After`, 5xx plain text.
//! - Listings: `list_folder` (`path` `""` for the root, `recursive`, `include_deleted`,
//!   `limit` 1-2000) -> `entries`, `cursor`, `has_more`; `list_folder/continue` pages on and,
//!   once a listing is complete, returns only what changed since, deletions as
//!   `.tag: deleted` entries. Cursors can be invalidated ([`DropboxFake::reset_cursors`]):
//!   `continue` then answers 409 `reset` and the client must list again.
//! - Paths are case-insensitive: `path_lower` is the key, `path_display` keeps the spelling.
//! - Files carry Dropbox's `content_hash` (SHA-256 over the SHA-256s of 4 MiB blocks) of the
//!   exact bytes `files/download` serves for their `rev`.
//!
//! The dataset is generated from the seed (folders [`FOLDERS`] and files in them); tests change it through
//! [`DropboxFake::write_file`], [`DropboxFake::rename`] and [`DropboxFake::delete`].

pub(crate) mod api;
mod content;
mod cursor;
mod dataset;
mod error;
mod tree;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::oauth::{OAuthAuthority, TokenPolicy};
pub use content::{BLOCK_SIZE, content_hash};
pub use dataset::FOLDERS;
use tree::{PathError, Tree};

/// The streams the fake holds records for (`dropbox.files` sets how many files it starts with).
pub const STREAMS: [&str; 1] = ["files"];

/// Dropbox's token behaviour: 4-hour access tokens; the refresh token stays the same.
pub const TOKEN_POLICY: TokenPolicy = TokenPolicy {
    access_ttl_secs: 4 * 3600,
    rotate_refresh_tokens: false,
};

/// The largest `limit` `list_folder` accepts (also its default here).
pub const MAX_LIST_LIMIT: u64 = 2000;

/// The file count the sandbox starts with when the config does not say.
pub(crate) fn default_count(_stream: &str) -> u64 {
    40
}

/// The Dropbox fake's files, account and cursor epoch.
#[derive(Debug)]
pub struct DropboxFake {
    oauth: Arc<OAuthAuthority>,
    tree: Mutex<Tree>,
    account: Value,
    /// Cursors issued before the current epoch answer `reset`.
    epoch: AtomicU64,
    corrupt_downloads: AtomicBool,
    downloads: AtomicU64,
}

impl DropboxFake {
    pub(crate) fn new(seed: u64, oauth: Arc<OAuthAuthority>, files: u64) -> Self {
        oauth.set_policy("dropbox", TOKEN_POLICY);
        let mut tree = Tree::new(seed);
        dataset::populate(&mut tree, seed, files);
        Self {
            oauth,
            tree: Mutex::new(tree),
            account: dataset::account(seed),
            epoch: AtomicU64::new(0),
            corrupt_downloads: AtomicBool::new(false),
            downloads: AtomicU64::new(0),
        }
    }

    /// Every file and folder, as a complete `list_folder` of the root returns them.
    pub fn entries(&self) -> Vec<Value> {
        self.with_tree(|tree| tree.entries())
    }

    /// The metadata of what lives at `path` (any case).
    pub fn metadata(&self, path: &str) -> Option<Value> {
        self.with_tree(|tree| tree.metadata(path))
    }

    /// The bytes `files/download` serves for `path` (`rev:…`, `id:…` or `/…`).
    pub fn contents(&self, path: &str) -> Option<Vec<u8>> {
        self.with_tree(|tree| tree.file(path).ok().map(|f| f.content.bytes()))
    }

    /// The user's account, as `users/get_current_account` returns it.
    pub fn account(&self) -> &Value {
        &self.account
    }

    /// Writes a file: creates it (and missing folders), or saves a new version of the one at
    /// `path`. Returns its metadata.
    ///
    /// # Panics
    /// When `path` is malformed or a folder; so do the other mutations on bad paths (they
    /// are test helpers).
    pub fn write_file(&self, path: &str) -> Value {
        self.with_tree(|tree| tree.put_file(path).map(|f| f.metadata()))
            .unwrap_or_else(|e| panic!("cannot write {path}: {e:?}"))
    }

    /// Creates a folder and any missing parents.
    pub fn create_folder(&self, path: &str) {
        self.with_tree(|tree| tree.create_folder(path))
            .unwrap_or_else(|e| panic!("cannot create {path}: {e:?}"));
    }

    /// Moves a file or folder; a move that changes only the case keeps `path_lower`.
    pub fn rename(&self, from: &str, to: &str) {
        self.with_tree(|tree| tree.rename(from, to))
            .unwrap_or_else(|e| panic!("cannot move {from} to {to}: {e:?}"));
    }

    /// Deletes a file, or a folder with everything in it.
    pub fn delete(&self, path: &str) {
        self.with_tree(|tree| tree.delete(path))
            .unwrap_or_else(|e| panic!("cannot delete {path}: {e:?}"));
    }

    /// Invalidates every cursor issued so far: `list_folder/continue` answers 409 `reset`.
    pub fn reset_cursors(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Makes `files/download` serve bytes that differ from the file's `content_hash` (one
    /// byte changed), as a corrupted transfer would.
    pub fn set_corrupt_downloads(&self, corrupt: bool) {
        self.corrupt_downloads.store(corrupt, Ordering::SeqCst);
    }

    /// How many files `files/download` has served.
    pub fn downloads(&self) -> u64 {
        self.downloads.load(Ordering::SeqCst)
    }

    pub(crate) fn oauth(&self) -> &OAuthAuthority {
        &self.oauth
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub(crate) fn with_tree<T>(&self, f: impl FnOnce(&mut Tree) -> T) -> T {
        f(&mut self.tree.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A download: the revision's metadata and bytes.
    pub(crate) fn download(&self, path: &str) -> Result<(Value, Vec<u8>), PathError> {
        let (metadata, mut bytes) = self.with_tree(|tree| {
            tree.file(path)
                .map(|file| (file.metadata(), file.content.bytes()))
        })?;
        if self.corrupt_downloads.load(Ordering::SeqCst) {
            match bytes.last_mut() {
                Some(last) => *last ^= 0x01,
                None => bytes.push(b'!'),
            }
        }
        self.downloads.fetch_add(1, Ordering::SeqCst);
        Ok((metadata, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dataset_is_deterministic_with_hashes_of_the_served_bytes() {
        let a = DropboxFake::new(5, Arc::default(), 30);
        let b = DropboxFake::new(5, Arc::default(), 30);
        assert_eq!(a.entries(), b.entries());
        let entries = a.entries();
        assert_eq!(entries.len(), FOLDERS.len() + 30);
        let files: Vec<&Value> = entries.iter().filter(|e| e[".tag"] == "file").collect();
        assert_eq!(files.len(), 30);
        for file in files {
            let rev = format!("rev:{}", file["rev"].as_str().unwrap());
            let bytes = a.contents(&rev).unwrap();
            assert_eq!(file["size"], bytes.len());
            assert_eq!(file["content_hash"], content_hash(&bytes));
        }
        assert!(
            entries
                .iter()
                .any(|e| !e["path_display"].as_str().unwrap().is_ascii()),
            "some names are not ASCII"
        );
        assert_ne!(
            a.entries(),
            DropboxFake::new(6, Arc::default(), 30).entries()
        );
    }

    #[test]
    fn corrupt_downloads_differ_from_the_hash() {
        let fake = DropboxFake::new(5, Arc::default(), 3);
        let file = fake.write_file("/x.txt");
        let rev = format!("rev:{}", file["rev"].as_str().unwrap());
        fake.set_corrupt_downloads(true);
        let (_, bytes) = fake.download(&rev).unwrap();
        assert_ne!(content_hash(&bytes), file["content_hash"].as_str().unwrap());
        assert_eq!(fake.downloads(), 1);
    }
}
