//! Replays recorded histories against the current workflow code: a change that would break
//! running workflows (a different sequence of commands for the same events) fails here.
//!
//! The fixture is a real run recorded by the end-to-end backup test
//! (`LISTBACKUP_RECORD_HISTORY=1 cargo test --test e2e backup_of_10k`). Re-record it only for a
//! deliberate, versioned change to the workflow.

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};
use workflows::BackupWorkflow;

#[tokio::test]
async fn recorded_backup_history_replays() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/backup_history.json"
    ))
    .expect("fixture");
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
        .expect("the recorded history replays deterministically");
}
