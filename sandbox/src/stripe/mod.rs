//! A fake of Stripe's list API: customers, products, prices, invoices, charges, payment
//! intents, subscriptions, refunds, balance transactions and events at `GET /v1/{stream}` and
//! `GET /v1/{stream}/{id}`.
//!
//! It follows Stripe's documented behaviour where a connector can notice:
//! bearer (or basic) secret-key auth, `limit` 1-100 (default 10), newest first,
//! `starting_after` / `ending_before` object-id cursors, `has_more`, `created[...]`
//! filters, each endpoint's own filters (subscriptions hiding canceled ones unless
//! `status=all`, refunds by charge, events by type, ...), events listed for the last
//! 30 days only, and errors in Stripe's `{"error": {...}}` shape.
//!
//! Records are generated, never stored (see [`crate::generate`]). The six counted streams
//! hold records `0..count`; record `i` of every stream is created in the same second (see
//! [`clock`]), so index 0 is the oldest and a listing walks from the newest index down.
//! Payment intents, refunds and balance transactions follow charges, and events follow every
//! object created (see [`space`]): they have no count of their own and grow with their
//! sources. Growing a stream appends newer records, as when customers sign up during a
//! backup; existing ids and cursors stay valid. References between records (an invoice's
//! customer) point only at records that existed at start-up and were created no later than
//! the referrer. Grow the counted streams in step: a stream grown past the others moves
//! the present on, and a stream left behind then grows records dated in the past.
//!
//! Time passes as records are created, or when the clock is [advanced](StripeFake::advance):
//! pending charges, payment intents and refunds settle, balance transactions become
//! available, and events older than 30 days drop out of the listing.

pub(crate) mod api;
mod balance;
mod billing;
mod catalog;
mod charges;
mod clock;
mod customers;
mod error;
mod events;
mod filters;
mod list;
mod payments;
mod space;
mod stream;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::generate::{self, IdCodec, fake::Address};
pub(crate) use stream::Stream;

/// The streams the fake serves, in the order of the public docs.
pub const STREAMS: [&str; 10] = [
    "customers",
    "products",
    "prices",
    "invoices",
    "charges",
    "payment_intents",
    "subscriptions",
    "refunds",
    "balance_transactions",
    "events",
];

/// The streams with a record count of their own (in the config, and to [`StripeFake::grow`]);
/// the others follow from them: a payment intent per charge, a refund per refunded charge, a
/// balance transaction per charge that moved money and per refund, an event per object.
pub const COUNTED_STREAMS: [&str; 6] = [
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
/// How long after creation pending payments and refunds settle and balance transactions
/// become available.
pub const SETTLEMENT_SECS: i64 = 2 * 86_400;
/// How far back `GET /v1/events` reaches: Stripe keeps events for 30 days.
pub const EVENT_RETENTION_SECS: i64 = 30 * 86_400;

/// The record count a counted stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    if stream == "customers" { 100 } else { 50 }
}

/// Why `stream` has no count of its own, for a stream that follows others.
pub fn follows(stream: &str) -> Option<&'static str> {
    Stream::from_name(stream).and_then(Stream::follows)
}

/// The Stripe fake's data: lazily generated streams whose counts can grow.
#[derive(Debug)]
pub struct StripeFake {
    seed: u64,
    api_key: String,
    /// Set when the key has been rolled or deleted in the dashboard: every request is refused.
    revoked: AtomicBool,
    streams: [StreamState; 10],
    timeline: clock::Timeline,
}

#[derive(Debug)]
struct StreamState {
    /// Namespace key of `(seed, "stripe.<stream>")`.
    key: u64,
    codec: IdCodec,
    /// The count at start-up: references from other records stay within it,
    /// so a record never changes when streams grow. 0 for streams without a count.
    initial_count: u64,
    count: AtomicU64,
}

