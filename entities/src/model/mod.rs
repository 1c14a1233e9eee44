//! The entities, one module per table.

pub mod account;
pub mod account_branding;
pub mod activity_log;
pub mod api_key;
pub mod blob;
pub mod blob_ref;
pub mod connection;
pub mod export;
pub mod file_fingerprint;
pub mod idempotency_key;
pub mod invitation;
pub mod job;
pub mod membership;
pub mod oauth_state;
pub mod password_reset;
pub mod rate_budget;
pub mod recovery_code;
pub mod refresh_token;
pub mod retention_policy;
pub mod retention_run;
pub mod schedule;
pub mod snapshot;
pub mod snapshot_part;
pub mod source;
pub mod source_group;
pub mod source_group_member;
pub mod team;
pub mod team_grant;
pub mod team_member;
pub mod user;
pub mod verification;
pub mod verification_schedule;
pub mod webhook;
pub mod webhook_delivery;

mod enums;
pub use enums::{JobKind, JobStatus, Role, SnapshotStatus};
