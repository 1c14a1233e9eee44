//! The REST API over HTTP: `api::app` on a real listener (port 0) over a fresh Postgres
//! database per test (and one walk-through on SQLite), spoken to with reqwest. Temporal is a
//! client that refuses every call, except for the tests of idempotent job starts and of retention
//! policies, which run a dev server of their own (without a worker). Snapshot tests read real stored data from an
//! embedded S3 endpoint (`App::spawn_with_objects`); the others never contact S3. Connection and
//! source tests speak to the sandbox's platform fakes.

mod harness;

mod accounts;
mod activity;
mod analytics;
mod api_keys;
mod branding;
mod connections;
mod dns;
mod email;
mod idempotency;
mod isolation;
mod job_lists;
mod me;
mod members;
mod notifications;
mod pit;
mod portal;
mod retention;
mod schedules;
mod search;
mod sign_in;
mod smtp;
mod snapshots;
mod source_groups;
mod sources;
mod sqlite;
mod system;
mod teams;
mod throttling;
mod webhooks;
