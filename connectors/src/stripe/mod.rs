//! Stripe: customers, products, prices, invoices, charges, payment intents, subscriptions,
//! refunds, balance transactions and events.
//!
//! Secret-key auth (`Authorization: Bearer sk_…`), list pagination with `limit` (max 100) and
//! `starting_after`, newest first. Incremental syncs filter on `created[gte]`: Stripe has no
//! `updated` filter, so a sync catches new objects, and a periodic full backup catches changes
//! to old ones. Payment intents and refunds, whose state at creation is transient, are read in
//! full on every run; events are kept by Stripe for 30 days only (see `docs.md`).

mod client;
mod config;
mod models;
mod streams;

pub use client::StripeConnector;
pub use config::StripeConfig;
pub use streams::INFO;
