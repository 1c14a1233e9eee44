//! A fake of ActiveCampaign's API v3 list endpoints: contacts, deals, lists, campaigns and
//! automations at `GET /api/3/{stream}`.
//!
//! It follows the documented behaviour a connector can notice: the `Api-Token` header (a wrong,
//! missing or revoked key gets 403, as ActiveCampaign answers), `limit` (default 20, capped at
//! 100) and `offset`, totals as strings in `meta.total`, contacts' `orders[id]=ASC` with the
//! `id_greater` keyset, and `filters[updated_after]` / `filters[updated_before]` on contacts and
//! deals (inclusive). Unknown parameters are ignored, as ActiveCampaign does.
//!
//! Ids are numeric strings, `"1"` for record 0. Record `i` is created at
//! `CREATED_BASE + i * CREATED_STEP` and, until touched, last updated then too. The trap:
//! contacts listed without an order come newest first, so offset paging while contacts are
//! added shifts every page by the number added (duplicates); `orders[id]=ASC&id_greater=` does
//! not shift. [`ActiveCampaignFake::touch`] bumps a record's update time past every other one.

pub(crate) mod api;
mod list;
mod records;
mod stream;
mod time;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::generate;
pub(crate) use stream::Stream;

/// The streams the fake serves.
pub const STREAMS: [&str; 5] = ["contacts", "deals", "lists", "campaigns", "automations"];

/// The API token the fake accepts (real tokens are 72 hex characters; this one says what it is).
pub const DEFAULT_API_KEY: &str =
    "5a1dbc0e0c0ffee0sandbox0000000000000000000000000000000000000000000000001";

/// `cdate` of record 0: 2020-09-13.
pub const CREATED_BASE: i64 = 1_600_000_000;
/// Seconds between consecutive records of a stream.
pub const CREATED_STEP: i64 = 3_600;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    if stream == "contacts" { 100 } else { 20 }
}

/// The ActiveCampaign fake's data: lazily generated streams whose counts can grow and whose
/// records can be touched (updated).
#[derive(Debug)]
pub struct ActiveCampaignFake {
    api_key: String,
    revoked: AtomicBool,
    streams: [StreamState; 5],
}

#[derive(Debug)]
struct StreamState {
    key: u64,
    initial_count: u64,
    count: AtomicU64,
    /// Update times of touched records, by index; everything else was last updated when created.
    touched: Mutex<BTreeMap<u64, i64>>,
}

impl StreamState {
    fn touched(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, i64>> {
        // Every update is a single insert, so a poisoned map is still consistent.
        self.touched.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ActiveCampaignFake {
    pub(crate) fn new(seed: u64, counts: impl Fn(Stream) -> u64) -> Self {
        let streams = Stream::ALL.map(|stream| StreamState {
            key: generate::namespace_key(seed, &stream.spec()),
            initial_count: counts(stream),
            count: AtomicU64::new(counts(stream)),
            touched: Mutex::new(BTreeMap::new()),
        });
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            revoked: AtomicBool::new(false),
            streams,
        }
    }

    /// The `Api-Token` requests must carry.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Revokes the key, as deleting the user or resetting its key does: requests get 403.
    pub fn revoke_key(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    pub fn key_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// How many records `stream` holds now.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods.
    pub fn count(&self, stream: &str) -> u64 {
        self.count_of(known(stream))
    }

    /// Adds `n` records newer than every existing one (higher ids); returns the new count.
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        let count = &self.state(known(stream)).count;
        let before = count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some(c.saturating_add(n))
            })
            .unwrap_or_else(|current| current);
        before.saturating_add(n)
    }

    /// Updates record `index`, as an edit in the app does: its update time moves past every
    /// record's. Returns the record's id, or `None` when no such record exists yet.
    pub fn touch(&self, stream: &str, index: u64) -> Option<String> {
        let stream = known(stream);
        let count = self.count_of(stream);
        if index >= count {
            return None;
        }
        let state = self.state(stream);
        let mut touched = state.touched();
        let newest_created = Self::created_of(count.saturating_add(1));
        let last_touch = touched.values().copied().max().unwrap_or(i64::MIN);
        touched.insert(index, newest_created.max(last_touch.saturating_add(1)));
        Some(Self::id_of(index))
    }

