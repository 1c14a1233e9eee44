//! HubSpot CRM v3: contacts, companies, deals and tickets (incremental), owners and
//! pipelines (full).
//!
//! Answers carry only HubSpot's default properties unless a request names more, so the
//! connector reads every property name first ([`properties`]).
//!
//! Auth is a bearer token: a private app's access token (or an OAuth access token the
//! platform layer keeps fresh). A full backup lists `GET /crm/v3/objects/{type}` with
//! `limit` (max 100) and `after` -> `paging.next.after`. An incremental sync searches
//! (`POST /crm/v3/objects/{type}/search`) for records whose last-modified property
//! (`lastmodifieddate` on contacts, `hs_lastmodifieddate` elsewhere) lies in a time window
//! starting at the saved cursor. HubSpot's search silently stops after 10,000 results per
//! query, so [`sync`] splits any window whose `total` exceeds that in half until each
//! fits, and checks every window returned exactly `total` records. The page token is
//! the JSON-encoded stack of windows still to read plus the position in the current one.

mod client;
mod config;
mod models;
mod properties;
mod streams;
mod sync;

pub use client::HubSpotConnector;
pub use config::HubSpotConfig;
pub use streams::{INFO, SEARCH_RATE_LIMIT};
