//! `WebhookDeliveryWorkflow`: one notification to one webhook, retried until it is delivered
//! or a day has passed.
//!
//! Started once per delivery row, with workflow id `webhook-delivery/{delivery_id}`, by the
//! worker's dispatcher. The attempt itself is an activity; Temporal's retry policy spaces the
//! attempts (5 s, doubling, at most 5 min apart) and stops after 24 hours, after which the row is
//! marked failed.

use crate::contracts::*;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityCloseTimeouts, ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult,
};

/// Failure types of an attempt that retrying cannot fix: the URL is no longer allowed, or the
/// row or its secret cannot be read.
pub const NON_RETRYABLE: [&str; 3] = ["InvalidWebhookUrl", "NotFound", "ConfigError"];

/// How long a delivery is retried.
pub const RETRY_FOR: Duration = Duration::from_secs(24 * 3600);

/// The workflow id of a delivery: one run per delivery row, ever.
pub fn delivery_workflow_id(delivery_id: &str) -> String {
    format!("webhook-delivery/{delivery_id}")
}

fn attempts() -> ActivityOptions {
    let retry = RetryPolicy::builder()
        .initial_interval(Duration::from_secs(5))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(300))
        .non_retryable_error_types(NON_RETRYABLE)
        .build();
    // One attempt may take the receiver's whole timeout (15 s) and a slow DNS answer.
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: RETRY_FOR,
        start_to_close: Duration::from_secs(60),
    })
    .retry_policy(retry)
    .summary("deliver".to_owned())
    .build()
}

fn bookkeeping() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .maximum_attempts(20)
                .build(),
        )
        .build()
}

#[workflow]
#[derive(Default)]
pub struct WebhookDeliveryWorkflow;

#[workflow_methods]
impl WebhookDeliveryWorkflow {
    #[run(name = "WebhookDeliveryWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: DeliveryInput,
    ) -> WorkflowResult<DeliveryResult> {
        match ctx
            .execute_activity(DeliverWebhook, input.clone(), attempts())
            .await
        {
            Ok(result) => Ok(result),
            Err(e) => {
                let mut error = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    error = c.to_string();
                    cause = c.source();
                }
                let give_up = GiveUpInput {
                    delivery_id: input.delivery_id,
                    error,
                };
                ctx.execute_activity(GiveUpDelivery, give_up, bookkeeping())
                    .await?;
                Ok(DeliveryResult {
                    status: "failed".into(),
                    ..DeliveryResult::default()
                })
            }
        }
    }
}
