//! A fake of Keap's (Infusionsoft's) REST API: contacts, companies, opportunities and tags
//! through v2 (`GET /crm/rest/v2/{stream}`), orders and products through v1
//! (`GET /crm/rest/v1/{stream}`).
//!
//! It follows Keap's documented behaviour where a connector can notice:
//! - OAuth 2.0 bearer tokens issued by the sandbox's [`crate::oauth`] authority for `keap`,
//!   whose policy here is Keap's: access tokens live 24 hours and refresh tokens are
//!   single-use and rotate (reusing one revokes the family). Expired, revoked and unknown
//!   tokens answer 401 in the API gateway's `{"fault": {...}}` shape.
//! - v2 paging: `page_size` 1-1000 and an opaque `page_token`; answers carry
//!   `next_page_token`, the empty string on the last page. Contacts take
//!   `filter=start_update_time==<RFC 3339>` (inclusive) and `end_update_time==` (exclusive).
//! - v1 paging: `limit` 1-1000 and `offset`; answers carry `count` (the total) and a `next`
//!   URL that is present **even on the last page**, as Keap's is.
//! - The spike arrest (25 requests/s) and the daily quota answer 429 with `Retry-After`.
//!
//! Records are generated, never stored: record `i` has id `i + 1` (Keap ids are sequential
//! integers) and was last updated at `UPDATED_BASE + i * UPDATED_STEP` unless
//! [`KeapFake::touch`] bumped it later. Listings are in id order, so growing a stream
//! appends at the end and offsets and page tokens stay valid.

pub(crate) mod api;
mod error;
mod limits;
mod list;
mod records;
mod stream;
mod time;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use crate::generate;
use crate::oauth::{OAuthAuthority, TokenPolicy};
pub use stream::ApiVersion;
pub(crate) use stream::Stream;

/// The streams the fake serves.
pub const STREAMS: [&str; 6] = [
    "contacts",
    "companies",
    "orders",
    "products",
    "opportunities",
    "tags",
];

/// Keap's token behaviour: 24-hour access tokens, single-use rotating refresh tokens.
pub const TOKEN_POLICY: TokenPolicy = TokenPolicy {
    access_ttl_secs: 24 * 3600,
    rotate_refresh_tokens: true,
};

/// The spike arrest: requests per second per client key.
pub const SPIKE_LIMIT_PER_SEC: u32 = 25;
/// Requests per day per client key.
pub const DAILY_QUOTA: u64 = 150_000;

/// `update_time` of record 0: 2020-09-13.
pub const UPDATED_BASE: i64 = 1_600_000_000;
/// Seconds between consecutive records' update times.
pub const UPDATED_STEP: i64 = 60;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    if stream == "contacts" { 50 } else { 20 }
}

/// The Keap fake's data and limits.
#[derive(Debug)]
pub struct KeapFake {
    oauth: Arc<OAuthAuthority>,
    streams: [StreamState; 6],
    /// Update times moved by [`KeapFake::touch`], per `(stream slot, index)`.
    touched: Mutex<HashMap<(usize, u64), i64>>,
    limits: limits::Limits,
}

#[derive(Debug)]
struct StreamState {
    key: u64,
    initial_count: u64,
    count: AtomicU64,
}

impl KeapFake {
    pub(crate) fn new(
        seed: u64,
        oauth: Arc<OAuthAuthority>,
        counts: impl Fn(Stream) -> u64,
    ) -> Self {
        oauth.set_policy("keap", TOKEN_POLICY);
        let streams = Stream::ALL.map(|stream| StreamState {
            key: generate::namespace_key(seed, &stream.spec()),
            initial_count: counts(stream),
            count: AtomicU64::new(counts(stream)),
        });
        Self {
            oauth,
            streams,
            touched: Mutex::default(),
            limits: limits::Limits::new(Some(SPIKE_LIMIT_PER_SEC), DAILY_QUOTA),
        }
    }

    /// How many records `stream` holds now.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods (they are
    /// test helpers: the HTTP surface answers unknown streams with a 404).
    pub fn count(&self, stream: &str) -> u64 {
        self.count_of(known(stream))
    }

