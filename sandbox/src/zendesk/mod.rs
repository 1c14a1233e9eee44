//! A fake of Zendesk Support's REST API: tickets, users, organizations and groups under
//! `/api/v2/*.json`, ticket comments, and the cursor-based incremental exports of tickets and
//! users.
//!
//! It follows Zendesk's documented behaviour where a connector can notice:
//! Basic auth as `{email}/token:{api_token}` or a Bearer OAuth token (401
//! `{"error":"Couldn't authenticate you"}` otherwise); cursor pagination (`page[size]` <= 100,
//! `page[after]`, `meta.has_more`, `meta.after_cursor`) *and* offset pagination (`page`,
//! `per_page`) which refuses anything past the first 10,000 records with a 400 — the trap;
//! incremental exports (`start_time` or `cursor`, up to 1000 per page, `after_cursor`,
//! `end_of_stream`) that leave out items updated in the last minute and have their own
//! request budget (10 per minute, 429 + `Retry-After`).
//!
//! Time is a logical clock ([`ZendeskFake::now`], moved by [`ZendeskFake::advance`]) so the
//! last-minute rule is deterministic in tests. Records are generated lazily from the seed
//! (see [`crate::generate`]); only mutations are stored: records added by `grow` remember
//! when they were created, and records changed by `touch` remember when and how often.

pub(crate) mod api;
mod error;
mod export;
mod list;
mod records;
mod state;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;

use export::ExportWindow;
pub(crate) use state::Kind;
use state::{Meta, State};

/// The streams whose sizes a [`crate::SandboxConfig`] sets (`zendesk.tickets`, ...).
/// Ticket comments are derived from tickets (one to four each).
pub const STREAMS: [&str; 4] = ["tickets", "users", "organizations", "groups"];

/// The agent the fake's API token belongs to.
pub const DEFAULT_EMAIL: &str = "admin@sandbox.example";
/// The API token the fake accepts (`{email}/token:{api_token}` in Basic auth).
pub const DEFAULT_API_TOKEN: &str = "zd_sandbox_api_token";
/// The OAuth access token the fake accepts as a Bearer token.
pub const DEFAULT_OAUTH_TOKEN: &str = "zd_sandbox_oauth_token";

/// `created_at` of record 0 of every stream: 2020-09-13.
pub const CREATED_BASE: i64 = 1_600_000_000;
/// Seconds between consecutive initial records.
pub const CREATED_STEP: i64 = 60;
/// Incremental exports leave out items updated this recently (seconds of the fake's clock).
pub const RECENT_EXCLUSION_SECS: i64 = 60;
/// Offset pagination refuses pages reaching past this many records.
pub const OFFSET_RECORD_LIMIT: u64 = 10_000;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    match stream {
        "tickets" => 100,
        "users" => 50,
        "organizations" => 20,
        _ => 10,
    }
}

/// The Zendesk fake's data, clock and export budget.
#[derive(Debug)]
pub struct ZendeskFake {
    keys: [u64; 4],
    /// Counts at start-up: references between records stay within them.
    initial: [u64; 4],
    state: Mutex<State>,
    revoked: AtomicBool,
    export_window: Mutex<ExportWindow>,
    export_throttled: AtomicU64,
}

impl ZendeskFake {
    pub(crate) fn new(seed: u64, counts: impl Fn(&str) -> u64) -> Self {
        let keys = Kind::ALL.map(|kind| crate::generate::namespace_key(seed, &kind.spec()));
        let initial = Kind::ALL.map(|kind| counts(&kind.spec()));
        Self {
            keys,
            initial,
            state: Mutex::new(State::new(initial)),
            revoked: AtomicBool::new(false),
            export_window: Mutex::new(ExportWindow::new(10, Duration::from_secs(60))),
            export_throttled: AtomicU64::new(0),
        }
    }

