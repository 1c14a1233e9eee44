//! `POST /crm/v3/objects/{type}/search`: filters on the last-modified property, the
//! `total`, offset paging with `after`, and the 10,000-result cap.
//!
//! Untouched records are ordered by index (their `createdate` grows with it), touched
//! ones sit in a set ordered by their new time; a search merges the two, so a page
//! costs at most the 10,000 skipped results, never a scan of the whole stream.

use serde::Deserialize;
use serde_json::Value;

use super::error::ApiError;
use super::{
    HubSpotFake, SEARCH_RESULT_CAP, Stream, Version, created_in, objects, properties, version_in,
};

pub(crate) const DEFAULT_LIMIT: u64 = 10;
/// HubSpot's documented search page maximum (lists stop at 100).
pub(crate) const MAX_LIMIT: u64 = 200;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    sorts: Vec<Value>,
    #[serde(default)]
    limit: Option<Value>,
    #[serde(default)]
    after: Option<Value>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    properties: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: String,
    operator: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    high_value: Option<Value>,
}

/// A validated search: last-modified in `[from, to)`, ascending, one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SearchQuery {
    from: i64,
    to: i64,
    limit: u64,
    after: u64,
    /// The properties the answer carries (none named: HubSpot's defaults).
    pub(crate) properties: Vec<String>,
}

/// One page of search results.
#[derive(Debug)]
pub(crate) struct SearchPage {
    pub(crate) total: u64,
    pub(crate) results: Vec<Value>,
    pub(crate) next_after: Option<u64>,
}

impl SearchQuery {
    pub(crate) fn parse(stream: Stream, body: &[u8]) -> Result<Self, ApiError> {
        let body: Body = serde_json::from_slice(body)
            .map_err(|e| ApiError::validation(format!("Invalid input JSON: {e}")))?;
        if body.query.as_deref().is_some_and(|q| !q.trim().is_empty()) {
            return Err(ApiError::validation(
                "the sandbox does not support `query` text search",
            ));
        }
        let property = stream.modified_property();
        for sort in &body.sorts {
            let ascending_on_modified = match sort {
                Value::String(name) => name == property,
                Value::Object(sort) => {
                    sort.get("propertyName").and_then(Value::as_str) == Some(property)
                        && sort
                            .get("direction")
                            .and_then(Value::as_str)
                            .is_none_or(|d| d == "ASCENDING")
                }
                _ => false,
            };
            if !ascending_on_modified {
                return Err(ApiError::validation(format!(
                    "the sandbox sorts {} by `{property}` ascending only",
                    stream.name()
                )));
            }
        }
        if body.filter_groups.len() > 1 {
            return Err(ApiError::validation(
                "the sandbox supports one filter group",
            ));
        }
        let mut query = SearchQuery {
            from: i64::MIN,
            to: i64::MAX,
            limit: match body.limit {
                None | Some(Value::Null) => DEFAULT_LIMIT,
                Some(v) => v
                    .as_u64()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        ApiError::validation(format!("limit must be between 1 and {MAX_LIMIT}"))
                    })?,
            },
            after: match body.after {
                None | Some(Value::Null) => 0,
                Some(Value::String(s)) if s.is_empty() => 0,
                Some(v) => integer(&v)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::validation("`after` must be a non-negative integer offset")
                    })?,
            },
            properties: Vec::new(),
        };
        if query.after >= SEARCH_RESULT_CAP {
            return Err(ApiError::validation(format!(
                "Search results are limited to {SEARCH_RESULT_CAP} total results for any given \
                 query; `after` {} is past that.",
                query.after
            )));
        }
        query.properties = body.properties;
        for filter in body.filter_groups.iter().flat_map(|g| &g.filters) {
            query.narrow(stream, filter)?;
        }
        Ok(query)
    }

    fn narrow(&mut self, stream: Stream, filter: &Filter) -> Result<(), ApiError> {
        let property = stream.modified_property();
        if filter.property_name != property {
            return Err(ApiError::validation(format!(
                "the sandbox filters {} on `{property}` only, not `{}`",
                stream.name(),
                filter.property_name
            )));
        }
        let time = |value: &Option<Value>, name: &str| {
            value.as_ref().and_then(integer).ok_or_else(|| {
                ApiError::validation(format!(
                    "filter `{name}` on {property} must be epoch milliseconds or an ISO 8601 time"
                ))
            })
        };
        let value = time(&filter.value, "value")?;
        let (from, to) = match filter.operator.as_str() {
            "GTE" => (value, i64::MAX),
            "GT" => (value.saturating_add(1), i64::MAX),
            "LT" => (i64::MIN, value),
            "LTE" => (i64::MIN, value.saturating_add(1)),
            "EQ" => (value, value.saturating_add(1)),
            "BETWEEN" => (
                value,
                time(&filter.high_value, "highValue")?.saturating_add(1),
            ),
            other => {
                return Err(ApiError::validation(format!(
                    "the sandbox does not support operator `{other}` on {property}"
                )));
            }
        };
        self.from = self.from.max(from);
        self.to = self.to.min(to);
        Ok(())
    }
}

