//! Collection query parameters (`count`, `offset`, `sort_field`, `sort_dir`, member time
//! filters) and the page of indices they select.
//!
//! Unknown parameters are refused with a 400 rather than ignored: a connector with a typo in
//! `since_last_changed` would otherwise pass here and silently run full syncs against Mailchimp.

use super::error::ApiError;
use super::{Audience, time};

pub(crate) const DEFAULT_COUNT: u64 = 10;
pub(crate) const MAX_COUNT: u64 = 1_000;

/// A collection endpoint and what it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Collection {
    Lists,
    Members,
    Campaigns,
    Reports,
    Templates,
}

impl Collection {
    /// The field of the response holding the records.
    pub(crate) fn field(self) -> &'static str {
        match self {
            Collection::Lists => "lists",
            Collection::Members => "members",
            Collection::Campaigns => "campaigns",
            Collection::Reports => "reports",
            Collection::Templates => "templates",
        }
    }

    fn sort_fields(self) -> &'static [&'static str] {
        match self {
            Collection::Lists => &["date_created"],
            Collection::Members => &["timestamp_opt", "timestamp_signup", "last_changed"],
            Collection::Campaigns => &["create_time", "send_time"],
            Collection::Reports => &[],
            Collection::Templates => &["date_created", "date_edited"],
        }
    }
}

/// A validated collection request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) count: u64,
    pub(crate) offset: u64,
    /// Members changed strictly after this time (epoch seconds).
    pub(crate) since: Option<i64>,
    /// Members changed strictly before this time.
    pub(crate) before: Option<i64>,
    pub(crate) sort_field: Option<&'static str>,
    pub(crate) descending: bool,
}

impl Query {
    pub(crate) fn parse(what: Collection, params: &[(String, String)]) -> Result<Self, ApiError> {
        let mut query = Query {
            count: DEFAULT_COUNT,
            offset: 0,
            since: None,
            before: None,
            sort_field: None,
            descending: false,
        };
        for (name, value) in params {
            let value = value.trim();
            match name.as_str() {
                "count" => {
                    query.count = integer(name, value)?;
                    if query.count > MAX_COUNT {
                        return Err(ApiError::invalid_param(
                            name,
                            format!("must be less than or equal to {MAX_COUNT}."),
                        ));
                    }
                }
                "offset" => query.offset = integer(name, value)?,
                // Field selection changes only the shape; the fake always returns whole records.
                "fields" | "exclude_fields" => {}
                "since_last_changed" | "before_last_changed" if what == Collection::Members => {
                    let at = time::parse(value).ok_or_else(|| {
                        ApiError::invalid_param(
                            name,
                            "must be an ISO 8601 time, e.g. 2015-10-21T15:41:36+00:00.",
                        )
                    })?;
                    if name == "since_last_changed" {
                        query.since = Some(at);
                    } else {
                        query.before = Some(at);
                    }
                }
                "sort_field" => {
                    query.sort_field = Some(
                        what.sort_fields()
                            .iter()
                            .copied()
                            .find(|f| *f == value)
                            .ok_or_else(|| {
                                ApiError::invalid_param(
                                    name,
                                    format!("must be one of: {}.", what.sort_fields().join(", ")),
                                )
                            })?,
                    );
                }
                "sort_dir" if !what.sort_fields().is_empty() => {
                    query.descending = match value {
                        "ASC" => false,
                        "DESC" => true,
                        _ => return Err(ApiError::invalid_param(name, "must be ASC or DESC.")),
                    }
                }
                other => {
                    return Err(ApiError::invalid_param(
                        other,
                        "is not supported on this resource.",
                    ));
                }
            }
        }
        Ok(query)
    }

    /// The page of a collection whose records are in creation order (index 0 first).
    pub(crate) fn page(&self, total: u64) -> Vec<u64> {
        let take = self.count.min(total.saturating_sub(self.offset));
        (0..take)
            .map(|i| self.offset + i)
            .map(|i| if self.descending { total - 1 - i } else { i })
            .collect()
    }

