//! Starting exports.

use crate::TemporalError;
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::search_attributes::SearchAttributes;
use workflows::{ExportWorkflow, QUEUE_EXPORT, contracts::ExportInput, search};

/// The `ListbackupJobKind` of export runs.
pub const EXPORT_KIND: &str = "export";

/// Starts the export workflow of one export row on the export queue; returns the run id.
pub async fn start_export(
    client: &Client,
    workflow_id: &str,
    input: &ExportInput,
) -> Result<String, TemporalError> {
    let options = WorkflowStartOptions::new(QUEUE_EXPORT, workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        // The archive is kept `keep_secs`, then deleted by the run itself.
        .execution_timeout(
            Duration::from_secs(input.keep_secs) + Duration::from_secs(7 * 24 * 3600),
        )
        .search_attributes(SearchAttributes::new([
            search::ACCOUNT_ID.value_set(input.account_id.clone()),
            search::JOB_KIND.value_set(EXPORT_KIND.to_owned()),
        ]))
        .static_summary(format!("export {}", input.export_id))
        .build();
    let started = client
        .start_workflow(ExportWorkflow::run, input.clone(), options)
        .await;
    crate::jobs::run_id_of(started, workflow_id, |h| h.run_id().map(str::to_owned))
}