/// Epoch milliseconds from a number, a string of digits or an ISO 8601 time.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| {
            chrono::DateTime::parse_from_rfc3339(s.trim())
                .ok()
                .map(|t| t.timestamp_millis())
        }),
        _ => None,
    }
}

/// The first index in `0..count` for which `before` is false (`before` is monotonic).
fn partition(count: u64, before: impl Fn(u64) -> bool) -> u64 {
    let (mut lo, mut hi) = (0, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

impl HubSpotFake {
    pub(crate) fn search(&self, stream: Stream, query: &SearchQuery) -> SearchPage {
        let (total, hits) = self.search_hits(stream, query);
        let end = query
            .after
            .saturating_add(query.limit)
            .min(total)
            .min(SEARCH_RESULT_CAP);
        // Past 10,000 results HubSpot just stops offering pages: the trap this fake keeps.
        let next_after = (end < total && end < SEARCH_RESULT_CAP).then_some(end);
        let results = hits
            .into_iter()
            .map(|(index, version)| {
                let mut record = objects::record(self, stream, index, version);
                properties::select(&mut record, stream, &query.properties);
                record
            })
            .collect();
        SearchPage {
            total,
            results,
            next_after,
        }
    }

    /// The total and the page's `(index, version)`s, read under one lock.
    fn search_hits(&self, stream: Stream, query: &SearchQuery) -> (u64, Vec<(u64, Version)>) {
        let state = self.lock();
        let data = &state.streams[stream.slot()];
        let initial = self.initial_count(stream);
        if query.from >= query.to {
            return (0, Vec::new());
        }
        let created = |index| created_in(&state, data, initial, index);
        // Untouched records were last modified when created, in index order.
        let first = partition(data.count, |i| created(i) < query.from);
        let last = partition(data.count, |i| created(i) < query.to);
        let moved_out = data.touched.range(first..last).count() as u64;
        let moved = data.by_modified.range((query.from, 0)..(query.to, 0));
        let total = (last - first - moved_out) + moved.clone().count() as u64;

        let mut plain = (first..last)
            .filter(|i| !data.touched.contains_key(i))
            .map(|i| (created(i), i))
            .peekable();
        let mut moved = moved.copied().peekable();
        let merged = std::iter::from_fn(|| match (plain.peek(), moved.peek()) {
            (Some(a), Some(b)) if a <= b => plain.next(),
            (Some(_), Some(_)) | (None, Some(_)) => moved.next(),
            (Some(_), None) => plain.next(),
            (None, None) => None,
        });
        let skip = usize::try_from(query.after).unwrap_or(usize::MAX);
        let take = usize::try_from(query.limit).unwrap_or(usize::MAX);
        let hits = merged
            .skip(skip)
            .take(take)
            .map(|(_, index)| (index, version_in(&state, data, initial, index)))
            .collect();
        (total, hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<SearchQuery, ApiError> {
        SearchQuery::parse(Stream::Deals, body.to_string().as_bytes())
    }

    #[test]
    fn filters_narrow_a_half_open_range() {
        let q = parse(json!({"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "100"},
            {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": 200},
        ]}], "limit": 100, "after": "20", "properties": ["amount"]}))
        .unwrap();
        assert_eq!(
            q,
            SearchQuery {
                from: 100,
                to: 200,
                limit: 100,
                after: 20,
                properties: vec!["amount".into()],
            }
        );
        let q = parse(json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate",
            "operator": "BETWEEN", "value": "2020-09-13T12:26:40.000Z", "highValue": 1_600_000_000_500i64}]}]}))
        .unwrap();
        assert_eq!(
            (q.from, q.to, q.limit),
            (1_600_000_000_000, 1_600_000_000_501, 10)
        );
    }

    #[test]
    fn bad_searches_are_validation_errors() {
        for body in [
            json!({"limit": 201}),
            json!({"limit": 0}),
            json!({"after": "10000"}),
            json!({"after": "x"}),
            json!({"sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]}),
            json!({"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "GT", "value": "1"}]}]}),
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": "soon"}]}]}),
        ] {
            assert!(parse(body.clone()).is_err(), "{body}");
        }
        let contacts = json!({"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1"}]}]});
        assert!(SearchQuery::parse(Stream::Contacts, contacts.to_string().as_bytes()).is_err());
    }

    #[test]
    fn partition_finds_the_first_false() {
        assert_eq!(partition(10, |i| i < 4), 4);
        assert_eq!(partition(10, |_| true), 10);
        assert_eq!(partition(0, |_| true), 0);
    }
}
