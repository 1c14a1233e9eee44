//! A fake of HubSpot's CRM v3 API: contacts, companies, deals and tickets at
//! `/crm/v3/objects/{type}` (list) and `/crm/v3/objects/{type}/search`, plus
//! `/crm/v3/owners` and `/crm/v3/pipelines/{deals,tickets}`.
//!
//! It follows HubSpot's documented behaviour where a connector can notice:
//! private-app bearer tokens, `limit` (list: max 100) + `after` -> `paging.next.after`,
//! search with `filterGroups` on the last-modified property (`lastmodifieddate` on
//! contacts, `hs_lastmodifieddate` elsewhere), `total`, and **the search trap**: one query
//! never returns more than 10,000 results. Past that it silently stops offering a next
//! page, and an `after` of 10,000 or more is a 400. Errors use HubSpot's
//! `{"status": "error", "message", "category"}` shape.
//!
//! Records are generated, never stored (see [`crate::generate`]). Record `i` of a
//! stream that existed at start-up was created at `CREATED_BASE_MS + i * CREATED_STEP_MS`.
//! After that a logical clock ([`HubSpotFake::now_ms`]) hands out one millisecond per
//! change: [`HubSpotFake::grow`] creates records at the next ticks and
//! [`HubSpotFake::touch`] moves a record's last-modified time to the next tick and
//! changes one property. Only touches and grow batches are stored, so tests are
//! deterministic and a stream of millions of records still costs no memory.

pub(crate) mod api;
mod error;
mod objects;
mod properties;
mod search;
mod stream;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::generate;
pub(crate) use stream::Stream;

/// The streams the fake serves.
pub const STREAMS: [&str; 6] = [
    "contacts",
    "companies",
    "deals",
    "tickets",
    "owners",
    "pipelines",
];

/// The private-app token the fake accepts unless configured otherwise.
pub const DEFAULT_ACCESS_TOKEN: &str = "pat-na1-sandbox-0000-0000-000000000000";

/// `createdate` of record 0 (ms): 2020-09-13.
pub const CREATED_BASE_MS: i64 = 1_600_000_000_000;
/// Milliseconds between consecutive start-up records of a stream.
pub const CREATED_STEP_MS: i64 = 10_000;
/// The most results one search query returns, however many match.
pub const SEARCH_RESULT_CAP: u64 = 10_000;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    match stream {
        "contacts" => 100,
        "owners" => 10,
        "pipelines" => 4,
        _ => 50,
    }
}

/// The HubSpot fake: lazily generated streams, plus the changes made since start-up.
#[derive(Debug)]
pub struct HubSpotFake {
    seed: u64,
    access_token: String,
    revoked: AtomicBool,
    keys: [u64; 6],
    initial: [u64; 6],
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// The last tick the logical clock handed out.
    clock_ms: i64,
    streams: [StreamData; 6],
}

#[derive(Debug, Default)]
struct StreamData {
    count: u64,
    /// `(first index, createdate of that index)` of each `grow`, in order.
    grown: Vec<(u64, i64)>,
    /// Modified records: index -> (last-modified ms, revision).
    touched: BTreeMap<u64, (i64, u64)>,
    /// The same touches ordered by `(last-modified, index)`, for search.
    by_modified: BTreeSet<(i64, u64)>,
}

/// The timestamps and revision of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) created_ms: i64,
    pub(crate) modified_ms: i64,
    pub(crate) revision: u64,
}