    /// The page of an audience's members, and how many match the filters in all.
    pub(crate) fn members(&self, audience: &Audience) -> (Vec<u64>, u64) {
        let matches = |i: &u64| {
            let changed = audience.last_changed(*i);
            self.since.is_none_or(|s| changed > s) && self.before.is_none_or(|b| changed < b)
        };
        let count = usize::try_from(self.count).unwrap_or(usize::MAX);
        let offset = usize::try_from(self.offset).unwrap_or(usize::MAX);
        match self.sort_field {
            // Signup order is index order: stable under updates, new members at the end.
            Some("timestamp_signup" | "timestamp_opt") => {
                let total = (0..audience.count).filter(matches).count() as u64;
                let page = if self.descending {
                    (0..audience.count)
                        .rev()
                        .filter(matches)
                        .skip(offset)
                        .take(count)
                        .collect()
                } else {
                    (0..audience.count)
                        .filter(matches)
                        .skip(offset)
                        .take(count)
                        .collect()
                };
                (page, total)
            }
            // By `last_changed`, and the default (newest change first): positions move whenever a
            // member changes, which is the offset-paging trap the module docs describe.
            _ => {
                let mut all: Vec<(i64, u64)> = (0..audience.count)
                    .filter(matches)
                    .map(|i| (audience.last_changed(i), i))
                    .collect();
                let ascending = self.sort_field.is_some() && !self.descending;
                if ascending {
                    all.sort_unstable();
                } else {
                    all.sort_unstable_by(|a, b| b.cmp(a));
                }
                let total = all.len() as u64;
                (
                    all.into_iter()
                        .skip(offset)
                        .take(count)
                        .map(|(_, i)| i)
                        .collect(),
                    total,
                )
            }
        }
    }
}

fn integer(name: &str, value: &str) -> Result<u64, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::invalid_param(name, "must be a non-negative integer."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn count_is_capped_at_1000_and_params_are_checked() {
        let ok = Query::parse(
            Collection::Members,
            &params(&[("count", "1000"), ("offset", "5")]),
        );
        assert_eq!(ok.map(|q| (q.count, q.offset)), Ok((1000, 5)));
        for bad in [
            vec![("count", "1001")],
            vec![("count", "-1")],
            vec![("since_last_change", "2020-01-01T00:00:00+00:00")],
            vec![("since_last_changed", "yesterday")],
            vec![("sort_field", "email_address")],
            vec![("sort_dir", "up")],
        ] {
            assert!(
                Query::parse(Collection::Members, &params(&bad)).is_err(),
                "{bad:?}"
            );
        }
        assert!(
            Query::parse(
                Collection::Lists,
                &params(&[("since_last_changed", "2020-01-01T00:00:00Z")])
            )
            .is_err()
        );
        assert!(Query::parse(Collection::Reports, &params(&[("sort_dir", "ASC")])).is_err());
    }

    #[test]
    fn pages_stop_at_the_end() {
        let q = Query::parse(
            Collection::Campaigns,
            &params(&[("count", "4"), ("offset", "8")]),
        )
        .unwrap();
        assert_eq!(q.page(10), vec![8, 9]);
        assert_eq!(q.page(3), Vec::<u64>::new());
    }

    #[test]
    fn signup_order_is_stable_and_the_default_is_not() {
        let mut audience = Audience {
            initial: 6,
            count: 6,
            batches: vec![],
            touched: BTreeMap::new(),
        };
        let stable = Query::parse(
            Collection::Members,
            &params(&[
                ("count", "3"),
                ("sort_field", "timestamp_signup"),
                ("sort_dir", "ASC"),
            ]),
        )
        .unwrap();
        let default = Query::parse(Collection::Members, &params(&[("count", "3")])).unwrap();
        assert_eq!(stable.members(&audience), (vec![0, 1, 2], 6));
        assert_eq!(default.members(&audience), (vec![5, 4, 3], 6));
        audience.touched.insert(1, i64::MAX - 1);
        assert_eq!(stable.members(&audience).0, vec![0, 1, 2]);
        assert_eq!(default.members(&audience).0, vec![1, 5, 4]);
        let since = Query {
            since: Some(super::super::created_of(3)),
            ..stable
        };
        assert_eq!(since.members(&audience), (vec![1, 4, 5], 3));
    }
}
