//! Mailchimp Marketing API 3.0: audiences (lists), their members, campaigns, campaign reports
//! and templates.
//!
//! **Auth**: an API key `<key>-<dc>` sent as the HTTP Basic password (any user name), or an
//! OAuth 2.0 access token (`Authorization: Bearer`, never expires, no refresh) together with
//! the account's data center from the OAuth metadata endpoint. The base URL
//! `https://<dc>.api.mailchimp.com/3.0` comes from the data center, which is validated as
//! letters and digits only: a key like `abc-us21.evil.com` must not pick the host.
//!
//! **Pagination**: `count` (at most 1000) + `offset`, until `offset` reaches `total_items`.
//! Offset paging over a changing collection is only safe in a stable order, so every request
//! names one: creation time ascending, where new records appear at the end and updates move
//! nothing. Members are walked audience by audience; the opaque page token holds the
//! audience's position, its id and the offset.
//!
//! **Incremental**: members only, with `since_last_changed`; the cursor is the highest
//! `last_changed` seen. The other streams are small and read in full (see `docs.md`).

mod client;
mod config;
mod members;
mod models;
mod streams;
mod time;

pub use client::MailchimpConnector;
pub use config::{MailchimpConfig, base_url_for_key};
pub use streams::INFO;
