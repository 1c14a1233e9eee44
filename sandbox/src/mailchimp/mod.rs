//! A fake of the Mailchimp Marketing API 3.0 under `/3.0`: the API root, audiences
//! (`/lists`), their members (`/lists/{list_id}/members`), campaigns, reports and templates.
//!
//! It follows Mailchimp's documented behaviour where a connector can notice: HTTP Basic auth
//! with any user name and the API key (`<key>-<dc>`) as password, or `Authorization: Bearer`
//! with an OAuth token; `count` (default 10, at most 1000, 400 above) + `offset` paging with
//! `total_items`; `since_last_changed` / `before_last_changed` on members (strictly after /
//! before, ISO 8601); at most [`MAX_CONNECTIONS`] simultaneous requests (429 above); and every
//! error as `application/problem+json` (`type`, `title`, `status`, `detail`, `instance`).
//!
//! Records are generated lazily from the seed. Every stream's record `i` is created at
//! `CREATED_BASE + i * CREATED_STEP`; members are per audience (the `mailchimp.members` count
//! is members *per list*). Mutations ([`MailchimpFake::grow`], [`MailchimpFake::touch`]) stamp
//! times from a virtual clock that starts after every generated time and advances one step per
//! mutation, so each mutation is strictly newer than everything before it.
//!
//! **Order, and the offset-paging trap.** Mailchimp documents no default order for members.
//! The fake's default is deliberately unstable, most recently changed first
//! (`last_changed DESC`): a member added or updated during an offset walk shifts every later
//! position, so a walk in that order duplicates and skips. `sort_field=timestamp_signup&
//! sort_dir=ASC` is stable: a member keeps its position when it changes, and new members appear
//! at the end. The connector always asks for that order. Lists, campaigns, reports and
//! templates are served oldest first (creation order) by default.

pub(crate) mod api;
mod error;
mod query;
mod records;
pub mod time;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::Value;

use crate::generate;

/// The streams the fake serves, as `mailchimp.<stream>` record-count specs.
pub const STREAMS: [&str; 5] = ["lists", "members", "campaigns", "reports", "templates"];

/// The API key the fake accepts: 32 hex characters, a dash and the data center, like real keys.
pub const DEFAULT_API_KEY: &str = "0123456789abcdef0123456789abcdef-us21";
/// The OAuth access token the fake accepts as `Authorization: Bearer`.
pub const DEFAULT_OAUTH_TOKEN: &str = "sandbox-mailchimp-oauth-token";
/// The data center the fake claims to be.
pub const DATA_CENTER: &str = "us21";
/// Mailchimp's documented limit of simultaneous connections per user.
pub const MAX_CONNECTIONS: usize = 10;

/// Creation time of record 0 of every stream: 2020-09-13.
pub const CREATED_BASE: i64 = 1_600_000_000;
/// Seconds between consecutive records of a stream, and between two mutations.
pub const CREATED_STEP: i64 = 60;

/// The record count a stream starts with when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    match stream {
        "lists" => 3,
        "members" => 100,
        "templates" => 10,
        _ => 20,
    }
}

/// The Mailchimp fake's data: audiences whose members can grow and change.
#[derive(Debug)]
pub struct MailchimpFake {
    seed: u64,
    revoked: AtomicBool,
    /// The virtual clock mutations are stamped with.
    clock: AtomicI64,
    audiences: Vec<Mutex<Audience>>,
    campaigns: u64,
    /// Reports exist for the first `reports` campaigns (capped at the campaign count).
    reports: u64,
    templates: u64,
    in_flight: AtomicUsize,
}

/// One audience's members: a count, the times of grown batches, and updated members.
#[derive(Debug, Clone)]
struct Audience {
    initial: u64,
    count: u64,
    /// `(first index, signup time)` of each batch `grow` added, oldest first.
    batches: Vec<(u64, i64)>,
    /// Members updated since start-up: index -> `last_changed`.
    touched: BTreeMap<u64, i64>,
}