    pub fn email(&self) -> &'static str {
        DEFAULT_EMAIL
    }

    pub fn api_token(&self) -> &'static str {
        DEFAULT_API_TOKEN
    }

    pub fn oauth_token(&self) -> &'static str {
        DEFAULT_OAUTH_TOKEN
    }

    /// Revokes the API token and the OAuth token, as an admin does in the Admin Center.
    pub fn revoke_token(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    pub fn token_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    /// The fake's clock, in Unix seconds. It starts an hour after the newest initial record.
    pub fn now(&self) -> i64 {
        self.lock().now
    }

    /// Moves the clock forward; the last-minute exclusion of exports follows it.
    pub fn advance(&self, secs: i64) {
        let mut state = self.lock();
        state.now = state.now.saturating_add(secs.max(0));
    }

    /// Sets the incremental exports' budget: `requests` per `per` of real time (default 10 per
    /// minute); over it they answer 429 with `Retry-After` = seconds left in the window.
    pub fn set_export_limit(&self, requests: u32, per: Duration) {
        *self
            .export_window
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = ExportWindow::new(requests, per);
    }

    /// How many export requests were refused by the export budget.
    pub fn export_throttled(&self) -> u64 {
        self.export_throttled.load(Ordering::Relaxed)
    }

    /// How many records `stream` holds now.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other `&str` methods.
    pub fn count(&self, stream: &str) -> u64 {
        self.lock().stream(known(stream)).count()
    }

    /// Adds `n` records created now; returns the new count.
    pub fn grow(&self, stream: &str, n: u64) -> u64 {
        let mut state = self.lock();
        let now = state.now;
        state.stream_mut(known(stream)).grow(n, now)
    }

    /// Updates record `index` now: its `updated_at` moves to the clock and a field changes.
    /// Indices past the count are ignored.
    pub fn touch(&self, stream: &str, index: u64) {
        let kind = known(stream);
        let id = kind.id(index);
        let mut state = self.lock();
        let now = state.now;
        state.stream_mut(kind).touch(index, id, now);
    }

    /// The platform id of record `index`.
    pub fn id_of(&self, stream: &str, index: u64) -> u64 {
        known(stream).id(index)
    }

    /// Record `index` as the API returns it now, `None` past the count.
    pub fn record(&self, stream: &str, index: u64) -> Option<Value> {
        let kind = known(stream);
        let meta = self.lock().stream(kind).meta(index)?;
        Some(self.generate(kind, index, meta))
    }

    /// Every record of a stream in id order, as a full listing returns them. Besides
    /// [`STREAMS`] this takes `ticket_comments`: every comment of every ticket.
    pub fn records(&self, stream: &str) -> Vec<Value> {
        if stream == "ticket_comments" {
            let tickets = self.count("tickets");
            return (0..tickets)
                .flat_map(|ticket| self.comments(ticket))
                .collect();
        }
        let kind = known(stream);
        let metas = self.lock().stream(kind).metas();
        metas
            .into_iter()
            .enumerate()
            .map(|(index, meta)| self.generate(kind, index as u64, meta))
            .collect()
    }

    /// The comments of ticket `index`, oldest first (empty past the count).
    pub fn comments(&self, ticket: u64) -> Vec<Value> {
        let Some(meta) = self.lock().stream(Kind::Tickets).meta(ticket) else {
            return Vec::new();
        };
        records::comments(self, ticket, meta)
    }

    pub(crate) fn generate(&self, kind: Kind, index: u64, meta: Meta) -> Value {
        records::record(self, kind, index, meta)
    }

    pub(crate) fn key(&self, kind: Kind) -> u64 {
        self.keys[kind.slot()]
    }

    /// The id of a random initial record of `kind` (the first one's when there are none).
    pub(crate) fn reference<R: rand::Rng>(&self, rng: &mut R, kind: Kind) -> u64 {
        kind.id(rng.gen_range(0..self.initial[kind.slot()].max(1)))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is complete before the guard drops, so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn known(stream: &str) -> Kind {
    Kind::from_name(stream).unwrap_or_else(|| {
        panic!(
            "unknown Zendesk stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> ZendeskFake {
        ZendeskFake::new(7, |spec| default_count(spec.trim_start_matches("zendesk.")))
    }

    #[test]
    fn records_are_deterministic_and_zendesk_shaped() {
        let a = fake();
        let b = fake();
        assert_eq!(a.records("tickets"), b.records("tickets"));
        let ticket = a.record("tickets", 3).unwrap();
        assert_eq!(ticket["id"], 4);
        assert!(ticket["subject"].is_string());
        assert!(ticket["created_at"].as_str().unwrap().ends_with('Z'));
        assert_eq!(a.records("users").len(), 50);
        assert!(a.record("tickets", 100).is_none());
        assert!(!a.comments(0).is_empty());
    }

    #[test]
    fn touch_and_grow_change_only_what_they_say() {
        let fake = fake();
        let before = fake.record("users", 5).unwrap();
        fake.advance(30);
        fake.touch("users", 5);
        let after = fake.record("users", 5).unwrap();
        assert_ne!(before["updated_at"], after["updated_at"]);
        assert_eq!(before["created_at"], after["created_at"]);
        assert_eq!(fake.record("users", 6), fake.record("users", 6));
        assert_eq!(fake.grow("users", 2), 52);
        assert_eq!(fake.records("users").len(), 52);
        fake.touch("users", 10_000);
        assert_eq!(fake.count("users"), 52);
    }
}
