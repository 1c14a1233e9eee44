//! Replays recorded histories against the current workflow code: a change that would break
//! running workflows (a different sequence of commands for the same events) fails here.
//!
//! The fixtures are real runs recorded by the end-to-end tests:
//! - `backup_history.json`: a plain backup, recorded before runs took job slots and before they
//!   extracted streams at once; it must stay a history of that old code;
//! - `backup_history_quota_wait.json`: a run that took a job slot, recorded its status in the
//!   search attribute and slept through an exhausted daily quota, one stream after another
//!   (before the `concurrent-streams` marker); it must stay a history of that code too;
//! - `backup_history_concurrent_streams.json`: a backup of many streams extracted several at once
//!   (the `concurrent-streams` marker), recorded by `backup_of_10k` with
//!   `LISTBACKUP_RECORD_HISTORY=1`;
//! - `backup_history_concurrent_quota_wait.json`: streams extracted at once until a daily quota
//!   ended the round, the wait, then the rest
//!   (`LISTBACKUP_RECORD_HISTORY=1 cargo test --test e2e a_daily_quota`).

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use workflows::BackupWorkflow;

async fn replays(fixture: &str) {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let replayer = WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<BackupWorkflow>()
            .unwrap()
            .build(),
    )
    .unwrap();
    let history = WorkflowHistory::from_json(&bytes).expect("SDK history JSON");
    replayer
        .replay_workflow(history)
        .await
        .unwrap_or_else(|e| panic!("{fixture} replays deterministically: {e:?}"));
}

#[tokio::test]
async fn recorded_backup_history_replays() {
    replays("backup_history.json").await;
}

#[tokio::test]
async fn recorded_quota_wait_history_replays() {
    replays("backup_history_quota_wait.json").await;
}

#[tokio::test]
async fn recorded_concurrent_streams_history_replays() {
    replays("backup_history_concurrent_streams.json").await;
}

#[tokio::test]
async fn recorded_concurrent_quota_wait_history_replays() {
    replays("backup_history_concurrent_quota_wait.json").await;
}
