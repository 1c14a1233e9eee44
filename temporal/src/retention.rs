//! Starting retention runs, and each account's retention schedule: one Temporal Schedule per
//! account with a retention policy (`retention/{account_id}/scheduled`), daily at 03:00 UTC with
//! up to an hour of jitter, overlap Skip, starting `RetentionWorkflow` on the maintenance queue.

use crate::{TemporalError, schedules::rpc};
use std::time::Duration;
use temporalio_client::{
    Client, NamespacedClient, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowStartOptions,
    errors::WorkflowStartError,
    grpc::WorkflowService,
    tonic::{Code, IntoRequest},
};
use temporalio_common::{
    protos::{
        coresdk::AsJsonPayloadExt,
        temporal::api::{
            common::v1::WorkflowType, schedule::v1 as proto, taskqueue::v1::TaskQueue,
            workflow::v1::NewWorkflowExecutionInfo, workflowservice::v1::CreateScheduleRequest,
        },
    },
    search_attributes::SearchAttributes,
};
use workflows::{
    QUEUE_MAINTENANCE, RetentionWorkflow,
    retention::{RetentionInput, WORKFLOW_TYPE, run_workflow_id, schedule_id},
    search,
};

/// The `ListbackupJobKind` of retention runs, so they are filterable in the Web UI.
pub const RETENTION_KIND: &str = "retention";

/// When the daily pass starts (UTC), and how much later at random, so accounts spread out.
const DAILY_CRON: &str = "0 3 * * *";
const JITTER: Duration = Duration::from_secs(3600);
/// A pass may take long on a large account; a day bounds it (the next one starts anyway).
const RUN_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

fn attributes(account_id: &str) -> SearchAttributes {
    SearchAttributes::new([
        search::ACCOUNT_ID.value_set(account_id.to_owned()),
        search::JOB_KIND.value_set(RETENTION_KIND.to_owned()),
    ])
}

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
        .search_attributes(attributes(&input.account_id))
        .static_summary(format!("retention of account {}", input.account_id))
        .build();
    match client
        .start_workflow(RetentionWorkflow::run, input.clone(), options)
        .await
    {
        Ok(_) => Ok(workflow_id),
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            Err(TemporalError::AlreadyStarted(workflow_id))
        }
        Err(e) => Err(TemporalError::Rpc {
            operation: "start_workflow",
            message: e.to_string(),
        }),
    }
}

/// Creates the account's retention schedule; one that exists already is left as it is.
pub async fn ensure_retention_schedule(
    client: &Client,
    account_id: &str,
) -> Result<(), TemporalError> {
    let id = schedule_id(account_id);
    let input = RetentionInput {
        account_id: account_id.to_owned(),
        run_id: None,
        source_id: None,
    };
    let payload = input.as_json_payload().map_err(|e| TemporalError::Rpc {
        operation: "encode schedule input",
        message: e.to_string(),
    })?;
    let attributes = attributes(account_id);
    let schedule = proto::Schedule {
        spec: Some(proto::ScheduleSpec {
            cron_string: vec![DAILY_CRON.into()],
            timezone_name: "UTC".into(),
            jitter: JITTER.try_into().ok(),
            ..Default::default()
        }),
        action: Some(proto::ScheduleAction {
            action: Some(proto::schedule_action::Action::StartWorkflow(
                NewWorkflowExecutionInfo {
                    workflow_id: id.clone(),
                    workflow_type: Some(WorkflowType {
                        name: WORKFLOW_TYPE.into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: QUEUE_MAINTENANCE.into(),
                        ..Default::default()
                    }),
                    input: Some(payload.into()),
                    workflow_execution_timeout: RUN_TIMEOUT.try_into().ok(),
                    search_attributes: Some(attributes.clone().into_proto()),
                    ..Default::default()
                },
            )),
        }),
        policies: Some(proto::SchedulePolicies {
            // SCHEDULE_OVERLAP_POLICY_SKIP
            overlap_policy: 1,
            catchup_window: Duration::from_secs(6 * 3600).try_into().ok(),
            ..Default::default()
        }),
        state: None,
    };
    let request = CreateScheduleRequest {
        namespace: client.namespace(),
        schedule_id: id.clone(),
        schedule: Some(schedule),
        initial_patch: None,
        identity: client.identity(),
        request_id: format!("create-{id}"),
        memo: None,
        search_attributes: Some(attributes.into_proto()),
    };
    match WorkflowService::create_schedule(&mut client.clone(), request.into_request()).await {
        Ok(_) => Ok(()),
        Err(status) if status.code() == Code::AlreadyExists => Ok(()),
        Err(status) => Err(rpc("create_schedule", &status)),
    }
}

/// Deletes the account's retention schedule (one that does not exist is fine).
pub async fn delete_retention_schedule(
    client: &Client,
    account_id: &str,
) -> Result<(), TemporalError> {
    crate::delete_schedule(client, &schedule_id(account_id)).await
}
