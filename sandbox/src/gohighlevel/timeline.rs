//! When each contact of one location was added and last updated, without storing contacts.
//!
//! Contact `i` is added at a time that grows with `i`: the initial contacts sit one step apart
//! from a base, and every `grow` starts a new segment after the newest time the location has
//! seen (a contact added after an edit is newer than the edit). A `touch` moves one contact's
//! `dateUpdated` to a fresh, later time. Every `dateUpdated` is therefore unique, and a search
//! sorted by it walks two ordered sequences (untouched contacts by index, touched ones by time)
//! merged, so a page costs O(page size + touched), never O(contacts).

use std::collections::BTreeMap;

/// Milliseconds between consecutive contacts (and between consecutive edits).
pub(crate) const STEP_MS: i64 = 60_000;

#[derive(Debug)]
pub(crate) struct Timeline {
    /// `(first index, its dateAdded)`, both strictly increasing.
    segments: Vec<(u64, i64)>,
    /// Index -> dateUpdated of touched contacts.
    touched: BTreeMap<u64, i64>,
    /// dateUpdated -> index of touched contacts.
    by_time: BTreeMap<i64, u64>,
    count: u64,
    /// The newest time handed out (dateAdded or dateUpdated).
    clock: i64,
}

impl Timeline {
    pub(crate) fn new(base_ms: i64, count: u64) -> Self {
        let mut timeline = Self {
            segments: vec![(0, base_ms)],
            touched: BTreeMap::new(),
            by_time: BTreeMap::new(),
            count,
            clock: base_ms - STEP_MS,
        };
        if count > 0 {
            timeline.clock = timeline.added(count - 1);
        }
        timeline
    }

    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// `dateAdded` of contact `index` (also defined past the count).
    pub(crate) fn added(&self, index: u64) -> i64 {
        let slot = self
            .segments
            .partition_point(|&(start, _)| start <= index)
            .saturating_sub(1);
        let (start, at) = self.segments[slot.min(self.segments.len() - 1)];
        let steps = i64::try_from(index.saturating_sub(start)).unwrap_or(i64::MAX);
        at.saturating_add(steps.saturating_mul(STEP_MS))
    }

    pub(crate) fn updated(&self, index: u64) -> i64 {
        self.touched
            .get(&index)
            .copied()
            .unwrap_or_else(|| self.added(index))
    }

    /// Adds `n` contacts newer than anything the location has seen; returns the new count.
    pub(crate) fn grow(&mut self, n: u64) -> u64 {
        if n == 0 {
            return self.count;
        }
        if self.added(self.count) <= self.clock {
            self.segments.push((self.count, self.clock + STEP_MS));
        }
        self.count = self.count.saturating_add(n);
        self.clock = self.clock.max(self.added(self.count - 1));
        self.count
    }

    /// Edits contact `index`: its `dateUpdated` becomes the newest time. `None` past the count.
    pub(crate) fn touch(&mut self, index: u64) -> Option<i64> {
        if index >= self.count {
            return None;
        }
        self.clock += STEP_MS;
        if let Some(old) = self.touched.insert(index, self.clock) {
            self.by_time.remove(&old);
        }
        self.by_time.insert(self.clock, index);
        Some(self.clock)
    }

    /// The first index whose `dateAdded` is at or after `ms` (`count` when none is).
    fn first_added_at_or_after(&self, ms: i64) -> u64 {
        let after = self.segments.partition_point(|&(_, at)| at <= ms);
        let index = match after.checked_sub(1) {
            None => 0,
            Some(slot) => {
                let (start, at) = self.segments[slot];
                let steps = (ms - at).div_euclid(STEP_MS) + i64::from((ms - at) % STEP_MS != 0);
                let end = self.segments.get(after).map_or(u64::MAX, |s| s.0);
                start
                    .saturating_add(u64::try_from(steps).unwrap_or(0))
                    .min(end)
            }
        };
        index.min(self.count)
    }

