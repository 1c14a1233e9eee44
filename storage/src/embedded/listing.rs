//! ListObjectsV2 over a bucket's directory: keys in lexicographic (byte) order, filtered by
//! prefix, rolled up at a delimiter into common prefixes, paged with max-keys and a
//! continuation token.
//!
//! The walk visits a directory's entries sorted by `name` for files and `name/` for
//! directories, which yields keys in S3's order without collecting the whole bucket, and skips
//! every subtree that cannot contain a key of the page: outside the prefix, at or before the
//! resume point, or inside a common prefix already returned. A page stops after max-keys
//! entries, so listing a large bucket page by page reads only what each page needs.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::Path;
use std::time::SystemTime;

/// One ListObjectsV2 request, after parsing.
#[derive(Debug, Default)]
pub(super) struct ListQuery {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Only keys (and common prefixes) strictly after this: the larger of StartAfter and the
    /// decoded continuation token.
    pub after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Object {
        key: String,
        size: u64,
        last_modified: SystemTime,
    },
    CommonPrefix(String),
}

impl Entry {
    pub fn name(&self) -> &str {
        match self {
            Entry::Object { key, .. } => key,
            Entry::CommonPrefix(prefix) => prefix,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Page {
    pub entries: Vec<Entry>,
    /// More entries follow the last one.
    pub truncated: bool,
}

/// Lists `bucket_dir` (blocking I/O: run it off the async executor).
pub(super) fn list(bucket_dir: &Path, query: &ListQuery) -> io::Result<Page> {
    let mut walk = Walk {
        query,
        page: Page::default(),
        rolled_up: None,
    };
    if query.max_keys > 0 {
        walk.dir(bucket_dir, "")?;
    }
    Ok(walk.page)
}

struct Walk<'q> {
    query: &'q ListQuery,
    page: Page,
    /// The last common prefix returned: keys under it are already accounted for.
    rolled_up: Option<String>,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Walk<'_> {
    /// Visits the directory whose keys all start with `dir_key` (empty, or ending in `/`).
    fn dir(&mut self, dir: &Path, dir_key: &str) -> io::Result<Flow> {
        let mut children = Vec::new();
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            // Pruned by a concurrent delete: nothing left to list there.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Flow::Continue),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            // Keys are UTF-8; anything else was not written through S3.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                children.push((format!("{dir_key}{name}/"), true, entry.path()));
            } else if file_type.is_file() {
                children.push((format!("{dir_key}{name}"), false, entry.path()));
            }
        }
        children.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (key, is_dir, path) in children {
            let flow = if is_dir {
                self.subdir(&path, &key)?
            } else {
                self.file(&path, key)?
            };
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    /// A directory: every key under it starts with `key` (which ends in `/`).
    fn subdir(&mut self, path: &Path, key: &str) -> io::Result<Flow> {
        let prefix = self.query.prefix.as_str();
        if !key.starts_with(prefix) && !prefix.starts_with(key) {
            return Ok(Flow::Continue);
        }
        if let Some(after) = &self.query.after {
            // Every key under `key` sorts before `after` unless `after` itself lies inside.
            if after.as_str() >= key && !after.starts_with(key) {
                return Ok(Flow::Continue);
            }
        }
        if self
            .rolled_up
            .as_deref()
            .is_some_and(|r| key.starts_with(r))
        {
            return Ok(Flow::Continue);
        }
        // When the delimiter falls inside `key`, the whole directory is one common prefix.
        if let Some(common) = self.common_prefix(key)
            && key.starts_with(&common)
        {
            if self.after_allows(&common) && has_file(path)? {
                return Ok(self.emit_prefix(common));
            }
            return Ok(Flow::Continue);
        }
        self.dir(path, key)
    }

    fn file(&mut self, path: &Path, key: String) -> io::Result<Flow> {
        if !key.starts_with(&self.query.prefix) {
            return Ok(Flow::Continue);
        }
        if self
            .rolled_up
            .as_deref()
            .is_some_and(|r| key.starts_with(r))
        {
            return Ok(Flow::Continue);
        }
        if let Some(common) = self.common_prefix(&key) {
            if self.after_allows(&common) {
                return Ok(self.emit_prefix(common));
            }
            return Ok(Flow::Continue);
        }
        if !self.after_allows(&key) {
            return Ok(Flow::Continue);
        }
        let stat = match fs::metadata(path) {
            Ok(stat) => stat,
            // Deleted since the directory was read.
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Flow::Continue),
            Err(e) => return Err(e),
        };
        Ok(self.emit(Entry::Object {
            key,
            size: stat.len(),
            last_modified: stat.modified()?,
        }))
    }

    /// The common prefix `key` rolls up into: the prefix plus the rest of `key` up to and
    /// including the first delimiter after the prefix.
    fn common_prefix(&self, key: &str) -> Option<String> {
        let delimiter = self.query.delimiter.as_deref().filter(|d| !d.is_empty())?;
        let prefix = &self.query.prefix;
        let rest = key.strip_prefix(prefix.as_str())?;
        let at = rest.find(delimiter)?;
        Some(format!("{prefix}{}", &rest[..at + delimiter.len()]))
    }

    fn after_allows(&self, name: &str) -> bool {
        self.query.after.as_deref().is_none_or(|after| name > after)
    }

    fn emit_prefix(&mut self, common: String) -> Flow {
        self.rolled_up = Some(common.clone());
        self.emit(Entry::CommonPrefix(common))
    }

    fn emit(&mut self, entry: Entry) -> Flow {
        if self.page.entries.len() == self.query.max_keys {
            self.page.truncated = true;
            return Flow::Stop;
        }
        self.page.entries.push(entry);
        Flow::Continue
    }
}

/// Whether `dir` holds at least one file anywhere below it (deleting objects prunes empty
/// directories, but a concurrent write may have just created one).
fn has_file(dir: &Path) -> io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_file() || (file_type.is_dir() && has_file(&entry.path())?) {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(keys: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for key in keys {
            let path = dir.path().join(key);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, key.as_bytes()).expect("write");
        }
        dir
    }