impl Audience {
    fn signup(&self, index: u64) -> i64 {
        if index < self.initial {
            return created_of(index);
        }
        self.batches
            .iter()
            .rev()
            .find(|(first, _)| *first <= index)
            .map_or_else(|| created_of(index), |&(_, at)| at)
    }

    fn last_changed(&self, index: u64) -> i64 {
        self.touched
            .get(&index)
            .copied()
            .unwrap_or_else(|| self.signup(index))
    }
}

/// `CREATED_BASE + index * CREATED_STEP`, saturating instead of wrapping.
pub(crate) fn created_of(index: u64) -> i64 {
    i64::try_from(index)
        .ok()
        .and_then(|i| i.checked_mul(CREATED_STEP))
        .and_then(|offset| offset.checked_add(CREATED_BASE))
        .unwrap_or(i64::MAX)
}

impl MailchimpFake {
    /// `counts` gives each stream's initial count (`members` per list).
    pub(crate) fn new(seed: u64, counts: impl Fn(&str) -> u64) -> Self {
        let lists = usize::try_from(counts("lists"))
            .unwrap_or(usize::MAX)
            .min(10_000);
        let members = counts("members");
        let campaigns = counts("campaigns");
        let newest = [members, campaigns, counts("templates"), lists as u64]
            .into_iter()
            .max()
            .unwrap_or_default();
        let audience = Audience {
            initial: members,
            count: members,
            batches: Vec::new(),
            touched: BTreeMap::new(),
        };
        Self {
            seed,
            revoked: AtomicBool::new(false),
            clock: AtomicI64::new(created_of(newest)),
            audiences: (0..lists).map(|_| Mutex::new(audience.clone())).collect(),
            campaigns,
            reports: counts("reports").min(campaigns),
            templates: counts("templates"),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The API key requests must carry (Basic auth password).
    pub fn api_key(&self) -> &'static str {
        DEFAULT_API_KEY
    }

    /// The OAuth token requests may carry instead (`Authorization: Bearer`).
    pub fn oauth_token(&self) -> &'static str {
        DEFAULT_OAUTH_TOKEN
    }

    /// Revokes the key and the token, as disabling the key in the account does: requests get 401.
    pub fn revoke_key(&self) {
        self.revoked.store(true, Ordering::SeqCst);
    }