impl HubSpotFake {
    /// `counts` gives each stream's initial count.
    pub(crate) fn new(seed: u64, access_token: String, counts: impl Fn(Stream) -> u64) -> Self {
        let keys = Stream::ALL.map(|s| generate::namespace_key(seed, &s.spec()));
        let initial = Stream::ALL.map(&counts);
        let newest = initial.iter().copied().max().unwrap_or_default();
        let streams = Stream::ALL.map(|s| StreamData {
            count: initial[s.slot()],
            ..StreamData::default()
        });
        Self {
            seed,
            access_token,
            revoked: AtomicBool::new(false),
            keys,
            initial,
            state: Mutex::new(State {
                clock_ms: created_initial(newest),
                streams,
            }),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The private-app token requests must carry.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// Revokes the token, as deleting the private app (or rotating its token) does.
    pub fn revoke_token(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    pub fn token_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// The logical clock: the last millisecond handed to a change.
    pub fn now_ms(&self) -> i64 {
        self.lock().clock_ms
    }

    /// How many records `stream` holds now.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods.
    pub fn count(&self, stream: &str) -> u64 {
        self.lock().streams[known(stream).slot()].count
    }

    /// Adds `n` records created at the next `n` ticks of the clock; returns the new count.
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        let mut state = self.lock();
        let first_ms = state.clock_ms + 1;
        state.clock_ms = state
            .clock_ms
            .saturating_add(i64::try_from(n).unwrap_or(i64::MAX));
        let data = &mut state.streams[known(stream).slot()];
        if n > 0 {
            data.grown.push((data.count, first_ms));
        }
        data.count = data.count.saturating_add(n);
        data.count
    }

    /// Modifies records `indexes` (in the order given, one clock tick each): their
    /// last-modified time becomes the tick and one property changes. Indexes at or past
    /// [`count`](Self::count) are ignored. Returns how many records were touched.
    pub fn touch(&self, stream: &str, indexes: impl IntoIterator<Item = u64>) -> u64 {
        let stream = known(stream);
        let mut state = self.lock();
        let mut touched = 0;
        for index in indexes {
            if index >= state.streams[stream.slot()].count {
                continue;
            }
            state.clock_ms += 1;
            let now = state.clock_ms;
            let data = &mut state.streams[stream.slot()];
            let revision = match data.touched.get(&index) {
                Some(&(old, revision)) => {
                    data.by_modified.remove(&(old, index));
                    revision + 1
                }
                None => 1,
            };
            data.touched.insert(index, (now, revision));
            data.by_modified.insert((now, index));
            touched += 1;
        }
        touched
    }

    /// Record `index` (0 = oldest) as HubSpot returns it.
    pub fn record(&self, stream: &str, index: u64) -> Value {
        self.generate(known(stream), index)
    }

    /// Every record in list order (oldest id first), as a full listing returns them.
    pub fn records(&self, stream: &str) -> impl Iterator<Item = Value> + '_ {
        let stream = known(stream);
        let count = self.lock().streams[stream.slot()].count;
        (0..count).map(move |index| self.generate(stream, index))
    }

    /// The id of record `index`.
    pub fn id_of(&self, stream: &str, index: u64) -> String {
        known(stream).id(index)
    }

    /// The last-modified time (ms) of record `index`.
    pub fn modified_of(&self, stream: &str, index: u64) -> i64 {
        self.version(known(stream), index).modified_ms
    }

    pub(crate) fn count_of(&self, stream: Stream) -> u64 {
        self.lock().streams[stream.slot()].count
    }

    pub(crate) fn generate(&self, stream: Stream, index: u64) -> Value {
        let version = self.version(stream, index);
        objects::record(self, stream, index, version)
    }

    pub(crate) fn version(&self, stream: Stream, index: u64) -> Version {
        let state = self.lock();
        version_in(
            &state,
            &state.streams[stream.slot()],
            self.initial[stream.slot()],
            index,
        )
    }

    /// The rng record `index` of `stream` draws everything from.
    fn rng(&self, stream: Stream, index: u64) -> rand_chacha::ChaCha8Rng {
        generate::record_rng(self.keys[stream.slot()], index)
    }

    /// How many records of `stream` existed at start-up (references stay within them).
    fn initial_count(&self, stream: Stream) -> u64 {
        self.initial[stream.slot()]
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is updated in single statements that cannot leave it half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `createdate` of start-up record `index`, saturating rather than wrapping.
fn created_initial(index: u64) -> i64 {
    i64::try_from(index)
        .ok()
        .and_then(|i| i.checked_mul(CREATED_STEP_MS))
        .and_then(|offset| offset.checked_add(CREATED_BASE_MS))
        .unwrap_or(i64::MAX)
}

/// `createdate` of record `index`: start-up records on the fixed timeline, grown ones at
/// their clock ticks, future ones at the ticks they would get if grown now. It increases
/// with the index, which search relies on.
fn created_in(state: &State, data: &StreamData, initial: u64, index: u64) -> i64 {
    if index < initial {
        return created_initial(index);
    }
    if index >= data.count {
        let ahead = i64::try_from(index - data.count).unwrap_or(i64::MAX);
        return state.clock_ms.saturating_add(1).saturating_add(ahead);
    }
    let batch = data.grown.partition_point(|&(first, _)| first <= index);
    match batch.checked_sub(1).and_then(|b| data.grown.get(b)) {
        Some(&(first, first_ms)) => {
            first_ms.saturating_add(i64::try_from(index - first).unwrap_or(i64::MAX))
        }
        None => created_initial(index),
    }
}

fn version_in(state: &State, data: &StreamData, initial: u64, index: u64) -> Version {
    let created_ms = created_in(state, data, initial, index);
    let (modified_ms, revision) = data.touched.get(&index).copied().unwrap_or((created_ms, 0));
    Version {
        created_ms,
        modified_ms,
        revision,
    }
}

fn known(stream: &str) -> Stream {
    Stream::from_name(stream).unwrap_or_else(|| {
        panic!(
            "unknown HubSpot stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> HubSpotFake {
        HubSpotFake::new(7, DEFAULT_ACCESS_TOKEN.into(), |s| default_count(s.name()))
    }

    #[test]
    fn grow_and_touch_use_the_logical_clock() {
        let fake = fake();
        let start = fake.now_ms();
        assert!(start >= fake.modified_of("contacts", 99));
        assert_eq!(fake.grow("contacts", 3), 103);
        assert_eq!(fake.modified_of("contacts", 100), start + 1);
        assert_eq!(fake.modified_of("contacts", 102), start + 3);
        let before = fake.record("deals", 4);
        assert_eq!(fake.touch("deals", [4, 4, 999]), 2);
        let after = fake.record("deals", 4);
        assert_eq!(fake.modified_of("deals", 4), start + 5);
        assert_ne!(before["properties"], after["properties"]);
        assert_eq!(before["createdAt"], after["createdAt"]);
        assert_eq!(fake.now_ms(), start + 5);
    }

    #[test]
    fn records_are_deterministic() {
        let a: Vec<Value> = fake().records("companies").collect();
        let b: Vec<Value> = fake().records("companies").collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 50);
    }

    #[test]
    #[should_panic(expected = "unknown HubSpot stream `leads`")]
    fn unknown_streams_panic_with_the_name() {
        fake().count("leads");
    }
}
