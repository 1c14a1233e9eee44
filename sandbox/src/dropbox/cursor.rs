//! `list_folder` cursors: opaque to clients, here the listing's query and position, encoded.
//!
//! A cursor remembers the arguments of the `list_folder` call that started it (folder,
//! `recursive`, `include_deleted`, `limit`), as Dropbox's do, plus the epoch it was issued in:
//! [`super::DropboxFake::reset_cursors`] starts a new epoch, and older cursors then answer
//! `409 reset`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::tree::ChangeQuery;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(rename = "e")]
    pub(crate) epoch: u64,
    #[serde(rename = "a")]
    after: u64,
    #[serde(rename = "o")]
    origin: u64,
    #[serde(rename = "d")]
    include_deleted: bool,
    #[serde(rename = "r")]
    recursive: bool,
    #[serde(rename = "s")]
    scope: String,
    #[serde(rename = "l")]
    limit: usize,
}

impl Cursor {
    pub(crate) fn new(epoch: u64, query: &ChangeQuery) -> Self {
        Self {
            epoch,
            after: query.after,
            origin: query.origin,
            include_deleted: query.include_deleted,
            recursive: query.recursive,
            scope: query.scope.clone(),
            limit: query.limit,
        }
    }

    /// The query that continues from this cursor.
    pub(crate) fn query(&self) -> ChangeQuery {
        ChangeQuery {
            scope: self.scope.clone(),
            recursive: self.recursive,
            after: self.after,
            origin: self.origin,
            include_deleted: self.include_deleted,
            limit: self.limit,
        }
    }

    pub(crate) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("AAH{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// `None` for anything this fake did not issue.
    pub(crate) fn decode(cursor: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.strip_prefix("AAH")?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let query = ChangeQuery {
            scope: "/docs".into(),
            recursive: true,
            after: 12,
            origin: 10,
            include_deleted: false,
            limit: 50,
        };
        let cursor = Cursor::new(3, &query);
        let decoded = Cursor::decode(&cursor.encode()).unwrap();
        assert_eq!(decoded, cursor);
        assert_eq!(decoded.query(), query);
        assert!(Cursor::decode("AAHnot-base64!").is_none());
        assert!(Cursor::decode("xyz").is_none());
    }
}
