//! List pagination, both kinds Zendesk offers on `GET /api/v2/{resource}.json`.
//!
//! Cursor pagination (`page[size]` 1-100, `page[after]`/`page[before]`) has no depth limit.
//! Offset pagination (`page`, `per_page` <= 100; the default when no `page[size]` is given)
//! refuses any page reaching past the first [`OFFSET_RECORD_LIMIT`] records with a 400: a
//! connector that offset-pages a big account fails there.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use super::OFFSET_RECORD_LIMIT;
use super::error::ApiError;

pub(crate) const MAX_PAGE_SIZE: u64 = 100;

/// A validated pagination request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Paging {
    /// Items from position `after` (0 = the start), `size` of them.
    Cursor { size: u64, after: u64 },
    /// Page `page` (from 1) of `per_page` items.
    Offset { page: u64, per_page: u64 },
}

impl Paging {
    pub(crate) fn parse(params: &[(String, String)]) -> Result<Self, ApiError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        if let Some(size) = get("page[size]") {
            let size = number("page[size]", size)?;
            if !(1..=MAX_PAGE_SIZE).contains(&size) {
                return Err(ApiError::invalid(
                    "InvalidPaginationParameter",
                    format!("page[size] must be between 1 and {MAX_PAGE_SIZE}"),
                ));
            }
            let after = match get("page[after]") {
                Some(cursor) => decode_cursor(cursor)?,
                None => 0,
            };
            return Ok(Paging::Cursor { size, after });
        }
        if get("page[after]").is_some() {
            return Err(ApiError::invalid(
                "InvalidPaginationParameter",
                "page[after] needs page[size]",
            ));
        }
        let page = get("page")
            .map(|p| number("page", p))
            .transpose()?
            .unwrap_or(1);
        let per_page = get("per_page")
            .map(|p| number("per_page", p))
            .transpose()?
            .unwrap_or(MAX_PAGE_SIZE);
        if page < 1 || !(1..=MAX_PAGE_SIZE).contains(&per_page) {
            return Err(ApiError::invalid(
                "InvalidPaginationParameter",
                format!("page must be >= 1 and per_page between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if page.saturating_mul(per_page) > OFFSET_RECORD_LIMIT {
            return Err(ApiError::invalid(
                "InvalidPaginationParameter",
                format!(
                    "Offset pagination is limited to the first {OFFSET_RECORD_LIMIT} records. \
                     Use cursor pagination (page[size], page[after]) instead."
                ),
            ));
        }
        Ok(Paging::Offset { page, per_page })
    }

    /// Renders the page of `total` items (`item(i)` for each) under `key`, with links to `path`.
    pub(crate) fn render(
        self,
        key: &str,
        path: &str,
        total: u64,
        item: impl Fn(u64) -> Option<Value>,
    ) -> Value {
        let (start, len) = match self {
            Paging::Cursor { size, after } => (after, size),
            Paging::Offset { page, per_page } => ((page - 1).saturating_mul(per_page), per_page),
        };
        let end = start.saturating_add(len).min(total);
        let items: Vec<Value> = (start.min(end)..end).filter_map(item).collect();
        let has_more = end < total;
        match self {
            Paging::Cursor { size, .. } => {
                let after = (end > start).then(|| encode_cursor(end));
                let before = (end > start).then(|| encode_cursor(start));
                let next = (has_more).then(|| {
                    format!(
                        "{path}?page[size]={size}&page[after]={}",
                        encode_cursor(end)
                    )
                });
                json!({
                    key: items,
                    "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
                    "links": {"prev": null, "next": next},
                })
            }
            Paging::Offset { page, per_page } => {
                let next =
                    has_more.then(|| format!("{path}?page={}&per_page={per_page}", page + 1));
                let previous =
                    (page > 1).then(|| format!("{path}?page={}&per_page={per_page}", page - 1));
                json!({key: items, "next_page": next, "previous_page": previous, "count": total})
            }
        }
    }
}

fn number(param: &str, value: &str) -> Result<u64, ApiError> {
    value.parse().map_err(|_| {
        ApiError::invalid(
            "InvalidPaginationParameter",
            format!("{param} must be a positive integer"),
        )
    })
}

pub(crate) fn encode_cursor(position: u64) -> String {
    B64.encode(format!("zdl:{position}"))
}

fn decode_cursor(cursor: &str) -> Result<u64, ApiError> {
    B64.decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix("zdl:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            ApiError::invalid(
                "InvalidPaginationParameter",
                "page[after] is not a valid cursor",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Paging, ApiError> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Paging::parse(&params)
    }

    #[test]
    fn cursor_sizes_are_bounded_and_cursors_checked() {
        assert_eq!(
            parse(&[("page[size]", "100")]).unwrap(),
            Paging::Cursor {
                size: 100,
                after: 0
            }
        );
        for bad in ["0", "101", "x", "-1"] {
            assert!(parse(&[("page[size]", bad)]).is_err(), "{bad}");
        }
        let after = encode_cursor(40);
        assert_eq!(
            parse(&[("page[size]", "10"), ("page[after]", &after)]).unwrap(),
            Paging::Cursor {
                size: 10,
                after: 40
            }
        );
        assert!(parse(&[("page[size]", "10"), ("page[after]", "bogus!")]).is_err());
    }

    #[test]
    fn offset_paging_stops_at_ten_thousand_records() {
        assert_eq!(
            parse(&[]).unwrap(),
            Paging::Offset {
                page: 1,
                per_page: 100
            }
        );
        assert!(parse(&[("page", "100"), ("per_page", "100")]).is_ok());
        let err = parse(&[("page", "101"), ("per_page", "100")]).unwrap_err();
        assert_eq!(err.body()["error"], "InvalidPaginationParameter");
        assert!(parse(&[("page", "99999999999999999"), ("per_page", "100")]).is_err());
    }

    #[test]
    fn pages_say_whether_more_follow() {
        let page = Paging::Cursor { size: 2, after: 0 }.render("x", "/x", 3, |i| Some(i.into()));
        assert_eq!(page["x"], json!([0, 1]));
        assert_eq!(page["meta"]["has_more"], true);
        let page = Paging::Cursor { size: 2, after: 2 }.render("x", "/x", 3, |i| Some(i.into()));
        assert_eq!(page["x"], json!([2]));
        assert_eq!(page["meta"]["has_more"], false);
    }
}
