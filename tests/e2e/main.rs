//! Whole-system tests: a real Temporal dev server, Postgres or SQLite, the embedded S3 endpoint
//! and the platform sandbox, with the `listbackup` binary's worker as a child process.

mod api_errors;
mod backup;
mod bench;
mod by_hand;
mod cancel_retry;
mod cli;
mod client;
mod crash;
mod export;
mod files;
mod fuzz;
mod harness;
mod live_progress;
mod notifications;
mod oauth;
mod object_lock;
mod operator;
mod outages;
mod pit;
mod platforms;
mod queue;
mod retention;
mod schedules;
mod shared_budget;
// The email tests' SMTP server (aiosmtpd), shared with the API's tests.
#[allow(dead_code)]
#[path = "../../api/tests/rest/smtp.rs"]
mod smtp;
mod synthetic;
mod verify;
mod webhooks;
