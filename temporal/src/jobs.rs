//! Starting and inspecting ListBackup's workflows.

use crate::TemporalError;
use futures_util::StreamExt;
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowFetchHistoryOptions, WorkflowIdConflictPolicy, WorkflowIdReusePolicy,
    WorkflowListOptions, WorkflowQueryOptions, WorkflowSignalOptions, WorkflowStartOptions,
    errors::WorkflowStartError,
};
use temporalio_common::{MemoValues, search_attributes::SearchAttributes};
use workflows::{
    BackupWorkflow, QUEUE_BACKUP,
    contracts::{BackupInput, BackupProgress},
    search,
};

/// Starts the backup workflow for a job; returns the run id. Starting the same job twice is
/// refused by the server (one workflow id per job).
pub async fn start_backup(
    client: &Client,
    workflow_id: &str,
    input: &BackupInput,
) -> Result<String, TemporalError> {
    let mut memo = MemoValues::new();
    memo.insert("job_id", input.job_id.clone())
        .insert("account_id", input.account_id.clone());
    let options = WorkflowStartOptions::new(QUEUE_BACKUP, workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        // A backup that cannot finish in a month needs a person, not more retries. It is well
        // past the longest wait for a re-authorization (seven days by default), so such a wait
        // always ends in the workflow, which records the outcome on the job.
        .execution_timeout(Duration::from_secs(30 * 24 * 3600))
        .search_attributes(SearchAttributes::new([
            search::ACCOUNT_ID.value_set(input.account_id.clone()),
            search::SOURCE_ID.value_set(input.source_id.clone()),
            search::PLATFORM.value_set(input.platform.clone()),
            search::JOB_KIND.value_set(input.kind.as_str().to_owned()),
        ]))
        .memo(memo)
        .static_summary(format!(
            "{} of source {} ({})",
            input.kind.as_str(),
            input.source_id,
            input.platform
        ))
        .build();
    let started = client
        .start_workflow(BackupWorkflow::run, input.clone(), options)
        .await;
    run_id_of(started, workflow_id, |h| h.run_id().map(str::to_owned))
}

/// The run id of a workflow just started, or why it was not: a workflow id already used is
/// [`TemporalError::AlreadyStarted`].
pub(crate) fn run_id_of<H>(
    started: Result<H, WorkflowStartError>,
    workflow_id: &str,
    run_id: impl FnOnce(&H) -> Option<String>,
) -> Result<String, TemporalError> {
    match started {
        Ok(handle) => Ok(run_id(&handle).unwrap_or_default()),
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            Err(TemporalError::AlreadyStarted(workflow_id.to_owned()))
        }
        Err(e) => Err(TemporalError::Rpc {
            operation: "start_workflow",
            message: e.to_string(),
        }),
    }
}

/// Asks a running backup for its live progress.
pub async fn backup_progress(
    client: &Client,
    workflow_id: &str,
) -> Result<BackupProgress, TemporalError> {
    client
        .get_workflow_handle::<BackupWorkflow>(workflow_id.to_owned())
        .query(
            BackupWorkflow::progress,
            (),
            WorkflowQueryOptions::default(),
        )
        .await
        .map_err(|e| TemporalError::Rpc {
            operation: "query",
            message: e.to_string(),
        })
}

/// What a workflow id keeps unescaped in a Web UI link: RFC 3986's unreserved characters.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The run's page in the Temporal Web UI.
pub fn web_ui_link(ui_base: &str, namespace: &str, workflow_id: &str) -> String {
    format!(
        "{}/namespaces/{namespace}/workflows/{}",
        ui_base.trim_end_matches('/'),
        percent_encoding::utf8_percent_encode(workflow_id, PATH_SEGMENT)
    )
}

/// Asks the frontend whether it serves (the namespace answers a describe).
pub async fn check_health(client: &Client) -> Result<(), TemporalError> {
    use temporalio_client::{grpc::WorkflowService, tonic::IntoRequest};
    use temporalio_common::protos::temporal::api::workflowservice::v1::GetSystemInfoRequest;
    WorkflowService::get_system_info(
        &mut client.clone(),
        GetSystemInfoRequest::default().into_request(),
    )
    .await
    .map(|_| ())
    .map_err(|s| TemporalError::Rpc {
        operation: "get_system_info",
        message: s.message().to_owned(),
    })
}

