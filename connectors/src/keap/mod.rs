//! Keap (Infusionsoft): contacts, companies, orders, products, opportunities and tags.
//!
//! - **Auth**: OAuth 2.0 through [`crate::oauth::OAuthSession`]. Keap's refresh tokens are
//!   single-use and rotate, so every refresh goes through the connection's
//!   [`crate::oauth::TokenStore`], which saves the rotated token exactly once; a 401 refreshes
//!   once and retries the request once; a second 401 or a refused grant means "reconnect".
//! - **Pagination**: v2 resources (contacts, companies, opportunities, tags) use `page_size`
//!   (≤1000) + `page_token` -> `next_page_token` (empty at the end); v1 resources (orders,
//!   products) use `limit` (≤1000) + `offset`, whose `next` URL is present even on the last
//!   page, so the end is found from `count` and short pages and `next` is never followed.
//! - **Incremental**: contacts filter on `start_update_time` (v2 `filter`); the cursor is the
//!   latest `update_time` seen. Other streams are read in full.
//! - **Limits**: 1500 requests/min and 150,000/day per client key, spike arrest 25/s; Keap's
//!   usage guidelines forbid continuous export, so schedule daily (see `docs.md`).

mod client;
mod config;
mod models;
mod streams;

pub use client::{KeapConnector, connect};
pub use config::{KEAP_AUTHORIZE_URL, KEAP_TOKEN_URL, KeapConfig};
pub use streams::INFO;
