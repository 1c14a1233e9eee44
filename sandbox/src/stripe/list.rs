//! `GET /v1/{stream}` semantics: parameters, cursors, filters and `has_more`.
//!
//! `created` grows with the record index, so `created[...]` filters and cursors
//! all narrow one index range in O(1); only the subscription status filter needs
//! to look at records, and then only at their first random draw.

use poem::http::StatusCode;
use serde_json::Value;

use super::error::ApiError;
use super::{CREATED_BASE, CREATED_STEP, Stream, StripeFake, billing};

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
    status: StatusFilter,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Cursor {
    StartingAfter(String),
    EndingBefore(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum StatusFilter {
    /// Every record; all streams but subscriptions, and subscriptions with `status=all`.
    Any,
    /// Stripe's default for subscriptions: everything not canceled.
    NotCanceled,
    /// `status=ended`: canceled and incomplete_expired.
    Ended,
    Exactly(String),
}

/// One page of records, newest first.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) data: Vec<Value>,
    pub(crate) has_more: bool,
}

impl ListQuery {
    /// Validates query parameters the way Stripe does (empty values count as absent).
    pub(crate) fn parse(stream: Stream, params: &[(String, String)]) -> Result<Self, ApiError> {
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            cursor: None,
            created_min: i64::MIN,
            created_max: i64::MAX,
            status: if stream == Stream::Subscriptions {
                StatusFilter::NotCanceled
            } else {
                StatusFilter::Any
            },
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
                "status" if stream == Stream::Subscriptions => query.status = parse_status(value)?,
                name if name == "expand" || name.starts_with("expand[") => {
                    // Refused rather than ignored: a connector relying on expansion
                    // would otherwise pass here and break against real Stripe data.
                    return Err(ApiError::invalid_param(
                        name,
                        "The sandbox does not implement `expand`.",
                    ));
                }
                name => return Err(ApiError::unknown_param(name)),
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
        let count = fake.count_of(stream);
        // Work in i128 so `index ± 1` and the created arithmetic cannot overflow.
        let mut low = first_index_created_at_or_after(self.created_min);
        let mut high = last_index_created_at_or_before(self.created_max).min(i128::from(count) - 1);
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
        if low > high {
            return Ok(Page {
                data: Vec::new(),
                has_more: false,
            });
        }
        // Both bounds now lie within 0..count, so they fit in u64.
        let (low, high) = (low as u64, high as u64);
        let matches = |index: &u64| self.status.matches(fake, *index);
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

impl StatusFilter {
    fn matches(&self, fake: &StripeFake, index: u64) -> bool {
        let status = || billing::subscription_status(fake, index);
        match self {
            StatusFilter::Any => true,
            StatusFilter::NotCanceled => status() != "canceled",
            StatusFilter::Ended => matches!(status(), "canceled" | "incomplete_expired"),
            StatusFilter::Exactly(wanted) => status() == wanted,
        }
    }
}

/// Up to `limit` indices, and whether at least one more follows.
fn take_page(mut indices: impl Iterator<Item = u64>, limit: u64) -> (Vec<u64>, bool) {
    let page: Vec<u64> = indices.by_ref().take(limit as usize).collect();
    let has_more = indices.next().is_some();
    (page, has_more)
}

/// The index a cursor id names; it must exist now.
fn resolve(fake: &StripeFake, stream: Stream, id: &str, param: &str) -> Result<u64, ApiError> {
    fake.decode(stream, id)
        .filter(|&index| index < fake.count_of(stream))
        .ok_or_else(|| ApiError::resource_missing(stream, id, param, StatusCode::BAD_REQUEST))
}

/// Smallest index `i >= 0` with `created(i) >= at`.
fn first_index_created_at_or_after(at: i64) -> i128 {
    let offset = i128::from(at) - i128::from(CREATED_BASE);
    let step = i128::from(CREATED_STEP);
    // Ceiling division for positive offsets; anything at or before the base starts at 0.
    if offset <= 0 {
        0
    } else {
        (offset + step - 1) / step
    }
}

/// Largest index with `created(i) <= at`, or -1 when even record 0 is newer.
fn last_index_created_at_or_before(at: i64) -> i128 {
    let offset = i128::from(at) - i128::from(CREATED_BASE);
    if offset < 0 {
        -1
    } else {
        offset / i128::from(CREATED_STEP)
    }
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

fn parse_status(value: &str) -> Result<StatusFilter, ApiError> {
    match value {
        "all" => Ok(StatusFilter::Any),
        "ended" => Ok(StatusFilter::Ended),
        status if billing::is_subscription_status(status) => {
            Ok(StatusFilter::Exactly(status.to_owned()))
        }
        other => Err(ApiError::invalid_param(
            "status",
            format!(
                "Invalid status: must be one of active, all, canceled, ended, incomplete, \
                 incomplete_expired, past_due, paused, trialing, or unpaid (got '{other}')."
            ),
        )),
    }
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
        ListQuery::parse(stream, &params(pairs))
    }

    #[test]
    fn created_bounds_map_to_index_ranges() {
        assert_eq!(first_index_created_at_or_after(i64::MIN), 0);
        assert_eq!(first_index_created_at_or_after(CREATED_BASE), 0);
        assert_eq!(first_index_created_at_or_after(CREATED_BASE + 1), 1);
        assert_eq!(
            first_index_created_at_or_after(CREATED_BASE + CREATED_STEP),
            1
        );
        assert_eq!(last_index_created_at_or_before(CREATED_BASE - 1), -1);
        assert_eq!(last_index_created_at_or_before(CREATED_BASE), 0);
        assert_eq!(
            last_index_created_at_or_before(CREATED_BASE + CREATED_STEP - 1),
            0
        );
        assert!(last_index_created_at_or_before(i64::MAX) > 0);
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
