//! The namespace the fake serves: every path Dropbox knows of, live or deleted, keyed by its
//! lower-cased form (Dropbox paths are case-insensitive) and stamped with the number of the
//! change that produced its latest state.
//!
//! That one number per path is the whole change log: a listing is "every path changed after
//! N, in change order", so an initial listing, its continuation and a later sync are the same
//! query, and a path edited twice between two syncs is reported once, in its latest state.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use super::content::{ContentKey, content_hash};
use crate::generate;

/// `server_modified` of change 0: 2023-11-14.
const TIME_BASE: i64 = 1_700_000_000;
/// Seconds between consecutive changes.
const TIME_STEP: i64 = 61;
/// Revisions are hex numbers from here on (Dropbox's are at least nine hex digits).
const REV_BASE: u64 = 0x0160_0000_0000;

/// Why a path cannot be used, as Dropbox's `LookupError` / `WriteError` name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathError {
    NotFound,
    NotFile,
    NotFolder,
    /// Something already exists there.
    Conflict,
    /// Not `/…`, or ends in `/`.
    Malformed,
}

impl PathError {
    /// The union tag Dropbox uses for it.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotFile => "not_file",
            Self::NotFolder => "not_folder",
            Self::Conflict => "conflict",
            Self::Malformed => "malformed_path",
        }
    }
}

/// One revision of a file: what `rev:<rev>` downloads.
#[derive(Clone, Debug)]
pub(crate) struct FileRevision {
    pub(crate) id: String,
    pub(crate) rev: String,
    pub(crate) path_display: String,
    pub(crate) content: ContentKey,
    pub(crate) size: u64,
    pub(crate) content_hash: String,
    pub(crate) client_modified: i64,
    pub(crate) server_modified: i64,
}

impl FileRevision {
    /// `FileMetadata` as list_folder and download return it.
    pub(crate) fn metadata(&self) -> Value {
        json!({
            ".tag": "file",
            "name": name_of(&self.path_display),
            "path_lower": lower(&self.path_display),
            "path_display": self.path_display,
            "id": self.id,
            "client_modified": timestamp(self.client_modified),
            "server_modified": timestamp(self.server_modified),
            "rev": self.rev,
            "size": self.size,
            "is_downloadable": true,
            "content_hash": self.content_hash,
        })
    }
}

#[derive(Clone, Debug)]
enum Entry {
    File(FileRevision),
    Folder { id: String, path_display: String },
    Deleted { path_display: String },
}

impl Entry {
    fn path_display(&self) -> &str {
        match self {
            Self::File(f) => &f.path_display,
            Self::Folder { path_display, .. } | Self::Deleted { path_display } => path_display,
        }
    }

    fn is_live(&self) -> bool {
        !matches!(self, Self::Deleted { .. })
    }

    fn metadata(&self) -> Value {
        match self {
            Self::File(f) => f.metadata(),
            Self::Folder { id, path_display } => json!({
                ".tag": "folder",
                "name": name_of(path_display),
                "path_lower": lower(path_display),
                "path_display": path_display,
                "id": id,
            }),
            Self::Deleted { path_display } => json!({
                ".tag": "deleted",
                "name": name_of(path_display),
                "path_lower": lower(path_display),
                "path_display": path_display,
            }),
        }
    }
}

#[derive(Debug)]
struct Slot {
    entry: Entry,
    /// The change that produced this state.
    seq: u64,
}

/// Which changes a listing asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChangeQuery {
    /// The listed folder's lower-cased path; `""` for the root.
    pub(crate) scope: String,
    pub(crate) recursive: bool,
    /// Changes after this one.
    pub(crate) after: u64,
    /// The change the listing started at: deletions up to it are history, reported only with
    /// `include_deleted`; later ones are changes and always reported.
    pub(crate) origin: u64,
    pub(crate) include_deleted: bool,
    pub(crate) limit: usize,
}

/// A page of changes.
pub(crate) struct Changes {
    pub(crate) entries: Vec<Value>,
    /// The last change included (where the next page starts).
    pub(crate) last: u64,
    pub(crate) has_more: bool,
}

