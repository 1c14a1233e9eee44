//! The REST API over HTTP: `api::app` on a real listener (port 0) over a fresh Postgres
//! database per test (and one walk-through on SQLite), spoken to with reqwest. These resources
//! never start a workflow, so Temporal is a client that refuses every call; snapshot tests read
//! real stored data from an embedded S3 endpoint (`App::spawn_with_objects`), the others never
//! contact S3.

mod harness;

mod accounts;
mod api_keys;
mod isolation;
mod members;
mod sign_in;
mod snapshots;
mod sqlite;
mod system;
mod throttling;
