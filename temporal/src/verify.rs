//! Starting snapshot verifications.

use crate::TemporalError;
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
};
use temporalio_common::{MemoValues, search_attributes::SearchAttributes};
use workflows::{
    QUEUE_MAINTENANCE, VerifyWorkflow, contracts::VerifyInput, search, verify::VERIFY_KIND,
};

/// Starts the verification workflow of one verification row on the maintenance queue; returns
/// the run id. A verification's workflow id is never reused.
pub async fn start_verification(
    client: &Client,
    workflow_id: &str,
    platform: &str,
    input: &VerifyInput,
) -> Result<String, TemporalError> {
    let mut memo = MemoValues::new();
    memo.insert("verification_id", input.verification_id.clone())
        .insert("snapshot_id", input.snapshot_id.clone());
    let options = WorkflowStartOptions::new(QUEUE_MAINTENANCE, workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        // Far beyond any snapshot's read time: a run that takes longer needs a person.
        .execution_timeout(Duration::from_secs(7 * 24 * 3600))
        .search_attributes(SearchAttributes::new([
            search::ACCOUNT_ID.value_set(input.account_id.clone()),
            search::SOURCE_ID.value_set(input.source_id.clone()),
            search::PLATFORM.value_set(platform.to_owned()),
            search::JOB_KIND.value_set(VERIFY_KIND.to_owned()),
        ]))
        .memo(memo)
        .static_summary(format!("verify snapshot {}", input.snapshot_id))
        .build();
    let started = client
        .start_workflow(VerifyWorkflow::run, input.clone(), options)
        .await;
    crate::jobs::run_id_of(started, workflow_id, |h| h.run_id().map(str::to_owned))
}