    /// Adds `n` records after every existing one; returns the new count.
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        let count = &self.state(known(stream)).count;
        count.fetch_add(n, Ordering::AcqRel).saturating_add(n)
    }

    /// Marks record `index` as edited now: its update time moves past every other record's.
    /// Returns the new update time (unix seconds).
    pub fn touch(&self, stream: &str, index: u64) -> i64 {
        let stream = known(stream);
        let mut touched = self.touched.lock().unwrap_or_else(PoisonError::into_inner);
        let newest_generated = self.base_updated(self.count_of(stream).saturating_sub(1));
        let newest_touched = touched.values().copied().max().unwrap_or(i64::MIN);
        let now = newest_generated.max(newest_touched) + UPDATED_STEP;
        touched.insert((stream.slot(), index), now);
        now
    }

    /// Record `index` (0 = first) as Keap returns it in a list.
    pub fn record(&self, stream: &str, index: u64) -> Value {
        self.generate(known(stream), index)
    }

    /// Every record in list order, as a full listing returns them.
    pub fn records(&self, stream: &str) -> impl Iterator<Item = Value> + '_ {
        let stream = known(stream);
        (0..self.count_of(stream)).map(move |index| self.generate(stream, index))
    }

    /// The id of record `index`.
    pub fn id_of(&self, stream: &str, index: u64) -> u64 {
        known(stream);
        index.saturating_add(1)
    }

    /// Record `index`'s update time (unix seconds).
    pub fn updated_of(&self, stream: &str, index: u64) -> i64 {
        self.updated(known(stream), index)
    }

    /// Sets the spike arrest (`None` turns it off, e.g. for a test that wants a burst).
    pub fn set_spike_limit(&self, per_sec: Option<u32>) {
        self.limits.set_spike(per_sec);
    }

    /// Sets the daily quota and restarts today's count.
    pub fn set_daily_quota(&self, requests: u64) {
        self.limits.set_daily_quota(requests);
    }

    /// Makes the quota reset every `secs` seconds, counted from now, instead of at UTC
    /// midnight: a test sees a quota run out and reset within seconds. Restarts the count.
    pub fn set_quota_window(&self, secs: u64) {
        self.limits.set_quota_window(secs);
    }

    pub(crate) fn oauth(&self) -> &OAuthAuthority {
        &self.oauth
    }

    pub(crate) fn limits(&self) -> &limits::Limits {
        &self.limits
    }

    pub(crate) fn count_of(&self, stream: Stream) -> u64 {
        self.state(stream).count.load(Ordering::Acquire)
    }

    pub(crate) fn updated(&self, stream: Stream, index: u64) -> i64 {
        self.touched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(stream.slot(), index))
            .copied()
            .unwrap_or_else(|| self.base_updated(index))
    }

    pub(crate) fn generate(&self, stream: Stream, index: u64) -> Value {
        records::record(self, stream, index)
    }

    fn base_updated(&self, index: u64) -> i64 {
        i64::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(UPDATED_STEP))
            .and_then(|offset| offset.checked_add(UPDATED_BASE))
            .unwrap_or(i64::MAX / 2)
    }

    fn rng(&self, stream: Stream, index: u64) -> ChaCha8Rng {
        generate::record_rng(self.state(stream).key, index)
    }

    /// A record of `target` that existed at start-up, for references between records.
    fn reference(&self, rng: &mut ChaCha8Rng, target: Stream) -> u64 {
        use rand::Rng;
        let count = self.state(target).initial_count.max(1);
        rng.gen_range(0..count)
    }

    fn state(&self, stream: Stream) -> &StreamState {
        &self.streams[stream.slot()]
    }
}

fn known(stream: &str) -> Stream {
    Stream::from_name(stream).unwrap_or_else(|| {
        panic!(
            "unknown Keap stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> KeapFake {
        KeapFake::new(7, Arc::default(), |s| default_count(s.name()))
    }

    #[test]
    fn records_have_sequential_ids_and_update_times() {
        let fake = fake();
        for stream in STREAMS {
            let all: Vec<Value> = fake.records(stream).collect();
            assert_eq!(all.len() as u64, fake.count(stream));
            for (i, record) in all.iter().enumerate() {
                assert_eq!(record["id"], fake.id_of(stream, i as u64), "{stream}");
            }
            assert_eq!(fake.record(stream, 3), fake.record(stream, 3));
        }
        assert_eq!(
            fake.record("contacts", 0)["update_time"],
            "2020-09-13T12:26:40.000Z"
        );
    }

    #[test]
    fn touch_moves_a_record_past_every_other_and_grow_appends() {
        let fake = fake();
        let newest = fake.updated_of("contacts", 49);
        let t = fake.touch("contacts", 3);
        assert!(t > newest);
        assert_eq!(fake.updated_of("contacts", 3), t);
        assert!(fake.touch("contacts", 4) > t);
        assert_eq!(fake.grow("contacts", 2), 52);
        assert_eq!(fake.records("contacts").count(), 52);
    }
}
