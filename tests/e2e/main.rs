//! Whole-system tests: a real Temporal dev server, Postgres or SQLite, the embedded S3 endpoint
//! and the platform sandbox, with the `listbackup` binary's worker as a child process.

mod api_errors;
mod backup;
mod cancel_retry;
mod cli;
mod client;
mod crash;
mod files;
mod fuzz;
mod harness;
mod oauth;
mod outages;
mod platforms;
mod schedules;
