//! The REST API over HTTP: `api::app` on a real listener (port 0) over a fresh Postgres
//! database per test (and one walk-through on SQLite), spoken to with reqwest. These resources never start a workflow or store
//! an object, so Temporal is a client that refuses every call and S3 is never contacted.

mod harness;

mod accounts;
mod activity;
mod api_keys;
mod isolation;
mod job_lists;
mod members;
mod schedules;
mod sign_in;
mod sqlite;
mod system;
mod throttling;
