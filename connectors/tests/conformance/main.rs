//! One conformance suite for every connector, run against the platform's sandbox fake over HTTP.
//!
//! Each platform supplies a [`harness::Fixture`] (how to configure its fake and connector, what
//! its dataset is, how users change it, how a credential is revoked); the `conformance!` macro
//! instantiates every check for it. A check a platform's capabilities exclude (e.g. incremental
//! for a stream without a cursor) is skipped inside the check, per stream.

mod activecampaign;
mod dropbox;
mod gohighlevel;
mod googledrive;
mod harness;
mod hubspot;
mod keap;
mod mailchimp;
mod slack;
mod stripe;
mod zendesk;
