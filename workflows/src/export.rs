//! `ExportWorkflow`: chosen snapshots and streams written into one downloadable archive, kept
//! for a while, then deleted.
//!
//! build (one long, heartbeating activity that streams the archive into a multipart upload and
//! reports progress on the export row) -> finish -> a durable timer until the archive expires
//! -> expire (delete it). Runs on the export task queue, so a large export never delays a
//! backup. A build attempt that dies starts the archive over: its upload is abandoned, and the
//! archive's key is fixed, so nothing is left twice.
//!
//! For an account that holds its own key, the build runs on the task queue of the API process
//! the key was sent to (`key_queue`), which holds it in memory; the archive is then encrypted
//! to the account's recipient, so the service stores nothing it can read. If that process is
//! gone, the build is not taken within [`KEY_HOLDER_START_TIMEOUT`] and the export fails.

use crate::backup::root_message;
use crate::contracts::*;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, RetryPolicy, WorkflowContext, WorkflowContextView, WorkflowResult,
};

/// Failure types that retrying cannot fix (a damaged part among them).
pub const NON_RETRYABLE: [&str; 4] = ["NotFound", "InvalidState", "ConfigError", "Damaged"];

fn retry_policy(maximum_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(60))
        .maximum_attempts(maximum_attempts)
        .non_retryable_error_types(NON_RETRYABLE)
        .build()
}

/// On the export queue; for an account that holds its own key, on the queue of the process
/// that holds it.
fn build_activity(key_queue: Option<String>) -> ActivityOptions {
    let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(12 * 3600))
        .heartbeat_timeout(Duration::from_secs(60))
        .retry_policy(retry_policy(5))
        .build();
    on_key_holder(options, key_queue)
}

fn short_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .retry_policy(retry_policy(10))
        .build()
}

#[workflow]
#[derive(Default)]
pub struct ExportWorkflow {
    phase: String,
}

#[workflow_methods]
impl ExportWorkflow {
    #[run(name = "ExportWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: ExportInput,
    ) -> WorkflowResult<ExportBuilt> {
        ctx.state_mut(|s| s.phase = "building".into());
        let built = ctx
            .execute_activity(
                BuildExport,
                input.clone(),
                build_activity(input.key_queue.clone()),
            )
            .await;
        let finish = FinishExportInput {
            export_id: input.export_id.clone(),
            built: built.as_ref().ok().cloned(),
            error: built.as_ref().err().map(root_message),
        };
        ctx.execute_activity(FinishExport, finish, short_activity())
            .await?;
        let built = match built {
            Ok(built) => built,
            Err(e) => {
                ctx.state_mut(|s| s.phase = "failed".into());
                return Err(e.into());
            }
        };
        ctx.state_mut(|s| s.phase = "ready".into());
        ctx.timer(Duration::from_secs(input.keep_secs)).await;
        let expire = ExpireExportInput {
            export_id: input.export_id.clone(),
        };
        ctx.execute_activity(ExpireExport, expire, short_activity())
            .await?;
        ctx.state_mut(|s| s.phase = "expired".into());
        Ok(built)
    }

    /// `building`, `ready` (downloadable), `failed` or `expired`; the counts are on the export.
    #[query]
    pub fn phase(&self, _ctx: &WorkflowContextView) -> String {
        self.phase.clone()
    }
}
