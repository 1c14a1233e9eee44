//! A fake of the GoHighLevel (LeadConnector) API v2, served under `/gohighlevel`: contacts
//! (`POST /contacts/search`), opportunities (`GET /opportunities/search`), calendars
//! (`GET /calendars/`) and appointments (`GET /calendars/events`).
//!
//! What a connector can notice follows GHL's documented behaviour: bearer tokens issued by the
//! sandbox's OAuth authority for `gohighlevel` (401 otherwise), the `Version: 2021-07-28` header
//! (400 without), `pageLimit` at most 100, `searchAfter` paging where every contact carries the
//! sort values to continue after it, `startAfter` + `startAfterId` paging for opportunities,
//! and a request budget of 100 requests per 10 s per location with `X-RateLimit-*` headers.
//!
//! Data is per location: the sandbox has [`LOCATIONS`] locations and a request only ever sees
//! the location it names. Records are generated lazily from `(seed, location, stream, index)`;
//! contacts' times come from a [`timeline::Timeline`] so `grow` and `touch` can change them.

pub(crate) mod api;
mod limits;
mod records;
mod search;
mod timeline;

use std::sync::{Mutex, PoisonError};

use serde_json::Value;

use crate::generate::{self, IdCodec};
use timeline::Timeline;

/// The streams the fake serves.
pub const STREAMS: [&str; 4] = ["contacts", "opportunities", "calendars", "appointments"];

/// The `Version` header value every request must carry.
pub const API_VERSION: &str = "2021-07-28";

/// How many locations (sub-accounts) the sandbox agency has.
pub const LOCATIONS: usize = 2;

/// `dateAdded` of contact 0 and `createdAt` of opportunity 0: 2023-11-14T22:13:20Z.
pub const BASE_MS: i64 = 1_700_000_000_000;
/// `startTime` of appointment 0: 2024-01-01T09:00:00Z; appointments are 7 hours apart.
pub const APPOINTMENT_BASE_MS: i64 = 1_704_099_600_000;
pub const APPOINTMENT_STEP_MS: i64 = 7 * 3_600_000;

