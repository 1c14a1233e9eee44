//! Stripe: customers, products, prices, invoices, charges and subscriptions.
//!
//! Secret-key auth (`Authorization: Bearer sk_…`), list pagination with `limit` (max 100) and
//! `starting_after`, newest first. Incremental syncs filter on `created[gte]`: Stripe has no
//! `updated` filter on these objects, so a sync catches new objects, and a periodic full backup
//! catches changes to old ones (see `docs.md`).

mod client;
mod config;
mod models;
mod streams;

pub use client::StripeConnector;
pub use config::StripeConfig;
pub use streams::INFO;
