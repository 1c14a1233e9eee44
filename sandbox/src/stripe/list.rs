//! `GET /v1/{stream}` semantics: parameters, cursors, filters and `has_more`.
//!
//! `created` grows with the index (see [`super::space`]), so `created[...]` filters and
//! cursors all narrow one index range in O(1); only record filters (a subscription's status,
//! an event's type) and streams with gaps (refunds, balance transactions, events) need to look
//! at indices one by one, and then cheaply.

use poem::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::filters::Filters;
use super::space::per_second;
use super::{EVENT_RETENTION_SECS, Stream, StripeFake};

pub(crate) const DEFAULT_LIMIT: u64 = 10;
pub(crate) const MAX_LIMIT: u64 = 100;

/// A validated list request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListQuery {
    limit: u64,
    cursor: Option<Cursor>,
    /// Inclusive bounds on `created`.
    created_min: i64,
    created_max: i64,
    filters: Filters,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Cursor {
    StartingAfter(String),
    EndingBefore(String),
}

/// One page of records, newest first.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) data: Vec<Value>,
    pub(crate) has_more: bool,
}

impl ListQuery {
    /// Validates query parameters the way Stripe does (empty values count as absent).
    pub(crate) fn parse(
        fake: &StripeFake,
        stream: Stream,
        params: &[(String, String)],
    ) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            cursor: None,
            created_min: i64::MIN,
            created_max: i64::MAX,
            filters: Filters::defaults(stream),
        };
        let mut starting_after = None;
        let mut ending_before = None;
        for (name, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
            match name.as_str() {
                "limit" => query.limit = parse_limit(value)?,
                "starting_after" => starting_after = Some(value.clone()),
                "ending_before" => ending_before = Some(value.clone()),
                "created" => {
                    let at = parse_integer(name, value)?;
                    query.created_min = query.created_min.max(at);
                    query.created_max = query.created_max.min(at);
                }
                "created[gte]" => {
                    query.created_min = query.created_min.max(parse_integer(name, value)?)
                }
                "created[gt]" => {
                    let bound = parse_integer(name, value)?.saturating_add(1);
                    query.created_min = query.created_min.max(bound);
                }
                "created[lte]" => {
                    query.created_max = query.created_max.min(parse_integer(name, value)?)
                }
                "created[lt]" => {
                    let bound = parse_integer(name, value)?.saturating_sub(1);
                    query.created_max = query.created_max.min(bound);
                }
                name if name == "expand" || name.starts_with("expand[") => {
                    // Refused rather than ignored: a connector relying on expansion
                    // would otherwise pass here and break against real Stripe data.
                    return Err(ApiError::invalid_param(
                        name,
                        "The sandbox does not implement `expand`.",
                    ));
                }
                name => {
                    if !query.filters.apply(fake, stream, name, value)? {
                        return Err(ApiError::unknown_param(name));
                    }
                }
            }
        }
        query.cursor = match (starting_after, ending_before) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_param(
                    "ending_before",
                    "You may only specify one of these parameters: ending_before, starting_after.",
                ));
            }
            (Some(id), None) => Some(Cursor::StartingAfter(id)),
            (None, Some(id)) => Some(Cursor::EndingBefore(id)),
            (None, None) => None,
        };
        Ok(query)
    }

    /// The page this query selects from the stream as it is now.
    pub(crate) fn page(&self, fake: &StripeFake, stream: Stream) -> Result<Page, ApiError> {
        let per = i128::from(per_second(stream));
        let mut created_min = self.created_min;
        if stream == Stream::Events {
            created_min = created_min.max(fake.now().saturating_sub(EVENT_RETENTION_SECS));
        }
        // Work in i128 so `index ± 1` and the created arithmetic cannot overflow.
        let mut low = fake.timeline.first_index_at_or_after(created_min) * per;
        let mut high = ((fake.timeline.last_index_at_or_before(self.created_max) + 1) * per - 1)
            .min(i128::from(fake.span(stream)) - 1);
        if let Some(only) = self.filters.only {
            low = low.max(i128::from(only));
            high = high.min(i128::from(only));
        }
        let ascending = match &self.cursor {
            None => false,
            Some(Cursor::StartingAfter(id)) => {
                high = high.min(i128::from(resolve(fake, stream, id, "starting_after")?) - 1);
                false
            }
            Some(Cursor::EndingBefore(id)) => {
                low = low.max(i128::from(resolve(fake, stream, id, "ending_before")?) + 1);
                true
            }
        };
        if low > high || self.filters.nothing {
            return Ok(Page {
                data: Vec::new(),
                has_more: false,
            });
        }
        // Both bounds now lie within 0..span, so they fit in u64.
        let (low, high) = (low as u64, high as u64);
        let matches =
            |index: &u64| fake.listed(stream, *index) && self.filters.matches(fake, *index);
        let (indices, has_more) = if ascending {
            let (mut indices, has_more) = take_page((low..=high).filter(matches), self.limit);
            indices.reverse();
            (indices, has_more)
        } else {
            take_page((low..=high).rev().filter(matches), self.limit)
        };
        Ok(Page {
            data: indices
                .into_iter()
                .map(|index| fake.generate(stream, index))
                .collect(),
            has_more,
        })
    }
}

