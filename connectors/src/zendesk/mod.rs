//! Zendesk Support: tickets, users, organizations, groups and ticket comments.
//!
//! Auth is an API token (Basic `{email}/token:{api_token}`) or an OAuth access token
//! (`Bearer`). The base URL is `https://{subdomain}.zendesk.com`, built from a validated
//! subdomain (or a `base_url` override the registry checks against SSRF).
//!
//! Lists use **cursor pagination** (`page[size]` <= 100, `page[after]`, `meta.has_more`,
//! `meta.after_cursor`) and never offset pagination, which Zendesk refuses past 10,000
//! records. Tickets and users are incremental through the cursor-based incremental exports
//! (`/api/v2/incremental/{tickets|users}/cursor.json`): the first sync starts at
//! `start_time`, and the stream cursor is the export's `after_cursor`, which also covers
//! items Zendesk held back because they changed in the last minute. Exports have their own
//! budget (10 requests/min), paced separately. Ticket comments walk every ticket's comments,
//! with the walk's position in the page token. See `docs.md`.

mod client;
mod comments;
mod config;
mod export;
mod models;
mod streams;

pub use client::ZendeskConnector;
pub use config::{Credentials, ZendeskConfig};
pub use streams::INFO;