#[derive(Debug)]
pub(crate) struct Tree {
    slots: BTreeMap<String, Slot>,
    revisions: HashMap<String, FileRevision>,
    /// The latest change number.
    seq: u64,
    /// Files and folders created so far (numbers their ids).
    created: u64,
    /// Files created so far (numbers their contents).
    files: u64,
    namespace: u64,
}

impl Tree {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            slots: BTreeMap::new(),
            revisions: HashMap::new(),
            seq: 0,
            created: 0,
            files: 0,
            namespace: generate::namespace_key(seed, "dropbox.files"),
        }
    }

    /// The latest change number.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn next_id(&mut self) -> String {
        let number = self.created;
        self.created += 1;
        let mut rng = generate::record_rng(self.namespace ^ 0x1d5, number);
        format!("id:{}", generate::fake::alphanumeric(&mut rng, 22))
    }

    fn live(&self, path_lower: &str) -> Option<&Entry> {
        self.slots
            .get(path_lower)
            .map(|s| &s.entry)
            .filter(|e| e.is_live())
    }

    fn set(&mut self, entry: Entry) {
        let seq = self.next_seq();
        self.slots
            .insert(lower(entry.path_display()), Slot { entry, seq });
    }

    /// `path` with the case of the folders that already exist (`/DOCS/new` under `/Docs` is
    /// `/Docs/new`), as Dropbox keeps the first spelling of a folder.
    fn display_path(&self, path: &str) -> String {
        let mut display = String::new();
        for part in path.split('/').skip(1) {
            let candidate = format!("{display}/{part}");
            display = match self.live(&lower(&candidate)) {
                Some(Entry::Folder { path_display, .. }) => path_display.clone(),
                _ => candidate,
            };
        }
        display
    }

    /// Creates the folder `path` and any missing parents; an existing folder is kept.
    pub(crate) fn create_folder(&mut self, path: &str) -> Result<(), PathError> {
        check_path(path)?;
        let mut prefix = String::new();
        for part in path.split('/').skip(1) {
            prefix = self.display_path(&format!("{prefix}/{part}"));
            match self.live(&lower(&prefix)) {
                Some(Entry::Folder { .. }) => {}
                Some(_) => return Err(PathError::Conflict),
                None => {
                    let id = self.next_id();
                    self.set(Entry::Folder {
                        id,
                        path_display: prefix.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes a file at `path`: a new file, or the next version of the one there.
    pub(crate) fn put_file(&mut self, path: &str) -> Result<FileRevision, PathError> {
        check_path(path)?;
        let (parent, _) = split(path);
        if !parent.is_empty() {
            self.create_folder(parent)?;
        }
        let (id, content, path_display) = match self.live(&lower(path)) {
            // A new version keeps the file's id and spelling.
            Some(Entry::File(old)) => (
                old.id.clone(),
                ContentKey {
                    version: old.content.version + 1,
                    ..old.content
                },
                old.path_display.clone(),
            ),
            Some(_) => return Err(PathError::Conflict),
            None => {
                let content = ContentKey {
                    namespace: self.namespace,
                    file: self.files,
                    version: 0,
                };
                self.files += 1;
                (self.next_id(), content, self.display_path(path))
            }
        };
        let bytes = content.bytes();
        let revision = self.revision_at(FileRevision {
            id,
            rev: String::new(),
            path_display,
            content,
            size: bytes.len() as u64,
            content_hash: content_hash(&bytes),
            client_modified: 0,
            server_modified: 0,
        });
        self.set(Entry::File(revision.clone()));
        Ok(revision)
    }

    /// `file` as a new revision stamped with the next change number (which [`Self::set`] then
    /// uses for the slot).
    fn revision_at(&mut self, mut file: FileRevision) -> FileRevision {
        let seq = self.seq + 1;
        file.rev = format!("{:012x}", REV_BASE + seq);
        file.server_modified = TIME_BASE + seq as i64 * TIME_STEP;
        // Clients upload a little after they save.
        file.client_modified = file.server_modified - 30 - (file.content.file % 7) as i64 * 60;
        self.revisions.insert(file.rev.clone(), file.clone());
        file
    }

    /// Moves a file or folder (with everything under it). A move that changes only the case
    /// keeps every path (`path_lower`) and reports the new spelling; any other move reports
    /// the old paths deleted and the new ones added, with the same ids.
    pub(crate) fn rename(&mut self, from: &str, to: &str) -> Result<(), PathError> {
        check_path(from)?;
        check_path(to)?;
        let (from_lower, to_lower) = (lower(from), lower(to));
        let Some(root) = self.live(&from_lower) else {
            return Err(PathError::NotFound);
        };
        let root_display = root.path_display().to_owned();
        let case_only = from_lower == to_lower;
        if !case_only && self.live(&to_lower).is_some() {
            return Err(PathError::Conflict);
        }
        if to_lower.starts_with(&format!("{from_lower}/")) {
            return Err(PathError::Conflict);
        }
        let (parent, _) = split(to);
        if !parent.is_empty() {
            self.create_folder(parent)?;
        }
        let target = if case_only {
            format!("{}/{}", split(&root_display).0, split(to).1)
        } else {
            self.display_path(to)
        };
        let moved: Vec<Entry> = self
            .subtree(&from_lower)
            .map(|(_, slot)| slot.entry.clone())
            .collect();
        for entry in moved {
            let old_display = entry.path_display().to_owned();
            let new_display = format!("{target}{}", &old_display[root_display.len()..]);
            if !case_only {
                self.set(Entry::Deleted {
                    path_display: old_display,
                });
            }
            let entry = match entry {
                Entry::File(file) => Entry::File(self.revision_at(FileRevision {
                    path_display: new_display,
                    ..file
                })),
                Entry::Folder { id, .. } => Entry::Folder {
                    id,
                    path_display: new_display,
                },
                Entry::Deleted { .. } => continue,
            };
            self.set(entry);
        }
        Ok(())
    }

    /// Deletes a file, or a folder and everything in it (each reported deleted).
    pub(crate) fn delete(&mut self, path: &str) -> Result<(), PathError> {
        check_path(path)?;
        let path_lower = lower(path);
        if self.live(&path_lower).is_none() {
            return Err(PathError::NotFound);
        }
        let doomed: Vec<String> = self
            .subtree(&path_lower)
            .map(|(_, slot)| slot.entry.path_display().to_owned())
            .collect();
        for path_display in doomed {
            self.set(Entry::Deleted { path_display });
        }
        Ok(())
    }

    /// The live entries at and under `path_lower`, parents first.
    fn subtree<'a>(&'a self, path_lower: &'a str) -> impl Iterator<Item = (&'a String, &'a Slot)> {
        let below = format!("{path_lower}/");
        // A scan, not a range: `/notes 2023` sorts between `/notes` and `/notes/…`.
        self.slots.iter().filter(move |(p, slot)| {
            (p.as_str() == path_lower || p.starts_with(&below)) && slot.entry.is_live()
        })
    }

    /// The live file or folder with Dropbox id `id`.
    fn by_id(&self, id: &str) -> Option<&Entry> {
        self.slots.values().map(|s| &s.entry).find(|e| match e {
            Entry::File(f) => f.id == id,
            Entry::Folder { id: folder, .. } => folder == id,
            Entry::Deleted { .. } => false,
        })
    }

    /// Every live file and folder, in change order.
    pub(crate) fn entries(&self) -> Vec<Value> {
        let mut live: Vec<&Slot> = self.slots.values().filter(|s| s.entry.is_live()).collect();
        live.sort_by_key(|s| s.seq);
        live.into_iter().map(|s| s.entry.metadata()).collect()
    }

    /// The metadata at `path` (any case), if something lives there.
    pub(crate) fn metadata(&self, path: &str) -> Option<Value> {
        self.live(&lower(path)).map(Entry::metadata)
    }

    /// A page of the changes `query` asks for, in change order.
    pub(crate) fn changes(&self, query: &ChangeQuery) -> Changes {
        let mut matching: Vec<&Slot> = self
            .slots
            .iter()
            .filter(|(path, slot)| {
                slot.seq > query.after
                    && in_scope(path, &query.scope, query.recursive)
                    && (slot.entry.is_live() || query.include_deleted || slot.seq > query.origin)
            })
            .map(|(_, slot)| slot)
            .collect();
        matching.sort_by_key(|s| s.seq);
        let has_more = matching.len() > query.limit;
        matching.truncate(query.limit);
        let last = match matching.last() {
            Some(slot) if has_more => slot.seq,
            // Nothing left: the cursor moves to now, past changes outside the scope too.
            _ => self.seq.max(query.after),
        };
        Changes {
            entries: matching.iter().map(|s| s.entry.metadata()).collect(),
            last,
            has_more,
        }
    }

    /// The folder `path` names (`""` for the root, `/…` in any case, or `id:…`), as the
    /// lower-cased scope of a listing.
    pub(crate) fn folder_scope(&self, path: &str) -> Result<String, PathError> {
        if path.is_empty() {
            return Ok(String::new());
        }
        let entry = if path.starts_with("id:") {
            self.by_id(path)
        } else {
            check_path(path)?;
            self.live(&lower(path))
        };
        match entry {
            Some(Entry::Folder { path_display, .. }) => Ok(lower(path_display)),
            Some(Entry::File(_)) => Err(PathError::NotFolder),
            _ => Err(PathError::NotFound),
        }
    }

    /// The file revision `path` names: `rev:<rev>` (any revision, even of a file since deleted
    /// or moved), `id:<id>` or `/path` (any case) for the current one.
    pub(crate) fn file(&self, path: &str) -> Result<&FileRevision, PathError> {
        if let Some(rev) = path.strip_prefix("rev:") {
            return self.revisions.get(rev).ok_or(PathError::NotFound);
        }
        let entry = if path.starts_with("id:") {
            self.by_id(path)
        } else {
            check_path(path)?;
            self.live(&lower(path))
        };
        match entry {
            Some(Entry::File(file)) => Ok(file),
            Some(_) => Err(PathError::NotFile),
            None => Err(PathError::NotFound),
        }
    }
}

/// Dropbox's `path_lower`.
pub(crate) fn lower(path: &str) -> String {
    path.to_lowercase()
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `(parent, name)`; the root's children have parent `""`.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn check_path(path: &str) -> Result<(), PathError> {
    if !path.starts_with('/') || path.ends_with('/') || path.contains("//") {
        return Err(PathError::Malformed);
    }
    Ok(())
}

fn in_scope(path_lower: &str, scope: &str, recursive: bool) -> bool {
    if recursive {
        scope.is_empty()
            || path_lower == scope
            || path_lower
                .strip_prefix(scope)
                .is_some_and(|rest| rest.starts_with('/'))
    } else {
        split(path_lower).0 == scope
    }
}

/// Dropbox's timestamp format: UTC, whole seconds, `Z`.
fn timestamp(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(after: u64, origin: u64, include_deleted: bool) -> ChangeQuery {
        ChangeQuery {
            scope: String::new(),
            recursive: true,
            after,
            origin,
            include_deleted,
            limit: 100,
        }
    }

    fn paths(changes: &Changes) -> Vec<(String, String)> {
        changes
            .entries
            .iter()
            .map(|e| {
                (
                    e[".tag"].as_str().unwrap().to_owned(),
                    e["path_lower"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn folders_keep_their_first_spelling_and_paths_are_case_insensitive() {
        let mut tree = Tree::new(1);
        tree.put_file("/Docs/Report.TXT").unwrap();
        let again = tree.put_file("/DOCS/report.txt").unwrap();
        assert_eq!(again.path_display, "/Docs/Report.TXT");
        assert_eq!(again.content.version, 1, "the same file, edited");
        tree.put_file("/DOCS/Übersicht.md").unwrap();
        assert_eq!(
            tree.metadata("/docs/ÜBERSICHT.MD").unwrap()["path_display"],
            "/Docs/Übersicht.md"
        );
        assert_eq!(tree.entries().len(), 3);
        assert_eq!(tree.put_file("/Docs").unwrap_err(), PathError::Conflict);
    }

    #[test]
    fn a_listing_then_its_continuation_report_each_change_once() {
        let mut tree = Tree::new(1);
        tree.put_file("/a/one.txt").unwrap();
        tree.put_file("/a/two.txt").unwrap();
        tree.delete("/a/two.txt").unwrap();
        let origin = tree.seq();
        let full = tree.changes(&query(0, origin, false));
        assert_eq!(
            paths(&full),
            [("folder", "/a"), ("file", "/a/one.txt")].map(|(t, p)| (t.into(), p.into()))
        );
        tree.put_file("/a/one.txt").unwrap();
        tree.put_file("/a/one.txt").unwrap();
        tree.delete("/a").unwrap();
        tree.put_file("/b.txt").unwrap();
        let sync = tree.changes(&query(full.last, origin, false));
        assert_eq!(
            paths(&sync),
            [
                ("deleted", "/a"),
                ("deleted", "/a/one.txt"),
                ("file", "/b.txt")
            ]
            .map(|(t, p)| (t.into(), p.into()))
        );
        // With `include_deleted`, a fresh listing also reports deletions from before it.
        let history = tree.changes(&query(0, tree.seq(), true));
        assert_eq!(history.entries.len(), 4, "{:?}", paths(&history));
    }

    #[test]
    fn moves_report_the_old_paths_deleted_unless_only_the_case_changes() {
        let mut tree = Tree::new(1);
        let file = tree.put_file("/Notes/plan.txt").unwrap();
        let before = tree.seq();
        tree.rename("/notes", "/Archive/Notes 2023").unwrap();
        let moved = tree.changes(&query(before, before, false));
        assert_eq!(
            paths(&moved),
            [
                ("folder", "/archive"),
                ("deleted", "/notes"),
                ("folder", "/archive/notes 2023"),
                ("deleted", "/notes/plan.txt"),
                ("file", "/archive/notes 2023/plan.txt"),
            ]
            .map(|(t, p)| (t.into(), p.into()))
        );
        let now = tree.file("/archive/notes 2023/plan.txt").unwrap();
        assert_eq!(now.id, file.id);
        assert_eq!(now.content_hash, file.content_hash);
        assert!(
            tree.file(&format!("rev:{}", file.rev)).is_ok(),
            "old revisions stay"
        );

        let before = tree.seq();
        tree.rename(
            "/archive/notes 2023/plan.txt",
            "/ARCHIVE/notes 2023/PLAN.txt",
        )
        .unwrap();
        let recased = tree.changes(&query(before, before, false));
        assert_eq!(recased.entries.len(), 1);
        assert_eq!(
            recased.entries[0]["path_display"],
            "/Archive/Notes 2023/PLAN.txt"
        );
    }

    #[test]
    fn pages_follow_the_limit_and_lookups_name_what_is_wrong() {
        let mut tree = Tree::new(1);
        for i in 0..5 {
            tree.put_file(&format!("/f{i}.txt")).unwrap();
        }
        let mut q = query(0, tree.seq(), false);
        q.limit = 2;
        let first = tree.changes(&q);
        assert!(first.has_more);
        q.after = first.last;
        let second = tree.changes(&q);
        q.after = second.last;
        let third = tree.changes(&q);
        assert!(!third.has_more);
        assert_eq!(
            first.entries.len() + second.entries.len() + third.entries.len(),
            5
        );
        assert_eq!(tree.file("/nope").unwrap_err(), PathError::NotFound);
        assert_eq!(tree.file("nope").unwrap_err(), PathError::Malformed);
        assert_eq!(tree.folder_scope("/f1.txt"), Err(PathError::NotFolder));
        assert_eq!(tree.folder_scope("/F1.TXT/x"), Err(PathError::NotFound));
    }
}
