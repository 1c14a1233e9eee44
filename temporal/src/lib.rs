//! Temporal wiring: connecting a client, registering search attributes, starting and querying
//! ListBackup's workflows, and launching the Temporal CLI dev server for `listbackup dev` and tests.

mod client;
pub mod dev_server;
mod export;
mod jobs;
mod retention;
mod schedules;
mod verify;
mod webhooks;

pub use client::{
    TemporalSettings, TlsFiles, connect, connect_with_retry, ensure_search_attributes,
    unreachable_client,
};
pub use export::start_export;
pub use jobs::{
    RunState, RunStatus, backup_history_json, backup_progress, cancel_backup, check_health,
    find_runs, run_state, signal_reauthorized, start_backup, web_ui_link,
};
pub use retention::{
    RETENTION_KIND, delete_retention_schedule, ensure_retention_schedule, start_retention,
};
pub use schedules::{
    ScheduleDefinition, ScheduleStatus, ScheduledRun, create_schedule, delete_schedule,
    describe_schedule, scheduled_workflow_id, set_schedule_paused, trigger_schedule,
    update_schedule,
};
pub use temporalio_client::Client;
pub use verify::start_verification;
pub use webhooks::start_webhook_delivery;

/// Errors talking to Temporal.
#[derive(Debug, thiserror::Error)]
pub enum TemporalError {
    #[error("invalid Temporal address `{0}`")]
    InvalidAddress(String),
    #[error("reading {what} `{path}`: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("connecting to Temporal at {address}: {message}")]
    Connect { address: String, message: String },
    #[error("Temporal {operation} failed: {message}")]
    Rpc {
        operation: &'static str,
        message: String,
    },
    #[error("workflow {0} is already running")]
    AlreadyStarted(String),
    #[error("Temporal refused the schedule: {0}")]
    InvalidSchedule(String),
    #[error("no such Temporal schedule: {0}")]
    ScheduleNotFound(String),
    #[error("the Temporal schedule exists already: {0}")]
    ScheduleExists(String),
    #[error("dev server: {0}")]
    DevServer(String),
}