/// Up to `limit` indices, and whether at least one more follows.
fn take_page(mut indices: impl Iterator<Item = u64>, limit: u64) -> (Vec<u64>, bool) {
    let page: Vec<u64> = indices.by_ref().take(limit as usize).collect();
    let has_more = indices.next().is_some();
    (page, has_more)
}

/// The index a cursor id names; it must have been created (an event past the 30-day window
/// still marks a place in the list).
fn resolve(fake: &StripeFake, stream: Stream, id: &str, param: &str) -> Result<u64, ApiError> {
    fake.decode(stream, id)
        .filter(|&index| fake.exists(stream, index))
        .ok_or_else(|| ApiError::resource_missing(stream, id, param, StatusCode::BAD_REQUEST))
}

fn parse_limit(value: &str) -> Result<u64, ApiError> {
    let limit = parse_integer("limit", value)?;
    if limit < 1 {
        Err(ApiError::invalid_param(
            "limit",
            "This value must be greater than or equal to 1.",
        ))
    } else if limit > MAX_LIMIT as i64 {
        Err(ApiError::invalid_param(
            "limit",
            format!(
                "This value must be less than or equal to {MAX_LIMIT} (it currently is '{limit}')."
            ),
        ))
    } else {
        Ok(limit as u64)
    }
}

fn parse_integer(param: &str, value: &str) -> Result<i64, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::invalid_param(param, format!("Invalid integer: {value}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn parse(stream: Stream, pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        let fake = StripeFake::new(1, "sk_test_x".into(), |_| 10);
        ListQuery::parse(&fake, stream, &params(pairs))
    }

    #[test]
    fn limits_follow_stripe() {
        assert_eq!(parse(Stream::Customers, &[]).unwrap().limit, 10);
        assert_eq!(
            parse(Stream::Customers, &[("limit", "100")]).unwrap().limit,
            100
        );
        assert_eq!(
            parse(Stream::Customers, &[("limit", "")]).unwrap().limit,
            10
        );
        for bad in ["0", "101", "-1", "abc", "1.5", "99999999999999999999"] {
            let err = parse(Stream::Customers, &[("limit", bad)]).unwrap_err();
            assert_eq!(err.to_json()["error"]["param"], "limit", "{bad}");
        }
    }

    #[test]
    fn rejects_unknown_and_conflicting_parameters() {
        let err = parse(Stream::Customers, &[("status", "all")]).unwrap_err();
        assert_eq!(
            err.to_json()["error"]["message"],
            "Received unknown parameter: status"
        );
        assert!(parse(Stream::Customers, &[("expand[]", "data.customer")]).is_err());
        assert!(
            parse(
                Stream::Customers,
                &[("starting_after", "a"), ("ending_before", "b")]
            )
            .is_err()
        );
        assert!(parse(Stream::Subscriptions, &[("status", "bogus")]).is_err());
        assert!(parse(Stream::Subscriptions, &[("status", "past_due")]).is_ok());
    }

    #[test]
    fn take_page_reports_more_only_when_more_exist() {
        assert_eq!(take_page(0..5, 5), (vec![0, 1, 2, 3, 4], false));
        assert_eq!(take_page(0..6, 5), (vec![0, 1, 2, 3, 4], true));
        assert_eq!(take_page(0..0, 5), (vec![], false));
    }
}
