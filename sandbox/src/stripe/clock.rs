//! The fake's timeline: when record `i` of any stream was created.
//!
//! All streams share one timeline, so record `i` of every stream is created in the same
//! second: `CREATED_BASE + i * CREATED_STEP` until the clock is advanced. Advancing the clock
//! starts a new segment at the first index no stream has reached yet, so records grown
//! afterwards are created after the pause, as objects created after a quiet month would be.
//! Existing records never move, and `created` keeps growing with the index, so `created[...]`
//! filters still narrow one index range.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{PoisonError, RwLock};

use super::{CREATED_BASE, CREATED_STEP};

#[derive(Debug)]
pub(crate) struct Timeline {
    /// `(first index, its created)`, ascending in both; the first is `(0, CREATED_BASE)`.
    segments: RwLock<Vec<(u64, i64)>>,
    /// The time the clock was last advanced to; `CREATED_BASE` before.
    clock: AtomicI64,
}

impl Default for Timeline {
    fn default() -> Self {
        Self {
            segments: RwLock::new(vec![(0, CREATED_BASE)]),
            clock: AtomicI64::new(CREATED_BASE),
        }
    }
}

impl Timeline {
    fn segments(&self) -> std::sync::RwLockReadGuard<'_, Vec<(u64, i64)>> {
        self.segments.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// `created` of record `index`, saturating instead of wrapping.
    pub(crate) fn created(&self, index: u64) -> i64 {
        let segments = self.segments();
        let (first, base) = segments
            .iter()
            .rev()
            .find(|(first, _)| *first <= index)
            .copied()
            .unwrap_or((0, CREATED_BASE));
        let at = i128::from(base) + i128::from(index - first) * i128::from(CREATED_STEP);
        i64::try_from(at).unwrap_or(i64::MAX)
    }

    /// The time the clock was last advanced to.
    pub(crate) fn clock(&self) -> i64 {
        self.clock.load(Ordering::Acquire)
    }

    /// Smallest index `i >= 0` with `created(i) >= at`.
    pub(crate) fn first_index_at_or_after(&self, at: i64) -> i128 {
        let segments = self.segments();
        let step = i128::from(CREATED_STEP);
        for (k, &(first, base)) in segments.iter().enumerate() {
            let offset = i128::from(at) - i128::from(base);
            // Ceiling division for positive offsets; anything at or before the base is `first`.
            let candidate = if offset <= 0 {
                i128::from(first)
            } else {
                i128::from(first) + (offset + step - 1) / step
            };
            match segments.get(k + 1) {
                Some(&(next, _)) if candidate >= i128::from(next) => continue,
                _ => return candidate,
            }
        }
        0
    }

    /// Largest index with `created(i) <= at`, or -1 when even record 0 is newer.
    pub(crate) fn last_index_at_or_before(&self, at: i64) -> i128 {
        let segments = self.segments();
        for (k, &(first, base)) in segments.iter().enumerate().rev() {
            if at < base {
                continue;
            }
            let candidate =
                i128::from(first) + (i128::from(at) - i128::from(base)) / i128::from(CREATED_STEP);
            return match segments.get(k + 1) {
                Some(&(next, _)) => candidate.min(i128::from(next) - 1),
                None => candidate,
            };
        }
        -1
    }

    /// Moves the clock from `now` to `now + secs`; records from `next_index` on are created
    /// from then on. Returns the new time.
    pub(crate) fn advance(&self, next_index: u64, now: i64, secs: u64) -> i64 {
        let at = now.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX));
        let mut segments = self
            .segments
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match segments.last_mut() {
            // Nothing was created since the last advance: move that segment instead.
            Some(last) if last.0 == next_index => last.1 = at,
            _ => segments.push((next_index, at)),
        }
        self.clock.store(at, Ordering::Release);
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_segment_is_the_plain_formula() {
        let timeline = Timeline::default();
        assert_eq!(timeline.created(0), CREATED_BASE);
        assert_eq!(timeline.created(2), CREATED_BASE + 2 * CREATED_STEP);
        assert_eq!(timeline.created(u64::MAX), i64::MAX);
        assert_eq!(timeline.first_index_at_or_after(i64::MIN), 0);
        assert_eq!(timeline.first_index_at_or_after(CREATED_BASE), 0);
        assert_eq!(timeline.first_index_at_or_after(CREATED_BASE + 1), 1);
        assert_eq!(
            timeline.first_index_at_or_after(CREATED_BASE + CREATED_STEP),
            1
        );
        assert_eq!(timeline.last_index_at_or_before(CREATED_BASE - 1), -1);
        assert_eq!(timeline.last_index_at_or_before(CREATED_BASE), 0);
        assert_eq!(
            timeline.last_index_at_or_before(CREATED_BASE + CREATED_STEP - 1),
            0
        );
        assert!(timeline.last_index_at_or_before(i64::MAX) > 0);
    }

    #[test]
    fn advancing_leaves_old_records_and_dates_new_ones_later() {
        let timeline = Timeline::default();
        let now = timeline.created(9);
        let at = timeline.advance(10, now, 86_400);
        assert_eq!(at, now + 86_400);
        assert_eq!(timeline.clock(), at);
        assert_eq!(timeline.created(9), now);
        assert_eq!(timeline.created(10), at);
        assert_eq!(timeline.created(11), at + CREATED_STEP);
        // The gap between the segments holds no index.
        assert_eq!(timeline.first_index_at_or_after(now + 1), 10);
        assert_eq!(timeline.last_index_at_or_before(at - 1), 9);
        assert_eq!(timeline.first_index_at_or_after(at + 1), 11);
        assert_eq!(timeline.last_index_at_or_before(at + CREATED_STEP), 11);
        assert_eq!(timeline.last_index_at_or_before(now), 9);

        // A second advance before anything grew moves the pending segment.
        let later = timeline.advance(10, at, 60);
        assert_eq!(timeline.created(10), later);
        assert_eq!(timeline.segments().len(), 2);
    }
}
