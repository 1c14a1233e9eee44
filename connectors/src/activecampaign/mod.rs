//! ActiveCampaign (API v3): contacts, deals, lists, campaigns and automations.
//!
//! Auth is the account user's API token in the `Api-Token` header; the API lives on a per-account
//! host the user supplies (`https://<account>.api-us1.com/api/3`), so the base URL is validated
//! like any user input that makes the server send requests (SSRF; see [`config::api_root`]).
//! Contacts page by keyset (`orders[id]=ASC&id_greater=<last id>`): offset paging over contacts
//! duplicates or skips records when contacts are added mid-walk. The other streams page with
//! `limit` + `offset` until a short page or `meta.total` (a string). Contacts and deals sync
//! incrementally with `filters[updated_after]=<highest udate/mdate seen>`; lists, campaigns and
//! automations are read in full. The 5 requests/s budget belongs to the account, so every
//! connection to one account shares one budget (see `docs.md`).

mod client;
mod config;
mod models;
mod streams;

pub use client::ActiveCampaignConnector;
pub use config::{ActiveCampaignConfig, api_root};
pub use streams::INFO;