/// The ids of the runs matching a visibility query (e.g. `ListbackupSourceId = 'src_…'`),
/// newest first, at most `limit`.
pub async fn find_runs(
    client: &Client,
    query: &str,
    limit: usize,
) -> Result<Vec<String>, TemporalError> {
    let mut stream = client.list_workflows(
        query.to_owned(),
        WorkflowListOptions::builder().limit(limit).build(),
    );
    let mut ids = Vec::new();
    while let Some(run) = stream.next().await {
        let run = run.map_err(|e| TemporalError::Rpc {
            operation: "list_workflows",
            message: e.to_string(),
        })?;
        ids.push(run.id().to_owned());
    }
    Ok(ids)
}

/// A run's full event history in the SDK's JSON form, as replay tests read it.
pub async fn backup_history_json(
    client: &Client,
    workflow_id: &str,
) -> Result<Vec<u8>, TemporalError> {
    client
        .get_workflow_handle::<BackupWorkflow>(workflow_id.to_owned())
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .to_json()
        .await
        .map_err(|e| TemporalError::Rpc {
            operation: "fetch_history",
            message: e.to_string(),
        })
}

/// Asks a running backup to stop after the part it is writing.
pub async fn cancel_backup(
    client: &Client,
    workflow_id: &str,
    reason: &str,
) -> Result<(), TemporalError> {
    client
        .get_workflow_handle::<BackupWorkflow>(workflow_id.to_owned())
        .signal(
            BackupWorkflow::cancel,
            reason.to_owned(),
            WorkflowSignalOptions::default(),
        )
        .await
        .map_err(|e| TemporalError::Rpc {
            operation: "signal",
            message: e.to_string(),
        })
}

/// Tells a backup waiting in `needs_reauth` that its connection was reconnected.
pub async fn signal_reauthorized(client: &Client, workflow_id: &str) -> Result<(), TemporalError> {
    client
        .get_workflow_handle::<BackupWorkflow>(workflow_id.to_owned())
        .signal(
            BackupWorkflow::reauthorized,
            (),
            WorkflowSignalOptions::default(),
        )
        .await
        .map_err(|e| TemporalError::Rpc {
            operation: "signal",
            message: e.to_string(),
        })
}

/// How a workflow's latest run stands, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// The latest run's id (a reset or a retry of the run changes it).
    pub run_id: String,
    pub status: RunStatus,
}

/// The run's status, reduced to what the job rows care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
    Canceled,
    /// Terminated (e.g. from the Web UI) or timed out: the workflow had no chance to record
    /// its outcome.
    Terminated,
    TimedOut,
    Other,
}

/// The latest run of `workflow_id`, or `None` when the server knows no such workflow (never
/// started, or deleted after the namespace's retention).
pub async fn run_state(
    client: &Client,
    workflow_id: &str,
) -> Result<Option<RunState>, TemporalError> {
    use temporalio_client::{
        WorkflowDescribeOptions, WorkflowExecutionStatus as S, errors::WorkflowInteractionError,
    };
    let described = client
        .get_workflow_handle::<BackupWorkflow>(workflow_id.to_owned())
        .describe(WorkflowDescribeOptions::default())
        .await;
    let description = match described {
        Ok(d) => d,
        Err(WorkflowInteractionError::NotFound(_)) => return Ok(None),
        Err(e) => {
            return Err(TemporalError::Rpc {
                operation: "describe_workflow",
                message: e.to_string(),
            });
        }
    };
    let status = match description.status() {
        S::Running | S::Paused => RunStatus::Running,
        S::Completed => RunStatus::Completed,
        S::Failed => RunStatus::Failed,
        S::Canceled => RunStatus::Canceled,
        S::Terminated => RunStatus::Terminated,
        S::TimedOut => RunStatus::TimedOut,
        _ => RunStatus::Other,
    };
    Ok(Some(RunState {
        run_id: description.run_id().to_owned(),
        status,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_web_ui_link_escapes_all_but_unreserved_characters() {
        assert_eq!(
            super::web_ui_link("http://ui:8233/", "ns", "backup/src_1/a b~ü.x-y"),
            "http://ui:8233/namespaces/ns/workflows/backup%2Fsrc_1%2Fa%20b~%C3%BC.x-y"
        );
    }
}