    fn names(page: &Page) -> Vec<&str> {
        page.entries.iter().map(Entry::name).collect()
    }

    fn query(prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize) -> ListQuery {
        ListQuery {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            after: after.map(Into::into),
            max_keys: max,
        }
    }

    const KEYS: &[&str] = &["a.c", "a/b", "a/c/d", "a0", "b/x", "b/y/z", "c"];

    #[test]
    fn keys_come_in_byte_order_across_directories() {
        let dir = bucket(KEYS);
        let page = list(dir.path(), &query("", None, None, 1000)).expect("list");
        // `.` (0x2e) < `/` (0x2f) < `0` (0x30): a file named `a.c` sorts before the `a/` tree.
        assert_eq!(names(&page), KEYS);
        assert!(!page.truncated);
    }

    #[test]
    fn prefix_and_delimiter_roll_up_into_common_prefixes() {
        let dir = bucket(KEYS);
        let page = list(dir.path(), &query("", Some("/"), None, 1000)).expect("list");
        assert_eq!(names(&page), ["a.c", "a/", "a0", "b/", "c"]);
        let page = list(dir.path(), &query("a/", Some("/"), None, 1000)).expect("list");
        assert_eq!(names(&page), ["a/b", "a/c/"]);
        // A prefix that ends mid-name.
        let page = list(dir.path(), &query("b/y", Some("/"), None, 1000)).expect("list");
        assert_eq!(names(&page), ["b/y/"]);
        let page = list(dir.path(), &query("a", None, None, 1000)).expect("list");
        assert_eq!(names(&page), ["a.c", "a/b", "a/c/d", "a0"]);
        // A delimiter that is not `/`.
        let page = list(dir.path(), &query("", Some("."), None, 1000)).expect("list");
        assert_eq!(
            names(&page),
            ["a.", "a/b", "a/c/d", "a0", "b/x", "b/y/z", "c"]
        );
    }

    #[test]
    fn pages_resume_after_keys_and_common_prefixes() {
        let dir = bucket(KEYS);
        for delimiter in [None, Some("/")] {
            let mut all = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page =
                    list(dir.path(), &query("", delimiter, after.as_deref(), 2)).expect("list");
                assert!(page.entries.len() <= 2);
                all.extend(names(&page).into_iter().map(str::to_owned));
                if !page.truncated {
                    break;
                }
                after = page.entries.last().map(|e| e.name().to_owned());
            }
            let whole = list(dir.path(), &query("", delimiter, None, 1000)).expect("list");
            assert_eq!(all, names(&whole), "{delimiter:?}");
        }
        // StartAfter may be any string, not only a key.
        let page = list(dir.path(), &query("", None, Some("a/bz"), 1000)).expect("list");
        assert_eq!(names(&page), ["a/c/d", "a0", "b/x", "b/y/z", "c"]);
    }

    #[test]
    fn exact_page_size_is_not_truncated_and_zero_lists_nothing() {
        let dir = bucket(KEYS);
        let page = list(dir.path(), &query("", None, None, KEYS.len())).expect("list");
        assert_eq!(page.entries.len(), KEYS.len());
        assert!(!page.truncated);
        let page = list(dir.path(), &query("", None, None, 0)).expect("list");
        assert!(page.entries.is_empty());
    }

    #[test]
    fn empty_directories_are_not_common_prefixes() {
        let dir = bucket(&["k/v"]);
        fs::create_dir_all(dir.path().join("empty/deeper")).expect("mkdir");
        let page = list(dir.path(), &query("", Some("/"), None, 1000)).expect("list");
        assert_eq!(names(&page), ["k/"]);
        let page = list(dir.path(), &query("", None, None, 1000)).expect("list");
        assert_eq!(names(&page), ["k/v"]);
    }
}
