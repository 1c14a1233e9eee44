//! `RetentionWorkflow`: one retention pass over an account, on the `listbackup-maintenance`
//! task queue, and the contracts of its activities.
//!
//! plan (which complete snapshots the policies expire) -> delete them, a batch at a time
//! (manifest first, then every other object under the snapshot, then the rows) -> sweep the
//! account's blobs that no snapshot uses -> record the result on the run. A failure records the
//! error on the run before the workflow fails, so the run's row and the workflow agree.
//!
//! Started by `POST /v1/accounts/{id}/retention/runs` (workflow id
//! `retention/{account_id}/{run_id}`, the run row made first) or by the account's retention
//! schedule (`retention/{account_id}/scheduled-{time}`, the row claimed by the first activity).

use crate::contracts::activity_contract;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult, common::ActivityDefinition,
};

/// The workflow type name (pinned: schedules and running workflows refer to it).
pub const WORKFLOW_TYPE: &str = "RetentionWorkflow";

/// The `ListbackupJobKind` of retention runs, so they are filterable in the Web UI.
pub const KIND: &str = "retention";

/// A pass may take long on a large account; a day bounds it (the next one starts anyway).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// How many snapshots one `retention.delete_snapshots` call deletes.
pub const DELETE_BATCH: usize = 20;

/// Failure types that retrying cannot fix.
pub const NON_RETRYABLE: [&str; 2] = ["NotFound", "ConfigError"];

/// The workflow id of a run started from the API.
pub fn run_workflow_id(account_id: &str, run_id: &str) -> String {
    format!("retention/{account_id}/{run_id}")
}

/// The Temporal Schedule of an account's retention runs (and the prefix of its runs' ids).
pub fn schedule_id(account_id: &str) -> String {
    format!("retention/{account_id}/scheduled")
}

/// The input of `RetentionWorkflow`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RetentionInput {
    pub account_id: String,
    /// The run row the API made; `None` for a scheduled run, whose first activity claims one.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Only this source's snapshots; `None` for every source of the account.
    #[serde(default)]
    pub source_id: Option<String>,
}

/// The input of `retention.plan`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PlanInput {
    pub account_id: String,
    pub run_id: Option<String>,
    pub source_id: Option<String>,
    /// The run's own workflow id, which a scheduled run's row records.
    pub workflow_id: String,
}

/// A snapshot the plan expires.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExpiredSnapshot {
    pub snapshot_id: String,
    pub source_id: String,
    /// Why no rule keeps it.
    pub reason: String,
}

/// What `retention.plan` decided.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RetentionPlan {
    pub run_id: String,
    pub expired: Vec<ExpiredSnapshot>,
    /// How many snapshots the policies keep.
    pub kept: u64,
}

/// The input of `retention.delete_snapshots`: a batch of the plan.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DeleteSnapshotsInput {
    pub run_id: String,
    pub account_id: String,
    pub source_id: Option<String>,
    pub snapshots: Vec<ExpiredSnapshot>,
}

/// An expired snapshot kept because S3 Object Lock still retains some of its objects.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HeldSnapshot {
    pub snapshot_id: String,
    pub source_id: String,
    /// When the last of its objects' retention ends (RFC 3339); `None` under a legal hold, or
    /// when the store refused a delete the retention it showed allowed.
    pub retained_until: Option<String>,
}

/// What a batch deleted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct DeletedSnapshots {
    pub deleted: Vec<ExpiredSnapshot>,
    /// Planned, but kept when it came to deleting them (the policy or the snapshots changed).
    pub skipped: Vec<String>,
    /// Expired, but retained by Object Lock: kept whole, deleted by a later run.
    #[serde(default)]
    pub held: Vec<HeldSnapshot>,
    /// Stored bytes of the objects deleted.
    pub bytes_freed: u64,
}

/// The input of `retention.sweep_blobs`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SweepInput {
    pub run_id: String,
    pub account_id: String,
}

/// What the sweep deleted.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct SweepResult {
    pub blobs_swept: u64,
    pub bytes_freed: u64,
    /// Marked, but used by a backup before they could be deleted: kept.
    pub blobs_reused: u64,
    /// Unused, but retained by Object Lock: kept for a later sweep.
    #[serde(default)]
    pub blobs_held: u64,
}

/// What a run did: the result of the workflow, also stored on the run's row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct RetentionResult {
    pub run_id: String,
    pub snapshots_deleted: Vec<ExpiredSnapshot>,
    pub snapshots_kept: u64,
    /// Expired but retained by Object Lock (kept whole until a run after their retention).
    #[serde(default)]
    pub snapshots_held: Vec<HeldSnapshot>,
    pub snapshot_bytes_freed: u64,
    pub blobs_swept: u64,
    pub blob_bytes_freed: u64,
    /// Unused blobs retained by Object Lock.
    #[serde(default)]
    pub blobs_held: u64,
}

/// The input of `retention.finish`: the run's result, or why it failed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FinishRunInput {
    pub run_id: String,
    pub account_id: String,
    pub result: Option<RetentionResult>,
    pub error: Option<String>,
}

