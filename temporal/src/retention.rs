//! Starting retention runs, and each account's retention schedule: one Temporal Schedule per
//! account with a retention policy (`retention/{account_id}/scheduled`), daily at 03:00 UTC with
//! up to an hour of jitter, overlap Skip, starting `RetentionWorkflow` on the maintenance queue.

use crate::{ScheduleDefinition, ScheduledRun, TemporalError};
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::search_attributes::SearchAttributes;
use workflows::{
    QUEUE_MAINTENANCE, RetentionWorkflow,
    retention::{KIND, RUN_TIMEOUT, RetentionInput, run_workflow_id, schedule_id},
    search,
};

/// The `ListbackupJobKind` of retention runs, so they are filterable in the Web UI.
pub const RETENTION_KIND: &str = KIND;

/// When the daily pass starts (UTC), and how much later at random, so accounts spread out.
const DAILY_CRON: &str = "0 3 * * *";
const JITTER: Duration = Duration::from_secs(3600);
/// How late a missed daily pass may still start.
const CATCHUP_WINDOW: Duration = Duration::from_secs(6 * 3600);

/// Starts the retention run `run_id` of an account (its row exists); returns the workflow id.
pub async fn start_retention(
    client: &Client,
    input: &RetentionInput,
) -> Result<String, TemporalError> {
    let run_id = input.run_id.clone().unwrap_or_default();
    let workflow_id = run_workflow_id(&input.account_id, &run_id);
    let options = WorkflowStartOptions::new(QUEUE_MAINTENANCE, &workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        .execution_timeout(RUN_TIMEOUT)
        .search_attributes(SearchAttributes::new([
            search::ACCOUNT_ID.value_set(input.account_id.clone()),
            search::JOB_KIND.value_set(KIND.to_owned()),
        ]))
        .static_summary(format!("retention of account {}", input.account_id))
        .build();
    let started = client
        .start_workflow(RetentionWorkflow::run, input.clone(), options)
        .await;
    crate::jobs::run_id_of(started, &workflow_id, |_| None)?;
    Ok(workflow_id)
}

/// Creates the account's retention schedule; one that exists already is left as it is.
pub async fn ensure_retention_schedule(
    client: &Client,
    account_id: &str,
) -> Result<(), TemporalError> {
    let definition = ScheduleDefinition {
        id: schedule_id(account_id),
        cron: DAILY_CRON.into(),
        timezone: "UTC".into(),
        jitter: JITTER,
        catchup_window: CATCHUP_WINDOW,
        paused: false,
        run: ScheduledRun::Retention(RetentionInput {
            account_id: account_id.to_owned(),
            run_id: None,
            source_id: None,
        }),
    };
    match crate::create_schedule(client, &definition).await {
        Err(TemporalError::ScheduleExists(_)) => Ok(()),
        other => other,
    }
}

/// Deletes the account's retention schedule (one that does not exist is fine).
pub async fn delete_retention_schedule(
    client: &Client,
    account_id: &str,
) -> Result<(), TemporalError> {
    crate::delete_schedule(client, &schedule_id(account_id)).await
}
