//! `GET /api/3/{stream}` semantics: `limit`/`offset`, `orders[id]`, `id_greater` and the
//! `filters[updated_*]` bounds, and `meta.total`.
//!
//! Without an `updated` filter the matching records are one index range, so a page costs
//! O(limit) however large the stream; with one, untouched records are still a range (their
//! update time grows with the index) and only the touched ones are looked up one by one.

use serde_json::Value;

use super::{ActiveCampaignFake, Stream, time};

pub(crate) const DEFAULT_LIMIT: u64 = 20;
pub(crate) const MAX_LIMIT: u64 = 100;

/// A parameter ActiveCampaign refuses, with the message it answers 400 with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadParam(pub(crate) String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    IdAscending,
    IdDescending,
}

/// A validated list request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ListQuery {
    limit: u64,
    offset: u64,
    /// Records with an index at or past this (`id_greater=<index>` means ids above it).
    first_index: u64,
    order: Order,
    updated_min: i64,
    updated_max: i64,
}

/// One page and the total the query matches.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) records: Vec<Value>,
    pub(crate) total: u64,
}

impl ListQuery {
    /// Reads the parameters the way ActiveCampaign does: unknown ones are ignored, `limit`
    /// above 100 is capped, and a parameter a stream does not support has no effect.
    pub(crate) fn parse(stream: Stream, params: &[(String, String)]) -> Result<Self, BadParam> {
        let mut query = ListQuery {
            limit: DEFAULT_LIMIT,
            offset: 0,
            first_index: 0,
            // The trap: contacts without an order come newest first, so offsets shift as
            // contacts are added. Other resources list in id order.
            order: if stream == Stream::Contacts {
                Order::IdDescending
            } else {
                Order::IdAscending
            },
            updated_min: i64::MIN,
            updated_max: i64::MAX,
        };
        for (name, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
            match name.as_str() {
                "limit" => query.limit = number(name, value)?.clamp(1, MAX_LIMIT),
                "offset" => query.offset = number(name, value)?,
                "id_greater" if stream == Stream::Contacts => {
                    query.first_index = number(name, value)?
                }
                "orders[id]" => {
                    query.order = match value.to_ascii_uppercase().as_str() {
                        "ASC" => Order::IdAscending,
                        "DESC" => Order::IdDescending,
                        _ => return Err(BadParam(format!("Invalid sort direction for {name}"))),
                    }
                }
                "filters[updated_after]" if stream.has_updated_filter() => {
                    query.updated_min = query.updated_min.max(timestamp(name, value)?)
                }
                "filters[updated_before]" if stream.has_updated_filter() => {
                    query.updated_max = query.updated_max.min(timestamp(name, value)?)
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// The page this query selects from the stream as it is now.
    pub(crate) fn page(&self, fake: &ActiveCampaignFake, stream: Stream) -> Page {
        let indices = self.matching(fake, stream);
        let total = indices.len() as u64;
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        let records = match self.order {
            Order::IdAscending => pick(indices.iter(), skip, self.limit),
            Order::IdDescending => pick(indices.iter().rev(), skip, self.limit),
        }
        .into_iter()
        .map(|index| fake.generate(stream, index))
        .collect();
        Page { records, total }
    }

    /// Every matching index in id order.
    fn matching(&self, fake: &ActiveCampaignFake, stream: Stream) -> Matches {
        let count = fake.count_of(stream);
        let low = self.first_index.min(count);
        if self.updated_min == i64::MIN && self.updated_max == i64::MAX {
            return Matches::Range(low..count);
        }
        let touched = fake.touched(stream);
        let in_window = |at: i64| (self.updated_min..=self.updated_max).contains(&at);
        // Untouched records were last updated when created, which grows with the index.
        let untouched = (first_created_at_or_after(self.updated_min).max(low)..count)
            .take_while(|&i| ActiveCampaignFake::created_of(i) <= self.updated_max)
            .filter(|i| !touched.contains_key(i));
        let mut indices: Vec<u64> = touched
            .range(low..count)
            .filter(|(_, at)| in_window(**at))
            .map(|(index, _)| *index)
            .chain(untouched)
            .collect();
        indices.sort_unstable();
        Matches::List(indices)
    }
}

enum Matches {
    Range(std::ops::Range<u64>),
    List(Vec<u64>),
}

impl Matches {
    fn len(&self) -> usize {
        match self {
            Matches::Range(range) => usize::try_from(range.end - range.start).unwrap_or(usize::MAX),
            Matches::List(list) => list.len(),
        }
    }

    fn iter(&self) -> Box<dyn DoubleEndedIterator<Item = u64> + '_> {
        match self {
            Matches::Range(range) => Box::new(range.clone()),
            Matches::List(list) => Box::new(list.iter().copied()),
        }
    }
}

fn pick(mut indices: impl Iterator<Item = u64>, skip: usize, limit: u64) -> Vec<u64> {
    if skip > 0 && indices.nth(skip - 1).is_none() {
        return Vec::new();
    }
    indices.take(limit as usize).collect()
}

/// The smallest index created at or after `at`.
fn first_created_at_or_after(at: i64) -> u64 {
    let offset = i128::from(at) - i128::from(super::CREATED_BASE);
    let step = i128::from(super::CREATED_STEP);
    if offset <= 0 {
        0
    } else {
        u64::try_from((offset + step - 1) / step).unwrap_or(u64::MAX)
    }
}

fn number(name: &str, value: &str) -> Result<u64, BadParam> {
    value.trim().parse().map_err(|_| {
        BadParam(format!(
            "The {name} parameter must be a non-negative integer"
        ))
    })
}

fn timestamp(name: &str, value: &str) -> Result<i64, BadParam> {
    time::parse(value).ok_or_else(|| BadParam(format!("Invalid date format for {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stream: Stream, pairs: &[(&str, &str)]) -> Result<ListQuery, BadParam> {
        let params: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ListQuery::parse(stream, &params)
    }

    fn ids(page: &Page) -> Vec<String> {
        page.records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn limits_are_capped_and_unknown_parameters_ignored() {
        let query = parse(
            Stream::Deals,
            &[("limit", "500"), ("id_greater", "3"), ("x", "y")],
        );
        let query = query.unwrap();
        assert_eq!((query.limit, query.first_index), (MAX_LIMIT, 0));
        assert!(parse(Stream::Deals, &[("limit", "ten")]).is_err());
        assert!(parse(Stream::Contacts, &[("filters[updated_after]", "soon")]).is_err());
        assert!(parse(Stream::Contacts, &[("orders[id]", "sideways")]).is_err());
    }

    #[test]
    fn keyset_and_updated_filters_select_the_right_records() {
        let fake = ActiveCampaignFake::new(1, |_| 10);
        let page = parse(
            Stream::Contacts,
            &[("orders[id]", "ASC"), ("id_greater", "7")],
        )
        .unwrap()
        .page(&fake, Stream::Contacts);
        assert_eq!(
            (ids(&page), page.total),
            (vec!["8".into(), "9".into(), "10".into()], 3)
        );

        fake.touch("contacts", 1);
        let after = time::iso(ActiveCampaignFake::created_of(8));
        let page = parse(
            Stream::Contacts,
            &[("orders[id]", "asc"), ("filters[updated_after]", &after)],
        )
        .unwrap()
        .page(&fake, Stream::Contacts);
        assert_eq!(ids(&page), vec!["2", "9", "10"]);

        let newest_first = parse(Stream::Contacts, &[("limit", "2"), ("offset", "1")])
            .unwrap()
            .page(&fake, Stream::Contacts);
        assert_eq!(
            (ids(&newest_first), newest_first.total),
            (vec!["9".into(), "8".into()], 10)
        );
        let past_the_end = parse(Stream::Lists, &[("offset", "10")])
            .unwrap()
            .page(&fake, Stream::Lists);
        assert!(past_the_end.records.is_empty());
    }
}