    pub fn key_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many records `stream` holds now (`members`: across every list).
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`].
    pub fn count(&self, stream: &str) -> u64 {
        match stream {
            "lists" => self.audiences.len() as u64,
            "members" => (0..self.list_count()).map(|l| self.members_in(l)).sum(),
            "campaigns" => self.campaigns,
            "reports" => self.reports,
            "templates" => self.templates,
            other => panic!(
                "unknown Mailchimp stream `{other}` (known: {})",
                STREAMS.join(", ")
            ),
        }
    }

    /// How many audiences (lists) the account has.
    pub fn list_count(&self) -> usize {
        self.audiences.len()
    }

    /// The id of audience `list`.
    pub fn list_id(&self, list: usize) -> String {
        records::list_id(self, list)
    }

    /// The audience with id `id`.
    pub fn list_index(&self, id: &str) -> Option<usize> {
        (0..self.list_count()).find(|&l| self.list_id(l) == id)
    }

    /// How many members audience `list` has now.
    ///
    /// # Panics
    /// When `list` is out of range; so do the other methods taking a list.
    pub fn members_in(&self, list: usize) -> u64 {
        self.audience(list).count
    }

    /// Adds `n` members to `list`, signed up now (after everything else); returns the new count.
    pub fn grow(&self, list: usize, n: u64) -> u64 {
        let at = self.tick();
        let mut audience = self.audience(list);
        let first = audience.count;
        audience.batches.push((first, at));
        audience.count = first.saturating_add(n);
        audience.count
    }

    /// Updates member `index` of `list` now; returns its new `last_changed` (epoch seconds).
    ///
    /// # Panics
    /// When the member does not exist.
    pub fn touch(&self, list: usize, index: u64) -> i64 {
        let at = self.tick();
        let mut audience = self.audience(list);
        assert!(
            index < audience.count,
            "member {index} of list {list} does not exist"
        );
        audience.touched.insert(index, at);
        at
    }

    /// Member `index` of `list` as Mailchimp returns it.
    pub fn member(&self, list: usize, index: u64) -> Value {
        let audience = self.audience(list).clone();
        records::member(self, &audience, list, index)
    }

    /// `last_changed` of member `index` of `list`, in epoch seconds.
    pub fn last_changed_of(&self, list: usize, index: u64) -> i64 {
        self.audience(list).last_changed(index)
    }

    /// Every member of `list` in signup order (the stable order).
    pub fn members(&self, list: usize) -> Vec<Value> {
        let audience = self.audience(list).clone();
        (0..audience.count)
            .map(|i| records::member(self, &audience, list, i))
            .collect()
    }

    /// Every record of `stream`, as a full walk returns them (members: list by list).
    pub fn records(&self, stream: &str) -> Vec<Value> {
        match stream {
            "lists" => (0..self.list_count())
                .map(|l| records::list(self, l))
                .collect(),
            "members" => (0..self.list_count())
                .flat_map(|l| self.members(l))
                .collect(),
            "campaigns" => (0..self.campaigns)
                .map(|i| records::campaign(self, i))
                .collect(),
            "reports" => (0..self.reports)
                .map(|i| records::report(self, i))
                .collect(),
            "templates" => (0..self.templates)
                .map(|i| records::template(self, i))
                .collect(),
            other => panic!(
                "unknown Mailchimp stream `{other}` (known: {})",
                STREAMS.join(", ")
            ),
        }
    }

    fn tick(&self) -> i64 {
        self.clock
            .fetch_add(CREATED_STEP, Ordering::SeqCst)
            .saturating_add(CREATED_STEP)
    }

    fn audience(&self, list: usize) -> MutexGuard<'_, Audience> {
        let audience = self
            .audiences
            .get(list)
            .unwrap_or_else(|| panic!("list {list} does not exist ({} lists)", self.list_count()));
        // A panic while holding the lock leaves consistent data: every update is one assignment.
        audience.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The audience for a request, `None` for an unknown index.
    fn audience_snapshot(&self, list: usize) -> Option<Audience> {
        self.audiences
            .get(list)
            .map(|a| a.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// The namespace key of `(seed, "mailchimp.<what>")`.
    fn key(&self, what: &str) -> u64 {
        generate::namespace_key(self.seed, &format!("mailchimp.{what}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake() -> MailchimpFake {
        MailchimpFake::new(7, default_count)
    }

    #[test]
    fn records_are_mailchimp_shaped_and_stable() {
        let fake = fake();
        let member = fake.member(1, 4);
        assert_eq!(member["list_id"], fake.list_id(1));
        assert_eq!(member["id"].as_str().map(str::len), Some(32));
        assert_eq!(member["last_changed"], time::format(created_of(4)));
        assert_eq!(member, MailchimpFake::new(7, default_count).member(1, 4));
        assert_ne!(fake.list_id(0), fake.list_id(1));
        let report = &fake.records("reports")[3];
        assert_eq!(report["id"], fake.records("campaigns")[3]["id"]);
        assert_eq!(fake.records("templates").len(), 10);
        assert_eq!(fake.count("members"), 300);
    }

    #[test]
    fn mutations_are_newer_than_everything_before() {
        let fake = fake();
        let newest = (0..3).map(|l| fake.last_changed_of(l, 99)).max().unwrap();
        assert_eq!(fake.grow(0, 2), 102);
        let grown = fake.last_changed_of(0, 101);
        assert!(grown > newest);
        let touched = fake.touch(2, 0);
        assert!(touched > grown);
        assert_eq!(fake.member(2, 0)["last_changed"], time::format(touched));
        assert_eq!(
            fake.member(2, 0)["timestamp_signup"],
            time::format(created_of(0))
        );
    }
}
