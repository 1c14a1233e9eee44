//! `VerifyWorkflow`: proves that a snapshot is still intact in the object store.
//!
//! plan (read the manifest) -> each stream's parts, then the blobs, checked in bounded chunks
//! -> finish (record the verdict; a failure notifies the account's webhooks). Runs on the
//! maintenance task queue, so verifying a large snapshot never delays a backup.
//!
//! Damage is a verdict, not a failure of the run: the activities report damaged or missing
//! objects as problems and the run completes `failed`. Only when the checks themselves cannot
//! be done (the object store stays unreachable through every retry) does the verification end
//! `error`, which is announced the same way.

use crate::backup::root_message;
use crate::contracts::*;
use crate::search;
use std::time::Duration;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityOptions, ChildWorkflowOptions, RetryPolicy, WorkflowContext, WorkflowContextView,
    WorkflowResult, common::search_attributes::SearchAttributes,
};

/// The `ListbackupJobKind` of verification runs, to find them in the Web UI.
pub const VERIFY_KIND: &str = "verify";

/// The workflow id of an account's scheduled verification passes (Temporal appends each run's
/// time).
pub fn pass_workflow_id(account_id: &str) -> String {
    format!("verify-account/{account_id}")
}

/// Failure types that retrying cannot fix.
pub const NON_RETRYABLE: [&str; 3] = ["NotFound", "InvalidState", "ConfigError"];

fn retry_policy() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(60))
        .maximum_attempts(10)
        .non_retryable_error_types(NON_RETRYABLE)
        .build()
}

fn short_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .retry_policy(retry_policy())
        .build()
}

/// A chunk of checks heartbeats after every object, so a worker that dies mid-chunk is noticed
/// within the heartbeat timeout and the chunk is checked again from its start. With a key held
/// for the verification, on the queue of the process holding it.
fn checking_activity(key_queue: Option<String>) -> ActivityOptions {
    let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
        .heartbeat_timeout(Duration::from_secs(60))
        .retry_policy(retry_policy())
        .build();
    on_key_holder(options, key_queue)
}

#[workflow]
#[derive(Default)]
pub struct VerifyWorkflow {
    progress: VerifyProgress,
}

#[workflow_methods]
impl VerifyWorkflow {
    #[run(name = "VerifyWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: VerifyInput,
    ) -> WorkflowResult<VerifyProgress> {
        ctx.state_mut(|s| s.progress.phase = "planning".into());
        let mut tally = VerifyTally::default();
        let (decrypted, error) = match Self::check(ctx, &input, &mut tally).await {
            Ok(decrypted) => (decrypted, None),
            Err((decrypted, error)) => (decrypted, Some(error)),
        };
        let finish = FinishVerifyInput {
            verification_id: input.verification_id.clone(),
            decrypted,
            tally,
            error,
        };
        let verdict = ctx
            .execute_activity(FinishVerification, finish, short_activity())
            .await?;
        ctx.state_mut(|s| s.progress.phase = verdict);
        Ok(ctx.state(|s| s.progress.clone()))
    }

    /// Runs every check into `tally`; returns whether parts were decrypted, or that and why
    /// the checks could not be completed.
    async fn check(
        ctx: &mut WorkflowContext<Self>,
        input: &VerifyInput,
        tally: &mut VerifyTally,
    ) -> Result<bool, (bool, String)> {
        let plan = ctx
            .execute_activity(
                PlanVerification,
                input.clone(),
                on_key_holder(short_activity(), input.key_queue.clone()),
            )
            .await
            .map_err(|e| (false, root_message(&e)))?;
        for problem in plan.problems {
            tally.problem(problem);
        }
        let total = plan.streams.iter().map(|(_, parts)| parts).sum::<u64>() + plan.blobs;
        ctx.state_mut(|s| {
            s.progress.phase = "checking".into();
            s.progress.total = total;
            s.progress.problem_count = tally.problem_count;
        });
        let mut groups: Vec<VerifyGroup> = plan
            .streams
            .into_iter()
            .map(|(name, _)| VerifyGroup::Stream(name))
            .collect();
        if plan.blobs > 0 {
            groups.push(VerifyGroup::Blobs);
        }
        let last = groups.len().saturating_sub(1);
        for (n, group) in groups.into_iter().enumerate() {
            let mut start = Some(0);
            while let Some(from) = start {
                let chunk_input = VerifyObjectsInput {
                    verification_id: input.verification_id.clone(),
                    snapshot_id: input.snapshot_id.clone(),
                    group: group.clone(),
                    start: from,
                    decrypt: plan.decrypt,
                    last_group: n == last,
                };
                let chunk = ctx
                    .execute_activity(
                        VerifyObjects,
                        chunk_input,
                        checking_activity(input.key_queue.clone()),
                    )
                    .await
                    .map_err(|e| (plan.decrypt, root_message(&e)))?;
                start = chunk.next;
                tally.add(chunk.tally);
                let seen = tally.clone();
                ctx.state_mut(|s| {
                    s.progress.objects = seen.objects;
                    s.progress.bytes = seen.bytes;
                    s.progress.records = seen.records;
                    s.progress.problem_count = seen.problem_count;
                });
            }
        }
        Ok(plan.decrypt)
    }

    /// Live progress for the API and the Web UI.
    #[query]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> VerifyProgress {
        self.progress.clone()
    }
}

/// `VerifyAccountWorkflow`: a scheduled verification pass over one account. It creates the
/// pass's verifications (each source's newest complete snapshot and the chain it builds on)
/// and runs each as a child `VerifyWorkflow`, one at a time, so a pass never crowds out the
/// maintenance queue. Every verdict is recorded (and alerted) by its child.
#[workflow]
#[derive(Default)]
pub struct VerifyAccountWorkflow {
    result: PassResult,
}

#[workflow_methods]
impl VerifyAccountWorkflow {
    #[run(name = "VerifyAccountWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: VerifyPassInput,
    ) -> WorkflowResult<PassResult> {
        let plan = ctx
            .execute_activity(StartVerifyPass, input, short_activity())
            .await?;
        ctx.state_mut(|s| s.result.verifications = plan.verifications.len() as u64);
        for verification in plan.verifications {
            let attributes = SearchAttributes::new([
                search::ACCOUNT_ID.value_set(verification.input.account_id.clone()),
                search::SOURCE_ID.value_set(verification.input.source_id.clone()),
                search::PLATFORM.value_set(verification.platform.clone()),
                search::JOB_KIND.value_set(VERIFY_KIND.to_owned()),
            ]);
            let options = ChildWorkflowOptions::builder()
                .workflow_id(verification.workflow_id.clone())
                .search_attributes(attributes)
                .static_summary(format!(
                    "verify snapshot {}",
                    verification.input.snapshot_id
                ))
                .build();
            let passed = match ctx
                .start_child_workflow(VerifyWorkflow::run, verification.input, options)
                .await
            {
                Ok(started) => started
                    .result()
                    .await
                    .is_ok_and(|progress| progress.phase == "passed"),
                Err(_) => false,
            };
            ctx.state_mut(|s| {
                if passed {
                    s.result.passed += 1;
                } else {
                    s.result.not_passed += 1;
                }
            });
        }
        Ok(ctx.state(|s| s.result.clone()))
    }

    /// How far the pass is.
    #[query]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> PassResult {
        self.result.clone()
    }
}
