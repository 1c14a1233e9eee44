//! Starting webhook deliveries.

use crate::TemporalError;
use std::time::Duration;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowStartOptions,
    errors::WorkflowStartError,
};
use temporalio_common::search_attributes::SearchAttributes;
use workflows::{
    QUEUE_BACKUP, WebhookDeliveryWorkflow,
    contracts::DeliveryInput,
    search,
    webhooks::{RETRY_FOR, delivery_workflow_id},
};

/// Starts the delivery workflow of one delivery row. A delivery's workflow id is fixed and is
/// never reused, so starting it again (another dispatcher got there first, or an earlier start
/// was not recorded) is [`TemporalError::AlreadyStarted`], which callers treat as done.
pub async fn start_webhook_delivery(
    client: &Client,
    account_id: &str,
    delivery_id: &str,
    event: &str,
) -> Result<(), TemporalError> {
    let workflow_id = delivery_workflow_id(delivery_id);
    let options = WorkflowStartOptions::new(QUEUE_BACKUP, &workflow_id)
        .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
        .id_conflict_policy(WorkflowIdConflictPolicy::Fail)
        // Well past the activity's own retry window, so that window always ends in the workflow.
        .execution_timeout(RETRY_FOR + Duration::from_secs(3600))
        .search_attributes(SearchAttributes::new([
            search::ACCOUNT_ID.value_set(account_id.to_owned())
        ]))
        .static_summary(format!("{event} notification {delivery_id}"))
        .build();
    let input = DeliveryInput {
        delivery_id: delivery_id.to_owned(),
    };
    match client
        .start_workflow(WebhookDeliveryWorkflow::run, input, options)
        .await
    {
        Ok(_) => Ok(()),
        Err(WorkflowStartError::AlreadyStarted { .. }) => {
            Err(TemporalError::AlreadyStarted(workflow_id))
        }
        Err(e) => Err(TemporalError::Rpc {
            operation: "start_workflow",
            message: e.to_string(),
        }),
    }
}