impl StripeFake {
    /// `counts` gives each counted stream's initial count.
    pub(crate) fn new(seed: u64, api_key: String, counts: impl Fn(Stream) -> u64) -> Self {
        let streams = Stream::ALL.map(|stream| {
            let key = generate::namespace_key(seed, &stream.spec());
            let count = if stream.follows().is_none() {
                counts(stream)
            } else {
                0
            };
            StreamState {
                key,
                codec: IdCodec::new(stream.id_prefix(), key),
                initial_count: count,
                count: AtomicU64::new(count),
            }
        });
        Self {
            seed,
            api_key,
            revoked: AtomicBool::new(false),
            streams,
            timeline: clock::Timeline::default(),
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

    /// How many records a full listing of `stream` returns now (events: of the last 30 days).
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods.
    pub fn count(&self, stream: &str) -> u64 {
        self.count_of(known(stream))
    }

    /// Adds `n` records newer than every existing one to a counted stream, with their payment
    /// intents, refunds, balance transactions and events; returns the new count.
    ///
    /// # Panics
    /// When `stream` is not one of [`COUNTED_STREAMS`].
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        let known = known(stream);
        if let Some(source) = known.follows() {
            panic!("Stripe `{stream}` follow {source}: grow those instead");
        }
        self.grow_stream(known, n)
    }

    /// Lets `secs` seconds pass: payments settle, balance transactions become available and
    /// events drop out of the 30-day listing as their time comes; records grown afterwards
    /// are created from the new present on. Returns the new [`now`](Self::now).
    pub fn advance(&self, secs: u64) -> i64 {
        let now = self.now();
        self.timeline.advance(self.newest_count(), now, secs)
    }

    /// Record `index` of `stream` as Stripe would return it now. Indices of counted streams at
    /// or past [`count`](Self::count) generate too: they are the records a later `grow` adds.
    /// The other streams are indexed as their sources (see [`index_of`](Self::index_of)):
    /// payment intent and refund `i` are charge `i`'s, balance transactions `2i` and `2i + 1`
    /// charge `i`'s and its refund's, and event `8i + k` the creation of record `i` of the
    /// `k`-th of customers, products, prices, subscriptions, invoices, payment intents,
    /// charges and refunds.
    pub fn record(&self, stream: &str, index: u64) -> Value {
        self.generate(known(stream), index)
    }

    /// Every record in list order (newest first), as a full listing returns them;
    /// for subscriptions that includes canceled ones (`status=all`).
    pub fn records(&self, stream: &str) -> impl Iterator<Item = Value> + '_ {
        let stream = known(stream);
        (0..self.span(stream))
            .rev()
            .filter(move |&index| self.listed(stream, index))
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

    /// `created` of record `index` of `stream`.
    pub fn created_of(&self, stream: &str, index: u64) -> i64 {
        self.created_in(known(stream), index)
    }

    /// The count of a counted stream.
    fn counted(&self, stream: Stream) -> u64 {
        self.state(stream).count.load(Ordering::Acquire)
    }

    /// `created` of record `index` of any counted stream (they share one timeline).
    fn created(&self, index: u64) -> i64 {
        self.timeline.created(index)
    }

    /// Grows a counted stream.
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

    /// Record `index` of `stream` as it stands now.
    pub(crate) fn generate(&self, stream: Stream, index: u64) -> Value {
        let settles = matches!(
            stream,
            Stream::Charges | Stream::PaymentIntents | Stream::Refunds
        );
        self.generate_at(stream, index, settles && self.settled(index))
    }

    /// Record `index` of `stream`, settled or as it was created (what its event shows).
    fn generate_at(&self, stream: Stream, index: u64, settled: bool) -> Value {
        match stream {
            Stream::Customers => customers::record(self, index),
            Stream::Products => catalog::product(self, index),
            Stream::Prices => catalog::price(self, index),
            Stream::Invoices => billing::invoice(self, index),
            Stream::Charges => charges::record(self, index, settled),
            Stream::PaymentIntents => payments::payment_intent(self, index, settled),
            Stream::Subscriptions => billing::subscription(self, index),
            Stream::Refunds => payments::refund(self, index, settled),
            Stream::BalanceTransactions => balance::record(self, index),
            Stream::Events => events::record(self, index),
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

    /// Indices that name a record in each stream, old and far in the future.
    fn sample_indices(stream: &str) -> [u64; 5] {
        match stream {
            "refunds" => [1, 6, 16, 46, 5_000_001],
            // Charge 0's, charge 1's refund's, charges 17 and 49, and a far one.
            "balance_transactions" => [0, 3, 34, 98, 10_000_000],
            // A customer, a price, a charge, a refund, a far invoice.
            "events" => [0, 8 * 17 + 2, 8 * 30 + 6, 8 + 7, 8 * 5_000_000 + 4],
            _ => [0, 1, 17, 49, 5_000_000],
        }
    }

    #[test]
    fn records_are_stripe_shaped_and_sized() {
        let fake = fake(9);
        for stream in STREAMS {
            let object = Stream::from_name(stream).unwrap().object();
            let sizes = match stream {
                "balance_transactions" => 300..=900,
                "events" => 600..=2_400,
                _ => 400..=1_800,
            };
            for index in sample_indices(stream) {
                let record = fake.record(stream, index);
                let size = serde_json::to_vec(&record).unwrap().len();
                assert!(
                    sizes.contains(&size),
                    "{stream} #{index}: {size} bytes\n{record:#}"
                );
                assert_eq!(record["object"], object);
                assert_eq!(record["id"], fake.id_of(stream, index));
                assert_eq!(record["created"], fake.created_of(stream, index));
                // Stripe's refunds and balance transactions carry no `livemode`.
                if !matches!(stream, "balance_transactions" | "refunds") {
                    assert_eq!(record["livemode"], false);
                }
                if !matches!(stream, "balance_transactions" | "events") {
                    assert!(record["metadata"].is_object());
                }
            }
        }
    }

    #[test]
    fn references_point_at_older_initial_records() {
        let fake = fake(3);
        fake.grow("customers", 1_000);
        for index in 0..200 {
            for stream in ["invoices", "charges", "subscriptions", "payment_intents"] {
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
    fn payments_agree_with_their_charges() {
        let fake = fake(4);
        let mut refunds = 0;
        for charge in fake.records("charges") {
            let id = charge["id"].as_str().unwrap();
            let index = fake.index_of("charges", id).unwrap();
            let intent = fake.record("payment_intents", index);
            assert_eq!(charge["payment_intent"], intent["id"]);
            assert_eq!(intent["latest_charge"], id);
            for field in ["amount", "customer", "invoice", "payment_method", "created"] {
                assert_eq!(intent[field], charge[field], "{id}: {field}");
            }
            let expected_status = match charge["status"].as_str().unwrap() {
                "succeeded" => "succeeded",
                "pending" => "processing",
                _ => "requires_payment_method",
            };
            assert_eq!(intent["status"], expected_status, "{id}");

            match charge["balance_transaction"].as_str() {
                Some(txn) => {
                    let txn = fake.record(
                        "balance_transactions",
                        fake.index_of("balance_transactions", txn).unwrap(),
                    );
                    assert_eq!(txn["source"], id);
                    assert_eq!(txn["amount"], charge["amount"]);
                    assert_eq!(txn["type"], "charge");
                    assert_eq!(
                        txn["net"].as_i64().unwrap(),
                        txn["amount"].as_i64().unwrap() - txn["fee"].as_i64().unwrap()
                    );
                }
                None => assert_eq!(charge["status"], "failed", "{id}"),
            }

            let refunded = charge["amount_refunded"].as_i64().unwrap();
            if refunded > 0 {
                refunds += 1;
                let refund = fake.record("refunds", index);
                assert_eq!(refund["charge"], id);
                assert_eq!(refund["payment_intent"], intent["id"]);
                assert_eq!(refund["amount"], refunded);
                let txn = fake
                    .index_of(
                        "balance_transactions",
                        refund["balance_transaction"].as_str().unwrap(),
                    )
                    .unwrap();
                let txn = fake.record("balance_transactions", txn);
                assert_eq!(txn["source"], refund["id"]);
                assert_eq!(txn["amount"], -refunded);
                assert_eq!(txn["type"], "refund");
            }
        }
        assert_eq!(refunds, fake.count("refunds"));
        assert_eq!(fake.count("payment_intents"), fake.count("charges"));
    }

    #[test]
    fn counts_match_the_records_listed() {
        let fake = fake(6);
        let check = |fake: &StripeFake| {
            for stream in STREAMS {
                assert_eq!(
                    fake.count(stream),
                    fake.records(stream).count() as u64,
                    "{stream}"
                );
            }
        };
        check(&fake);
        for stream in COUNTED_STREAMS {
            fake.grow(stream, 7);
        }
        check(&fake);
        fake.advance(31 * 86_400);
        assert_eq!(fake.count("events"), 0, "every event is older than 30 days");
        check(&fake);
        fake.grow("charges", 3);
        check(&fake);
    }

    #[test]
    fn events_show_each_object_as_it_was_created() {
        let fake = fake(8);
        let events: Vec<Value> = fake.records("events").collect();
        let expected: u64 = [
            "customers",
            "products",
            "prices",
            "subscriptions",
            "invoices",
            "payment_intents",
            "charges",
            "refunds",
        ]
        .iter()
        .map(|s| fake.count(s))
        .sum();
        assert_eq!(events.len() as u64, expected);
        for event in &events {
            let object = &event["data"]["object"];
            let stream = format!("{}s", object["object"].as_str().unwrap());
            let index = fake
                .index_of(&stream, object["id"].as_str().unwrap())
                .unwrap();
            assert_eq!(object, &fake.record(&stream, index), "{event:#}");
            assert_eq!(event["created"], object["created"]);
            let kind = event["type"].as_str().unwrap();
            let family = if stream == "subscriptions" {
                "customer.subscription"
            } else {
                &stream[..stream.len() - 1]
            };
            assert!(
                kind.starts_with(&format!("{family}.")),
                "{kind} for {stream}"
            );
        }
        let pending = events
            .iter()
            .find(|e| e["type"] == "charge.pending")
            .expect("a pending charge");
        fake.advance(SETTLEMENT_SECS as u64);
        let charge = &pending["data"]["object"];
        let index = fake
            .index_of("charges", charge["id"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            fake.record("charges", index)["status"],
            "succeeded",
            "it settled"
        );
        let again = fake.record(
            "events",
            fake.index_of("events", pending["id"].as_str().unwrap())
                .unwrap(),
        );
        assert_eq!(&again, pending, "events never change");
    }

    #[test]
    fn time_settles_payments_and_makes_funds_available() {
        let fake = fake(2);
        // Charge 13 waits for its funds; refund 1 waits for the card network.
        assert_eq!(fake.record("charges", 13)["status"], "pending");
        assert_eq!(fake.record("payment_intents", 13)["status"], "processing");
        assert_eq!(fake.record("refunds", 1)["status"], "pending");
        assert_eq!(fake.record("balance_transactions", 26)["status"], "pending");
        let before = fake.now();
        assert_eq!(
            fake.advance(SETTLEMENT_SECS as u64),
            before + SETTLEMENT_SECS
        );
        assert_eq!(fake.record("charges", 13)["status"], "succeeded");
        assert_eq!(fake.record("payment_intents", 13)["status"], "succeeded");
        assert_eq!(fake.record("refunds", 1)["status"], "succeeded");
        assert_eq!(
            fake.record("balance_transactions", 26)["status"],
            "available"
        );
        // Records past the newest index are created after the pause, and wait again; the
        // charges catching up with the customers are dated before it.
        let paused = fake.now();
        fake.grow("charges", 64);
        assert_eq!(fake.created_of("charges", 100), paused);
        assert!(fake.created_of("charges", 99) < before + CREATED_STEP);
        assert_eq!(fake.record("charges", 88)["status"], "succeeded");
        assert_eq!(fake.record("charges", 113)["status"], "pending");
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
    #[should_panic(expected = "unknown Stripe stream `disputes`")]
    fn unknown_streams_panic_with_the_name() {
        fake(1).count("disputes");
    }

    #[test]
    #[should_panic(expected = "Stripe `refunds` follow charges")]
    fn streams_that_follow_others_do_not_grow() {
        fake(1).grow("refunds", 1);
    }
}
