//! Which indices of each stream name a record now.
//!
//! The counted streams (customers … subscriptions) hold records `0..count`. The others follow
//! charges: payment intent `i` is charge `i`'s, refund `i` exists when charge `i` is refunded,
//! balance transactions `2i` and `2i + 1` are charge `i`'s and its refund's, and event
//! `8i + k` is the creation of record `i` of the `k`-th source (see [`events`]). So each
//! stream's records keep one order by index, and index `v` is created in second `v / per`, where
//! `per` is [`per_second`]: what `created[...]` filters and cursors rely on.

use super::{EVENT_RETENTION_SECS, SETTLEMENT_SECS, Stream, StripeFake, balance, charges, events};

/// How many indices of `stream` share one second of the timeline.
pub(crate) fn per_second(stream: Stream) -> u64 {
    match stream {
        Stream::BalanceTransactions => 2,
        Stream::Events => events::PER_SECOND,
        _ => 1,
    }
}

impl StripeFake {
    /// How many records of `stream` a full listing returns now (for events: of the last 30 days).
    pub(crate) fn count_of(&self, stream: Stream) -> u64 {
        let charges = self.counted(Stream::Charges);
        match stream {
            Stream::PaymentIntents => charges,
            Stream::Refunds => charges::refunded_below(charges),
            Stream::BalanceTransactions => balance::count(charges),
            Stream::Events => {
                let oldest = self.oldest_retained_second();
                events::SOURCES
                    .iter()
                    .map(|&source| {
                        self.existing_below(source, u64::MAX)
                            .saturating_sub(self.existing_below(source, oldest))
                    })
                    .sum()
            }
            counted => self.counted(counted),
        }
    }

    /// One past the highest index of `stream` that may name a record now.
    pub(crate) fn span(&self, stream: Stream) -> u64 {
        match stream {
            Stream::PaymentIntents | Stream::Refunds => self.counted(Stream::Charges),
            Stream::BalanceTransactions => balance::of_charge(self.counted(Stream::Charges)),
            Stream::Events => self.newest_count().saturating_mul(events::PER_SECOND),
            counted => self.counted(counted),
        }
    }

    /// Whether index `index` of `stream` names a record that was created, whether or not a
    /// listing still shows it (events expire; their ids stay valid as cursors).
    pub(crate) fn exists(&self, stream: Stream, index: u64) -> bool {
        let charges = self.counted(Stream::Charges);
        match stream {
            Stream::PaymentIntents => index < charges,
            Stream::Refunds => index < charges && charges::refunded(index),
            Stream::BalanceTransactions => balance::exists(index, charges),
            Stream::Events => {
                let (source, record) = events::source(index);
                self.exists(source, record)
            }
            counted => index < self.counted(counted),
        }
    }

    /// Whether a listing or retrieval shows record `index` of `stream` now.
    pub(crate) fn listed(&self, stream: Stream, index: u64) -> bool {
        self.exists(stream, index)
            && (stream != Stream::Events
                || index / events::PER_SECOND >= self.oldest_retained_second())
    }

    /// `created` of index `index` of `stream`.
    pub(crate) fn created_in(&self, stream: Stream, index: u64) -> i64 {
        self.created(index / per_second(stream))
    }

    /// The fake's present: the newest record's creation, or the time the clock was advanced
    /// to if that is later.
    pub fn now(&self) -> i64 {
        let clock = self.timeline.clock();
        match self.newest_count().checked_sub(1) {
            Some(newest) => clock.max(self.created(newest)),
            None => clock,
        }
    }

    /// Whether something created with record `index` has settled by now: pending charges,
    /// payment intents and refunds succeed, and balance transactions become available,
    /// [`SETTLEMENT_SECS`] after creation.
    pub(crate) fn settled(&self, index: u64) -> bool {
        self.now() >= self.created(index).saturating_add(SETTLEMENT_SECS)
    }

    /// The first timeline index whose events a listing still shows.
    fn oldest_retained_second(&self) -> u64 {
        let oldest = self
            .timeline
            .first_index_at_or_after(self.now().saturating_sub(EVENT_RETENTION_SECS));
        u64::try_from(oldest).unwrap_or(u64::MAX)
    }

    /// How many records of `stream` (one that emits events) have an index below `n`.
    fn existing_below(&self, stream: Stream, n: u64) -> u64 {
        match stream {
            Stream::PaymentIntents => n.min(self.counted(Stream::Charges)),
            Stream::Refunds => charges::refunded_below(n.min(self.counted(Stream::Charges))),
            other => n.min(self.counted(other)),
        }
    }

    /// The largest count of any counted stream: one past the newest index on the timeline.
    pub(super) fn newest_count(&self) -> u64 {
        Stream::ALL
            .into_iter()
            .filter(|stream| stream.follows().is_none())
            .map(|stream| self.counted(stream))
            .max()
            .unwrap_or(0)
    }
}