    /// How many contacts have `dateUpdated` in `lo..=hi`.
    pub(crate) fn count_updated_in(&self, lo: i64, hi: i64) -> u64 {
        if lo > hi {
            return 0;
        }
        let (a, b) = (
            self.first_added_at_or_after(lo),
            self.first_added_at_or_after(hi.saturating_add(1)),
        );
        let moved_out = self.touched.range(a..b).count() as u64;
        let moved_in = self.by_time.range(lo..=hi).count() as u64;
        (b - a) - moved_out + moved_in
    }

    /// Up to `limit` indices with `dateUpdated` in `lo..=hi` and `(dateUpdated, id)` after
    /// `after`, ascending by `(dateUpdated, id)`.
    pub(crate) fn page_ascending(
        &self,
        lo: i64,
        hi: i64,
        after: Option<(i64, &str)>,
        limit: usize,
        id: impl Fn(u64) -> String,
    ) -> Vec<u64> {
        let lo = after.map_or(lo, |(at, _)| lo.max(at));
        if lo > hi {
            return Vec::new();
        }
        let past_cursor = |at: i64, index: u64| match after {
            Some((after_at, after_id)) if at == after_at => id(index).as_str() > after_id,
            _ => true,
        };
        let mut untouched = (self.first_added_at_or_after(lo)..self.count)
            .filter(|i| !self.touched.contains_key(i))
            .map(|i| (self.added(i), i))
            .take_while(|&(at, _)| at <= hi)
            .filter(|&(at, i)| past_cursor(at, i))
            .peekable();
        let mut touched = self
            .by_time
            .range(lo..=hi)
            .map(|(&at, &i)| (at, i))
            .filter(|&(at, i)| past_cursor(at, i))
            .peekable();
        let mut page = Vec::with_capacity(limit.min(1_000));
        while page.len() < limit {
            let next = match (untouched.peek(), touched.peek()) {
                (Some(u), Some(t)) if t.0 < u.0 => touched.next(),
                (Some(_), _) => untouched.next(),
                (None, Some(_)) => touched.next(),
                (None, None) => None,
            };
            match next {
                Some((_, index)) => page.push(index),
                None => break,
            }
        }
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(t: &Timeline, limit: usize) -> Vec<u64> {
        let id = |i: u64| format!("{i:08}");
        let mut all = Vec::new();
        let mut after: Option<(i64, String)> = None;
        loop {
            let page = t.page_ascending(
                i64::MIN,
                i64::MAX,
                after.as_ref().map(|(a, s)| (*a, s.as_str())),
                limit,
                id,
            );
            let Some(&last) = page.last() else {
                return all;
            };
            after = Some((t.updated(last), id(last)));
            all.extend(page);
        }
    }

    #[test]
    fn touched_contacts_move_to_the_end_and_growth_comes_after_edits() {
        let mut t = Timeline::new(1_000_000, 5);
        assert_eq!(walk(&t, 2), vec![0, 1, 2, 3, 4]);
        let edited = t.touch(1).unwrap();
        assert!(edited > t.added(4));
        assert_eq!(t.grow(2), 7);
        assert!(
            t.added(5) > edited,
            "a contact added after an edit is newer"
        );
        assert_eq!(walk(&t, 3), vec![0, 2, 3, 4, 1, 5, 6]);
        assert_eq!(t.count_updated_in(i64::MIN, i64::MAX), 7);
        assert_eq!(t.count_updated_in(edited, i64::MAX), 3);
        let page = t.page_ascending(edited, i64::MAX, None, 10, |i| i.to_string());
        assert_eq!(page, vec![1, 5, 6]);
        assert_eq!(t.touch(7), None);
    }

    #[test]
    fn first_index_at_or_after_a_time() {
        let mut t = Timeline::new(0, 3);
        t.touch(0);
        t.grow(2);
        for ms in [-5, 0, 1, STEP_MS, 2 * STEP_MS + 1, 3 * STEP_MS, i64::MAX] {
            let i = t.first_added_at_or_after(ms);
            assert!(i == t.count() || t.added(i) >= ms, "{ms} -> {i}");
            assert!(i == 0 || t.added(i - 1) < ms, "{ms} -> {i}");
        }
    }
}
