//! Cursor pagination, the same on every list.
//!
//! A list takes `?limit=` (1..=200, default 50) and `?cursor=`, and answers
//! `{"items": [...], "next_cursor": "..."}`; `next_cursor` is absent on the last page. The cursor
//! is opaque to clients: URL-safe base64 of the last item's sort key. Lists sort by a unique,
//! ascending column — usually the id, which sorts by creation — so a page is
//! `WHERE key > cursor ORDER BY key LIMIT limit + 1`, and the extra row says whether more follow.
//!
//! ```text
//! let page = PageRequest::parse(limit.0, cursor.0)?;
//! let rows = page.apply(api_key::Entity::find().filter(…), api_key::Column::Id).all(db).await?;
//! let page = page.finish(rows, |k| k.id.clone()).map(view);
//! ```

use crate::error::ApiError;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem_openapi::{
    Object,
    types::{ParseFromJSON, ToJSON},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 50;
/// The largest `limit` accepted.
pub const MAX_LIMIT: u64 = 200;

/// One page of a list.
#[derive(Object, serde::Serialize, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Page<T: ParseFromJSON + ToJSON + Send + Sync> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of rows, before they become the API's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Rows<T> {
    /// The page, each row converted to its item.
    pub fn map<U: ParseFromJSON + ToJSON + Send + Sync>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// What a client asked for: how many items, after which sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    /// The sort key of the last item of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    /// Reads `limit` and `cursor`; a bad value is a 400 naming the parameter.
    pub fn parse(limit: Option<u64>, cursor: Option<String>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_param(
                "limit",
                format!("`limit` must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = match cursor.filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(&c).ok_or_else(|| {
                ApiError::bad_param("cursor", "`cursor` is not one this API returned")
            })?),
        };
        Ok(Self { limit, after })
    }

    /// Restricts `select` to this page, sorted by `key` (a unique column), plus one row to tell
    /// whether another page follows.
    pub fn apply<E: EntityTrait>(&self, select: Select<E>, key: E::Column) -> Select<E> {
        let select = match &self.after {
            Some(after) => select.filter(key.gt(after.as_str())),
            None => select,
        };
        select.order_by_asc(key).limit(self.limit + 1)
    }

    /// Like [`apply`](Self::apply), newest first: sorted by `key` descending, the page after
    /// the cursor holding the keys below it (logs and job histories are read from the end).
    pub fn apply_desc<E: EntityTrait>(&self, select: Select<E>, key: E::Column) -> Select<E> {
        let select = match &self.after {
            Some(after) => select.filter(key.lt(after.as_str())),
            None => select,
        };
        select.order_by_desc(key).limit(self.limit + 1)
    }

    /// Cuts the extra row that [`apply`](Self::apply) fetched and sets the next cursor.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> Rows<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| encode_cursor(&key(last)))
        } else {
            None
        };
        Rows {
            items: rows,
            next_cursor,
        }
    }

    /// Pages a list already in memory, sorted by `key`.
    pub fn slice<T>(&self, sorted: Vec<T>, key: impl Fn(&T) -> String) -> Rows<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let rows = sorted
            .into_iter()
            .filter(|item| self.after.as_ref().is_none_or(|after| key(item) > *after))
            .take(limit + 1)
            .collect();
        self.finish(rows, key)
    }
}

/// The cursor for a sort key.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

/// The sort key in a cursor, if it is one.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_the_range_name_the_parameter() {
        for bad in [0, MAX_LIMIT + 1] {
            let e = PageRequest::parse(Some(bad), None).unwrap_err();
            assert_eq!(e.status().as_u16(), 400);
            assert_eq!(
                e.into_body().0.error.details,
                Some(serde_json::json!({"field": "limit"}))
            );
        }
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_LIMIT);
        let e = PageRequest::parse(None, Some("not base64!".into())).unwrap_err();
        assert_eq!(
            e.into_body().0.error.details,
            Some(serde_json::json!({"field": "cursor"}))
        );
    }

    #[test]
    fn pages_follow_each_other_without_gaps_or_repeats() {
        let all: Vec<String> = (0..7).map(|i| format!("acc_{i:02}")).collect();
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let request = PageRequest::parse(Some(3), cursor.take()).unwrap();
            let page = request.slice(all.clone(), String::clone);
            assert!(page.items.len() <= 3);
            seen.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, all);
        let exact = PageRequest::parse(Some(7), None).unwrap();
        assert_eq!(exact.slice(all, String::clone).next_cursor, None);
    }
}
