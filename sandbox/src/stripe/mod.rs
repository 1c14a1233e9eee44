//! A fake of Stripe's list API: customers, products, prices, invoices, charges
//! and subscriptions at `GET /v1/{stream}` and `GET /v1/{stream}/{id}`.
//!
//! It follows Stripe's documented behaviour where a connector can notice:
//! bearer (or basic) secret-key auth, `limit` 1-100 (default 10), newest first,
//! `starting_after` / `ending_before` object-id cursors, `has_more`, `created[...]`
//! filters, subscriptions hiding canceled ones unless `status=all`, and errors in
//! Stripe's `{"error": {...}}` shape.
//!
//! Records are generated, never stored (see [`crate::generate`]): record `i` is
//! created at `CREATED_BASE + i * CREATED_STEP`, so index 0 is the oldest and a
//! listing walks from `count - 1` down to 0. Growing a stream appends newer
//! records, as when customers sign up during a backup; existing ids and cursors
//! stay valid. References between records (an invoice's customer) point only at
//! records that existed at start-up and were created no later than the referrer.

pub(crate) mod api;
mod billing;
mod catalog;
mod charges;
mod customers;
mod error;
mod list;
mod stream;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::generate::{self, IdCodec, fake::Address};
pub(crate) use stream::Stream;

/// The streams the fake serves, in the order of the public docs.
pub const STREAMS: [&str; 6] = [
    "customers",
    "products",
    "prices",
    "invoices",
    "charges",
    "subscriptions",
];

/// The secret key the fake accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "sk_test_sandbox";

/// `created` of record 0: 2020-09-13, comfortably in Stripe's past.
pub const CREATED_BASE: i64 = 1_600_000_000;
/// Seconds between consecutive records of a stream; unique `created` values keep the order total.
pub const CREATED_STEP: i64 = 60;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    if stream == "customers" { 100 } else { 50 }
}

/// The Stripe fake's data: lazily generated streams whose counts can grow.
#[derive(Debug)]
pub struct StripeFake {
    seed: u64,
    api_key: String,
    /// Set when the key has been rolled or deleted in the dashboard: every request is refused.
    revoked: AtomicBool,
    streams: [StreamState; 6],
}

#[derive(Debug)]
struct StreamState {
    /// Namespace key of `(seed, "stripe.<stream>")`.
    key: u64,
    codec: IdCodec,
    /// The count at start-up: references from other records stay within it,
    /// so a record never changes when streams grow.
    initial_count: u64,
    count: AtomicU64,
}

impl StripeFake {
    /// `counts` gives each stream's initial count.
    pub(crate) fn new(seed: u64, api_key: String, counts: impl Fn(Stream) -> u64) -> Self {
        let streams = Stream::ALL.map(|stream| {
            let key = generate::namespace_key(seed, &stream.spec());
            StreamState {
                key,
                codec: IdCodec::new(stream.id_prefix(), key),
                initial_count: counts(stream),
                count: AtomicU64::new(counts(stream)),
            }
        });
        Self {
            seed,
            api_key,
            revoked: AtomicBool::new(false),
            streams,
        }
    }

    /// The secret key requests must carry.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Revokes the key, as rolling it in the Stripe dashboard does: requests with it get 401.
    pub fn revoke_key(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    /// True once [`revoke_key`](Self::revoke_key) was called.
    pub fn key_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many records `stream` holds now.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods.
    pub fn count(&self, stream: &str) -> u64 {
        self.count_of(known(stream))
    }

    /// Adds `n` records newer than every existing one; returns the new count.
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        self.grow_stream(known(stream), n)
    }

    /// Record `index` (0 = oldest) as Stripe would return it. Indices at or past
    /// [`count`](Self::count) generate too: they are the records a later `grow` adds.
    pub fn record(&self, stream: &str, index: u64) -> Value {
        self.generate(known(stream), index)
    }