/// The record count a stream starts with (per location) when the config does not say.
pub(crate) fn default_count(stream: &str) -> u64 {
    match stream {
        "contacts" => 100,
        "calendars" => 2,
        _ => 50,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    Contacts,
    Opportunities,
    Calendars,
    Appointments,
}

impl Stream {
    pub(crate) const ALL: [Stream; 4] = [
        Stream::Contacts,
        Stream::Opportunities,
        Stream::Calendars,
        Stream::Appointments,
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        STREAMS[self as usize]
    }

    pub(crate) fn spec(self) -> String {
        format!("gohighlevel.{}", self.name())
    }
}

/// The GoHighLevel fake's data.
#[derive(Debug)]
pub struct GoHighLevelFake {
    locations: Vec<Location>,
    limiter: limits::Limiter,
}

#[derive(Debug)]
struct Location {
    id: String,
    keys: [u64; 4],
    codecs: [IdCodec; 4],
    /// Counts at start-up: references between records stay within them.
    initial: [u64; 4],
    data: Mutex<LocationData>,
}

#[derive(Debug)]
struct LocationData {
    /// Counts of the streams other than contacts (whose count is the timeline's).
    counts: [u64; 4],
    contacts: Timeline,
}

impl GoHighLevelFake {
    pub(crate) fn new(seed: u64, counts: impl Fn(Stream) -> u64) -> Self {
        let locations = (0..LOCATIONS as u64)
            .map(|n| {
                let key = generate::namespace_key(seed, "gohighlevel.locations");
                let id = generate::fake::alphanumeric(&mut generate::record_rng(key, n), 20);
                let keys = Stream::ALL
                    .map(|s| generate::namespace_key(seed, &format!("{}.{id}", s.spec())));
                let initial = Stream::ALL.map(&counts);
                Location {
                    codecs: keys.map(|k| IdCodec::new("", k)),
                    keys,
                    initial,
                    data: Mutex::new(LocationData {
                        counts: initial,
                        contacts: Timeline::new(BASE_MS, initial[0]),
                    }),
                    id,
                }
            })
            .collect();
        Self {
            locations,
            limiter: limits::Limiter::default(),
        }
    }

    /// Every location id, in a fixed order.
    pub fn location_ids(&self) -> Vec<String> {
        self.locations.iter().map(|l| l.id.clone()).collect()
    }

    /// How many records `stream` of `location` holds now.
    ///
    /// # Panics
    /// When `location` or `stream` is unknown; so do the other methods taking them.
    pub fn count(&self, location: &str, stream: &str) -> u64 {
        self.location(location).count(known(stream))
    }

    /// Adds `n` records newer than every existing one; returns the new count.
    pub fn grow(&self, location: &str, stream: &str, n: u64) -> u64 {
        let stream = known(stream);
        let mut data = self.location(location).lock();
        match stream {
            Stream::Contacts => data.contacts.grow(n),
            other => {
                let count = &mut data.counts[other as usize];
                *count = count.saturating_add(n);
                *count
            }
        }
    }

    /// Edits contact `index` of `location` (bumps its `dateUpdated`); returns its id.
    pub fn touch(&self, location: &str, index: u64) -> Option<String> {
        let loc = self.location(location);
        loc.lock().contacts.touch(index)?;
        Some(loc.id_of(Stream::Contacts, index))
    }

    /// The id of record `index` of `stream`.
    pub fn id_of(&self, location: &str, stream: &str, index: u64) -> String {
        self.location(location).id_of(known(stream), index)
    }

    /// Every record of `stream` of `location` in index order (oldest added first), each as the
    /// API returns it (contacts with the `searchAfter` of the default sort: `dateUpdated`, id).
    pub fn records(&self, location: &str, stream: &str) -> Vec<Value> {
        let loc = self.location(location);
        let stream = known(stream);
        let count = loc.count(stream);
        let data = loc.lock();
        (0..count)
            .map(|i| records::generate(loc, &data, stream, i))
            .collect()
    }

    /// Sets the per-location budget (requests per 10 s); `None` turns it off.
    pub fn set_interval_limit(&self, limit: Option<u32>) {
        self.limiter.set_max(limit);
    }

    fn find(&self, location: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == location)
    }

    fn location(&self, location: &str) -> &Location {
        self.find(location)
            .unwrap_or_else(|| panic!("unknown GoHighLevel location `{location}`"))
    }
}

impl Location {
    fn lock(&self) -> std::sync::MutexGuard<'_, LocationData> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, stream: Stream) -> u64 {
        let data = self.lock();
        match stream {
            Stream::Contacts => data.contacts.count(),
            other => data.counts[other as usize],
        }
    }

    fn id_of(&self, stream: Stream, index: u64) -> String {
        self.codecs[stream as usize].encode(index)
    }

    fn index_of(&self, stream: Stream, id: &str) -> Option<u64> {
        self.codecs[stream as usize].decode(id)
    }
}

fn known(stream: &str) -> Stream {
    Stream::from_name(stream).unwrap_or_else(|| {
        panic!(
            "unknown GoHighLevel stream `{stream}` (known: {})",
            STREAMS.join(", ")
        )
    })
}

/// Milliseconds since the epoch as GHL writes times: `2024-06-11T10:06:02.184Z`.
pub(crate) fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_isolated_and_deterministic() {
        let a = GoHighLevelFake::new(7, |s| default_count(s.name()));
        let b = GoHighLevelFake::new(7, |s| default_count(s.name()));
        let ids = a.location_ids();
        assert_eq!(ids, b.location_ids());
        assert_eq!(ids.len(), LOCATIONS);
        assert!(ids.iter().all(|id| id.len() == 20));
        for stream in STREAMS {
            let first = a.records(&ids[0], stream);
            assert_eq!(first, b.records(&ids[0], stream));
            let second: Vec<_> = a.records(&ids[1], stream);
            assert!(first.iter().all(|r| r["locationId"] == ids[0].as_str()));
            assert!(first.iter().all(|r| !second.contains(r)), "{stream}");
        }
        assert_eq!(iso(BASE_MS), "2023-11-14T22:13:20.000Z");
    }
}