activity_contract!(
    /// Claims a scheduled run's row (a run from the API has one) and decides which complete
    /// snapshots the policies expire.
    PlanRetention, "retention.plan", PlanInput => RetentionPlan
);
activity_contract!(
    /// Deletes a batch of expired snapshots: the manifest, every other object under the
    /// snapshot, then its rows, each logged as `snapshot.expired`. A snapshot the policy keeps
    /// by now is skipped; one whose objects S3 Object Lock still retains is held, whole.
    DeleteSnapshots, "retention.delete_snapshots", DeleteSnapshotsInput => DeletedSnapshots
);
activity_contract!(
    /// Marks the account's blobs that snapshots use and deletes the others, safely against
    /// backups running meanwhile (see `docs/retention.md`).
    SweepBlobs, "retention.sweep_blobs", SweepInput => SweepResult
);
activity_contract!(
    /// Records the run's result (or error) on its row, once.
    FinishRun, "retention.finish", FinishRunInput => ()
);

fn work() -> ActivityOptions {
    // Deleting objects and sweeping heartbeat, so a dead worker is noticed in 30 s.
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30 * 60))
        .heartbeat_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .backoff_coefficient(2.0)
                .maximum_interval(Duration::from_secs(60))
                .maximum_attempts(20)
                .non_retryable_error_types(NON_RETRYABLE)
                .build(),
        )
        .build()
}

#[workflow]
#[derive(Default)]
pub struct RetentionWorkflow;

#[workflow_methods]
impl RetentionWorkflow {
    #[run(name = "RetentionWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: RetentionInput,
    ) -> WorkflowResult<RetentionResult> {
        let plan_input = PlanInput {
            account_id: input.account_id.clone(),
            run_id: input.run_id.clone(),
            source_id: input.source_id.clone(),
            workflow_id: ctx.workflow_id().to_owned(),
        };
        let plan = ctx
            .execute_activity(PlanRetention, plan_input, work())
            .await?;
        match Self::apply(ctx, &input, &plan).await {
            Ok(result) => {
                let finish = FinishRunInput {
                    run_id: plan.run_id.clone(),
                    account_id: input.account_id.clone(),
                    result: Some(result.clone()),
                    error: None,
                };
                ctx.execute_activity(FinishRun, finish, work()).await?;
                Ok(result)
            }
            Err(e) => {
                let finish = FinishRunInput {
                    run_id: plan.run_id.clone(),
                    account_id: input.account_id.clone(),
                    result: None,
                    error: Some(crate::backup::root_message(&e)),
                };
                ctx.execute_activity(FinishRun, finish, work()).await?;
                Err(e.into())
            }
        }
    }

    async fn apply(
        ctx: &mut WorkflowContext<Self>,
        input: &RetentionInput,
        plan: &RetentionPlan,
    ) -> Result<RetentionResult, temporalio_workflow::ActivityExecutionError> {
        let mut result = RetentionResult {
            run_id: plan.run_id.clone(),
            snapshots_kept: plan.kept,
            ..RetentionResult::default()
        };
        for batch in plan.expired.chunks(DELETE_BATCH) {
            let delete = DeleteSnapshotsInput {
                run_id: plan.run_id.clone(),
                account_id: input.account_id.clone(),
                source_id: input.source_id.clone(),
                snapshots: batch.to_vec(),
            };
            let deleted = ctx
                .execute_activity(DeleteSnapshots, delete, work())
                .await?;
            result.snapshot_bytes_freed += deleted.bytes_freed;
            result.snapshots_kept += deleted.skipped.len() as u64;
            result.snapshots_deleted.extend(deleted.deleted);
            result.snapshots_held.extend(deleted.held);
        }
        let sweep = SweepInput {
            run_id: plan.run_id.clone(),
            account_id: input.account_id.clone(),
        };
        let swept = ctx.execute_activity(SweepBlobs, sweep, work()).await?;
        result.blobs_swept = swept.blobs_swept;
        result.blob_bytes_freed = swept.bytes_freed;
        result.blobs_held = swept.blobs_held;
        Ok(result)
    }
}

/// The activity type names, pinned: running workflows refer to them.
pub const ACTIVITY_NAMES: [&str; 4] = [
    "retention.plan",
    "retention.delete_snapshots",
    "retention.sweep_blobs",
    "retention.finish",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_pinned() {
        let names = [
            PlanRetention.name().to_owned(),
            DeleteSnapshots.name().to_owned(),
            SweepBlobs.name().to_owned(),
            FinishRun.name().to_owned(),
        ];
        assert_eq!(names, ACTIVITY_NAMES);
        assert_eq!(WORKFLOW_TYPE, "RetentionWorkflow");
        assert_eq!(
            run_workflow_id("acc", "run"),
            "retention/acc/run",
            "runs are findable by account in the Web UI"
        );
    }

    #[test]
    fn a_scheduled_input_needs_no_run() {
        let input: RetentionInput = serde_json::from_str(r#"{"account_id": "a"}"#).unwrap();
        assert_eq!(input.run_id, None);
        assert_eq!(input.source_id, None);
    }
}