    /// Every record in list order (newest first), as a full listing returns them;
    /// for subscriptions that includes canceled ones (`status=all`).
    pub fn records(&self, stream: &str) -> impl Iterator<Item = Value> + '_ {
        let stream = known(stream);
        (0..self.count_of(stream))
            .rev()
            .map(move |index| self.generate(stream, index))
    }

    /// The id of record `index`.
    pub fn id_of(&self, stream: &str, index: u64) -> String {
        self.id(known(stream), index)
    }

    /// The index an id encodes, `None` for ids this fake (seed, stream) did not mint.
    /// The index may lie past the current count.
    pub fn index_of(&self, stream: &str, id: &str) -> Option<u64> {
        self.state(known(stream)).codec.decode(id)
    }

    /// `created` of record `index` of any stream.
    pub fn created_of(index: u64) -> i64 {
        // Saturating: indices past ~1.5e17 cannot occur in practice, but must not wrap.
        i64::try_from(index)
            .ok()
            .and_then(|index| index.checked_mul(CREATED_STEP))
            .and_then(|offset| offset.checked_add(CREATED_BASE))
            .unwrap_or(i64::MAX)
    }

    pub(crate) fn count_of(&self, stream: Stream) -> u64 {
        self.state(stream).count.load(Ordering::Acquire)
    }

    pub(crate) fn grow_stream(&self, stream: Stream, n: u64) -> u64 {
        let count = &self.state(stream).count;
        let before = count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |c| {
                Some(c.saturating_add(n))
            })
            .unwrap_or_else(|current| current);
        before.saturating_add(n)
    }

    pub(crate) fn id(&self, stream: Stream, index: u64) -> String {
        self.state(stream).codec.encode(index)
    }

    pub(crate) fn decode(&self, stream: Stream, id: &str) -> Option<u64> {
        self.state(stream).codec.decode(id)
    }

    pub(crate) fn generate(&self, stream: Stream, index: u64) -> Value {
        match stream {
            Stream::Customers => customers::record(self, index),
            Stream::Products => catalog::product(self, index),
            Stream::Prices => catalog::price(self, index),
            Stream::Invoices => billing::invoice(self, index),
            Stream::Charges => charges::record(self, index),
            Stream::Subscriptions => billing::subscription(self, index),
        }
    }

    /// The rng record `index` of `stream` draws everything from.
    fn rng(&self, stream: Stream, index: u64) -> ChaCha8Rng {
        generate::record_rng(self.state(stream).key, index)
    }

    /// Picks a record of `target` that existed at start-up and was created no later
    /// than record `not_after` of any stream (all streams share one timeline).
    fn reference(&self, rng: &mut ChaCha8Rng, target: Stream, not_after: u64) -> u64 {
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
            "unknown Stripe stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

/// Stripe's address object.
fn address_json(address: &Address) -> Value {
    json!({
        "city": address.city,
        "country": address.country,
        "line1": address.line1,
        "line2": address.line2,
        "postal_code": address.postal_code,
        "state": (!address.state.is_empty()).then_some(address.state),
    })
}

/// A secondary object id (payment method, line item, ...) that nothing looks up.
fn opaque_id(rng: &mut ChaCha8Rng, prefix: &str) -> String {
    format!("{prefix}{}", generate::fake::alphanumeric(rng, 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(seed: u64) -> StripeFake {
        StripeFake::new(seed, DEFAULT_API_KEY.into(), |stream| {
            default_count(stream.name())
        })
    }

    #[test]
    fn records_are_stripe_shaped_and_sized() {
        let fake = fake(9);
        for stream in STREAMS {
            let object = Stream::from_name(stream).unwrap().object();
            for index in [0, 1, 17, 49, 5_000_000] {
                let record = fake.record(stream, index);
                let size = serde_json::to_vec(&record).unwrap().len();
                assert!(
                    (400..=1_800).contains(&size),
                    "{stream} #{index}: {size} bytes\n{record:#}"
                );
                assert_eq!(record["object"], object);
                assert_eq!(record["id"], fake.id_of(stream, index));
                assert_eq!(record["created"], StripeFake::created_of(index));
                assert_eq!(record["livemode"], false);
                assert!(record["metadata"].is_object());
            }
        }
    }

    #[test]
    fn references_point_at_older_initial_records() {
        let fake = fake(3);
        fake.grow("customers", 1_000);
        for index in 0..200 {
            for stream in ["invoices", "charges", "subscriptions"] {
                let record = fake.record(stream, index);
                let customer = record["customer"].as_str().unwrap();
                let target = fake.index_of("customers", customer).unwrap();
                assert!(
                    target <= index && target < 100,
                    "{stream} #{index} -> {target}"
                );
            }
            let price = fake.record("prices", index);
            let product = fake
                .index_of("products", price["product"].as_str().unwrap())
                .unwrap();
            assert!(product <= index && product < 50);
        }
    }

    #[test]
    fn grow_appends_newer_records_without_touching_old_ones() {
        let fake = fake(5);
        let before: Vec<Value> = fake.records("charges").collect();
        assert_eq!(fake.grow("charges", 3), 53);
        let after: Vec<Value> = fake.records("charges").collect();
        assert_eq!(after.len(), 53);
        assert_eq!(&after[3..], &before[..]);
        assert!(after[0]["created"].as_i64() > after[3]["created"].as_i64());
    }

    #[test]
    fn created_saturates_instead_of_wrapping() {
        assert_eq!(StripeFake::created_of(0), CREATED_BASE);
        assert_eq!(StripeFake::created_of(2), CREATED_BASE + 2 * CREATED_STEP);
        assert_eq!(StripeFake::created_of(u64::MAX), i64::MAX);
    }

    #[test]
    #[should_panic(expected = "unknown Stripe stream `refunds`")]
    fn unknown_streams_panic_with_the_name() {
        fake(1).count("refunds");
    }
}
