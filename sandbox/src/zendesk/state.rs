//! What the Zendesk fake stores: per stream, the initial count, when grown records were
//! created and which records were touched — and the walk in `updated_at` order the incremental
//! exports need.
//!
//! Untouched records are in `updated_at` order by index (initial records are spaced
//! [`CREATED_STEP`] apart, grown ones are created at the clock, which never goes back), so
//! the export order is that sequence merged with the touched records, which a sorted set keeps.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::{CREATED_BASE, CREATED_STEP};

/// One stream of the fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Tickets,
    Users,
    Organizations,
    Groups,
}

impl Kind {
    pub(crate) const ALL: [Kind; 4] = [
        Kind::Tickets,
        Kind::Users,
        Kind::Organizations,
        Kind::Groups,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The plural noun of the path (`/api/v2/{name}.json`) and of the response key.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Tickets => "tickets",
            Kind::Users => "users",
            Kind::Organizations => "organizations",
            Kind::Groups => "groups",
        }
    }

    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    pub(crate) fn spec(self) -> String {
        format!("zendesk.{}", self.name())
    }

    /// Zendesk ids are integers unique per resource type; tickets count from 1 as in a new
    /// account, the others sit in their own ranges so a mixed-up id never matches.
    pub(crate) fn id(self, index: u64) -> u64 {
        let base = match self {
            Kind::Tickets => 1,
            Kind::Users => 360_000_000_000,
            Kind::Organizations => 370_000_000_000,
            Kind::Groups => 380_000_000_000,
        };
        base + index
    }

    /// The index an id encodes, if it is one of this stream's.
    pub(crate) fn index(self, id: u64) -> Option<u64> {
        id.checked_sub(self.id(0))
    }
}

/// When a record was created and last updated, and how often it was touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) touches: u32,
}

/// The fake's mutable state.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) now: i64,
    streams: [StreamData; 4],
}

impl State {
    pub(crate) fn new(counts: [u64; 4]) -> Self {
        let newest = counts.iter().copied().max().unwrap_or_default();
        Self {
            now: created_of(newest).saturating_add(3_600),
            streams: counts.map(StreamData::new),
        }
    }

    pub(crate) fn stream(&self, kind: Kind) -> &StreamData {
        &self.streams[kind.slot()]
    }

    pub(crate) fn stream_mut(&mut self, kind: Kind) -> &mut StreamData {
        &mut self.streams[kind.slot()]
    }
}

/// `created_at` of initial record `index`.
fn created_of(index: u64) -> i64 {
    i64::try_from(index)
        .ok()
        .and_then(|i| i.checked_mul(CREATED_STEP))
        .and_then(|offset| offset.checked_add(CREATED_BASE))
        .unwrap_or(i64::MAX)
}

#[derive(Debug)]
pub(crate) struct StreamData {
    initial: u64,
    /// `created_at` of each record added by `grow`, in index order.
    grown: Vec<i64>,
    /// index -> (updated_at, touches).
    touched: BTreeMap<u64, (i64, u32)>,
    /// (updated_at, id, index) of every touched record.
    by_update: BTreeSet<(i64, u64, u64)>,
}

impl StreamData {
    fn new(initial: u64) -> Self {
        Self {
            initial,
            grown: Vec::new(),
            touched: BTreeMap::new(),
            by_update: BTreeSet::new(),
        }
    }

    pub(crate) fn count(&self) -> u64 {
        self.initial + self.grown.len() as u64
    }

    pub(crate) fn grow(&mut self, n: u64, now: i64) -> u64 {
        self.grown
            .extend(std::iter::repeat_n(now, usize::try_from(n).unwrap_or(0)));
        self.count()
    }

    pub(crate) fn touch(&mut self, index: u64, id: u64, now: i64) {
        if index >= self.count() {
            return;
        }
        let touches = match self.touched.get(&index) {
            Some(&(updated_at, touches)) => {
                self.by_update.remove(&(updated_at, id, index));
                touches + 1
            }
            None => 1,
        };
        self.touched.insert(index, (now, touches));
        self.by_update.insert((now, id, index));
    }

    fn created_at(&self, index: u64) -> Option<i64> {
        if index < self.initial {
            Some(created_of(index))
        } else {
            let grown = usize::try_from(index - self.initial).ok()?;
            self.grown.get(grown).copied()
        }
    }

    pub(crate) fn meta(&self, index: u64) -> Option<Meta> {
        let created_at = self.created_at(index)?;
        let (updated_at, touches) = self.touched.get(&index).copied().unwrap_or((created_at, 0));
        Some(Meta {
            created_at,
            updated_at,
            touches,
        })
    }

    pub(crate) fn metas(&self) -> Vec<Meta> {
        (0..self.count()).filter_map(|i| self.meta(i)).collect()
    }

    /// Up to `limit` records with `(updated_at, id)` after `position` and `updated_at` at or
    /// before `cutoff`, in that order; and whether more such records remain.
    pub(crate) fn changed_after(
        &self,
        kind: Kind,
        position: (i64, u64),
        cutoff: i64,
        limit: usize,
    ) -> (Vec<(u64, Meta)>, bool) {
        // The first untouched-order index whose key is past `position`.
        let (mut lo, mut hi) = (0, self.count());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let key = (self.created_at(mid).unwrap_or(i64::MAX), kind.id(mid));
            if key <= position {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut natural = lo;
        let mut touched = self
            .by_update
            .range((
                Bound::Excluded((position.0, position.1, u64::MAX)),
                Bound::Unbounded,
            ))
            .peekable();
        let mut out = Vec::new();
        loop {
            while natural < self.count() && self.touched.contains_key(&natural) {
                natural += 1;
            }
            let from_natural = (natural < self.count())
                .then(|| (self.created_at(natural).unwrap_or(i64::MAX), natural));
            let from_touched = touched.peek().map(|&&(at, _, index)| (at, index));
            let next = match (from_natural, from_touched) {
                (Some(n), Some(t)) if (t.0, kind.id(t.1)) < (n.0, kind.id(n.1)) => t,
                (Some(n), _) => n,
                (None, Some(t)) => t,
                (None, None) => return (out, false),
            };
            if next.0 > cutoff {
                return (out, false);
            }
            if out.len() >= limit {
                return (out, true);
            }
            if from_touched == Some(next) {
                touched.next();
            } else {
                natural += 1;
            }
            if let Some(meta) = self.meta(next.1) {
                out.push((next.1, meta));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_after_merges_touched_records_into_update_order() {
        let mut data = StreamData::new(5);
        let now = created_of(10);
        data.touch(1, Kind::Tickets.id(1), now);
        let all = |position, cutoff, limit| {
            let (items, more) = data.changed_after(Kind::Tickets, position, cutoff, limit);
            (items.into_iter().map(|(i, _)| i).collect::<Vec<_>>(), more)
        };
        assert_eq!(all((0, 0), i64::MAX, 100), (vec![0, 2, 3, 4, 1], false));
        assert_eq!(all((0, 0), i64::MAX, 2), (vec![0, 2], true));
        assert_eq!(all((created_of(2), 3), i64::MAX, 9), (vec![3, 4, 1], false));
        // The touch is too recent: it is left out, and nothing more is promised.
        assert_eq!(all((0, 0), now - 1, 100), (vec![0, 2, 3, 4], false));
        assert_eq!(all((now, 2), i64::MAX, 100), (vec![], false));
    }
}
