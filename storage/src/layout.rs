//! Deterministic object keys (DESIGN.md §2).
//!
//! ```text
//! accounts/{account_id}/sources/{source_id}/snapshots/{snapshot_id}/manifest.json
//! accounts/{account_id}/sources/{source_id}/snapshots/{snapshot_id}/streams/{stream}/part-00001.jsonl.zst.age
//! accounts/{account_id}/blobs/sha256/{aa}/{sha256}.zst.age
//! ```
//!
//! Keys are a pure function of ids and part numbers: a retried activity that re-uploads part 7
//! overwrites the same object instead of leaving a stray copy, and a restore can find every part
//! from the manifest alone. The account prefix comes first so tenant isolation is visible in the
//! keys (and enforceable with prefix-scoped IAM policies).
//!
//! The builders do not validate: ids come from our own database, stream names from connectors.
//! Call [`validate_segment`] where a segment comes from outside.

use crate::StorageError;

/// `accounts/{account_id}/`
pub fn account_prefix(account_id: &str) -> String {
    format!("accounts/{account_id}/")
}

/// `accounts/{account_id}/sources/{source_id}/snapshots/` — list this to find a source's snapshots.
pub fn snapshots_prefix(account_id: &str, source_id: &str) -> String {
    format!("accounts/{account_id}/sources/{source_id}/snapshots/")
}

/// `accounts/{a}/sources/{s}/snapshots/{snap}/`
pub fn snapshot_prefix(account_id: &str, source_id: &str, snapshot_id: &str) -> String {
    format!("{}{snapshot_id}/", snapshots_prefix(account_id, source_id))
}

/// The snapshot's `manifest.json`, written last.
pub fn manifest_key(account_id: &str, source_id: &str, snapshot_id: &str) -> String {
    format!(
        "{}manifest.json",
        snapshot_prefix(account_id, source_id, snapshot_id)
    )
}

/// `.../snapshots/{snap}/streams/{stream}/`
pub fn stream_prefix(account_id: &str, source_id: &str, snapshot_id: &str, stream: &str) -> String {
    format!(
        "{}streams/{stream}/",
        snapshot_prefix(account_id, source_id, snapshot_id)
    )
}

/// `.../streams/{stream}/part-00007.jsonl.zst.age`; `part_no` is 1-based, zero-padded to five
/// digits so keys sort in part order (wider numbers still work, they just stop sorting).
pub fn part_key(
    account_id: &str,
    source_id: &str,
    snapshot_id: &str,
    stream: &str,
    part_no: u32,
) -> String {
    format!(
        "{}{}",
        stream_prefix(account_id, source_id, snapshot_id, stream),
        part_file_name(part_no)
    )
}

/// `part-00007.jsonl.zst.age`
pub fn part_file_name(part_no: u32) -> String {
    format!("part-{part_no:05}.jsonl.zst.age")
}

/// The record index of a part ([`crate::index`]), next to it:
/// `.../streams/{stream}/part-00007.index.zst.age` for `part-00007.jsonl.zst.age`. Its name
/// does not end in `.jsonl.zst.age`, so `part-*.jsonl.zst.age` still selects the parts alone.
pub fn index_key(part_key: &str) -> String {
    match part_key.strip_suffix(".jsonl.zst.age") {
        Some(stem) => format!("{stem}.index.zst.age"),
        None => format!("{part_key}.index.zst.age"),
    }
}

/// Whether `key` names a part's record index rather than a part.
pub fn is_index_key(key: &str) -> bool {
    key.ends_with(".index.zst.age")
}

/// A content-addressed file (Drive, Dropbox, Slack): `accounts/{a}/blobs/sha256/{aa}/{sha256}.zst.age`,
/// where `sha256` is the lowercase hex digest of the plaintext, so one file is stored once per account.
pub fn blob_key(account_id: &str, sha256_hex: &str) -> String {
    let fan_out = sha256_hex.get(..2).unwrap_or(sha256_hex);
    format!("accounts/{account_id}/blobs/sha256/{fan_out}/{sha256_hex}.zst.age")
}

/// Checks that `segment` can be one path segment of a key: non-empty, no `/`, not `.` or `..`,
/// no control characters. Keys with such segments would collide or escape their prefix.
pub fn validate_segment(segment: &str) -> Result<(), StorageError> {
    let bad = segment.is_empty()
        || segment == "."
        || segment == ".."
        || segment.contains('/')
        || segment.chars().any(char::is_control);
    if bad {
        return Err(StorageError::InvalidSegment(
            segment.escape_debug().to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_design_layout() {
        assert_eq!(
            snapshot_prefix("a1", "s1", "snap1"),
            "accounts/a1/sources/s1/snapshots/snap1/"
        );
        assert_eq!(
            manifest_key("a1", "s1", "snap1"),
            "accounts/a1/sources/s1/snapshots/snap1/manifest.json"
        );
        assert_eq!(
            stream_prefix("a1", "s1", "snap1", "customers"),
            "accounts/a1/sources/s1/snapshots/snap1/streams/customers/"
        );
        assert_eq!(
            part_key("a1", "s1", "snap1", "customers", 7),
            "accounts/a1/sources/s1/snapshots/snap1/streams/customers/part-00007.jsonl.zst.age"
        );
        assert_eq!(
            index_key(&part_key("a1", "s1", "snap1", "customers", 7)),
            "accounts/a1/sources/s1/snapshots/snap1/streams/customers/part-00007.index.zst.age"
        );
        assert!(is_index_key(&index_key("x/part-00001.jsonl.zst.age")));
        assert!(!is_index_key("x/part-00001.jsonl.zst.age"));
        assert_eq!(
            blob_key("a1", "abcdef"),
            "accounts/a1/blobs/sha256/ab/abcdef.zst.age"
        );
    }

    #[test]
    fn part_keys_sort_in_part_order() {
        let keys: Vec<String> = [1, 2, 10, 99, 100, 12345]
            .iter()
            .map(|n| part_key("a", "s", "x", "st", *n))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn segments_are_validated() {
        assert!(validate_segment("customers").is_ok());
        assert!(validate_segment("0190a1b2-uuid").is_ok());
        for bad in ["", ".", "..", "a/b", "a\nb"] {
            assert!(validate_segment(bad).is_err(), "{bad:?}");
        }
    }
}