    /// Record `index` (0 = oldest) as ActiveCampaign returns it.
    pub fn record(&self, stream: &str, index: u64) -> Value {
        self.generate(known(stream), index)
    }

    /// Every record in id order, as a full `orders[id]=ASC` listing returns them.
    pub fn records(&self, stream: &str) -> impl Iterator<Item = Value> + '_ {
        let stream = known(stream);
        (0..self.count_of(stream)).map(move |index| self.generate(stream, index))
    }

    /// The id of record `index`: ActiveCampaign ids are numeric strings starting at 1.
    pub fn id_of(index: u64) -> String {
        index.saturating_add(1).to_string()
    }

    /// `cdate` of record `index` of any stream, as Unix seconds.
    pub fn created_of(index: u64) -> i64 {
        i64::try_from(index)
            .ok()
            .and_then(|index| index.checked_mul(CREATED_STEP))
            .and_then(|offset| offset.checked_add(CREATED_BASE))
            .unwrap_or(i64::MAX)
    }

    /// When record `index` was last updated, as Unix seconds.
    pub(crate) fn updated_of(&self, stream: Stream, index: u64) -> i64 {
        self.state(stream)
            .touched()
            .get(&index)
            .copied()
            .unwrap_or_else(|| Self::created_of(index))
    }

    /// The touched records and their update times.
    pub(crate) fn touched(&self, stream: Stream) -> BTreeMap<u64, i64> {
        self.state(stream).touched().clone()
    }

    pub(crate) fn count_of(&self, stream: Stream) -> u64 {
        self.state(stream).count.load(Ordering::Acquire)
    }

    pub(crate) fn generate(&self, stream: Stream, index: u64) -> Value {
        let updated = self.updated_of(stream, index);
        match stream {
            Stream::Contacts => records::contact(self, index, updated),
            Stream::Deals => records::deal(self, index, updated),
            Stream::Lists => records::list(self, index),
            Stream::Campaigns => records::campaign(self, index, updated),
            Stream::Automations => records::automation(self, index, updated),
        }
    }

    fn rng(&self, stream: Stream, index: u64) -> ChaCha8Rng {
        generate::record_rng(self.state(stream).key, index)
    }

    /// A record of `target` that existed at start-up and is no newer than `not_after`.
    fn reference(&self, rng: &mut ChaCha8Rng, target: Stream, not_after: u64) -> u64 {
        use rand::Rng;
        let newest = self
            .state(target)
            .initial_count
            .saturating_sub(1)
            .min(not_after);
        rng.gen_range(0..=newest)
    }

    fn state(&self, stream: Stream) -> &StreamState {
        &self.streams[stream.slot()]
    }
}

fn known(stream: &str) -> Stream {
    Stream::from_name(stream).unwrap_or_else(|| {
        panic!(
            "unknown ActiveCampaign stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> ActiveCampaignFake {
        ActiveCampaignFake::new(7, |stream| default_count(stream.name()))
    }

    #[test]
    fn records_carry_string_ids_and_timestamps() {
        let fake = fake();
        for stream in STREAMS {
            for index in [0, 5, 19] {
                let record = fake.record(stream, index);
                assert_eq!(record["id"], ActiveCampaignFake::id_of(index), "{stream}");
                assert_eq!(
                    record["cdate"],
                    time::iso(ActiveCampaignFake::created_of(index)),
                    "{stream}"
                );
                assert_eq!(record, fake.record(stream, index), "deterministic");
            }
        }
    }

    #[test]
    fn touch_moves_the_update_time_past_everything() {
        let fake = fake();
        let before = fake.record("contacts", 3);
        assert_eq!(fake.touch("contacts", 3), Some("4".to_owned()));
        assert_eq!(fake.touch("contacts", 1_000), None);
        let after = fake.record("contacts", 3);
        assert_eq!(before["email"], after["email"]);
        let updated = time::parse(after["udate"].as_str().unwrap()).unwrap();
        assert!(updated > ActiveCampaignFake::created_of(fake.count("contacts")));
        fake.touch("contacts", 5);
        assert!(fake.updated_of(Stream::Contacts, 5) > updated);
    }
}
