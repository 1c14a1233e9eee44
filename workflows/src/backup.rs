//! `BackupWorkflow`: one job, from plan to manifest.
//!
//! prepare -> extract each stream in bounded chunks until done, up to [`STREAMS_AT_ONCE`]
//! streams at once -> finalize. Each chunk resumes from the checkpoint the previous one returned
//! (and the activity itself resumes from the last committed part if an attempt dies), so a retry
//! never starts a stream over. A stream that must wait (a reconnection, a quota) ends the round:
//! the other streams stop after their chunk, the run waits once, then every stream not done
//! continues from its checkpoint. Any failure marks the job failed before the run fails, so the
//! job row and the run agree.
//!
//! Before it prepares, a run takes one of its account's job slots (see [`crate::queue`]); a
//! run that must wait for something outside it (a reconnection, a platform's daily quota)
//! gives its slot back and queues again afterwards.

use crate::contracts::*;
use std::{
    cell::{Cell, RefCell},
    time::Duration,
};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, RetryPolicy, SyncWorkflowContext, WorkflowContext,
    WorkflowContextView, WorkflowResult, WorkflowTermination,
};

/// Failure types that retrying cannot fix; everything else is retried with backoff.
pub const NON_RETRYABLE: [&str; 6] = [
    "Unauthorized",
    "Forbidden",
    "InvalidRequest",
    "ConfigError",
    "NotFound",
    "InvalidState",
];

#[workflow]
#[derive(Default)]
pub struct BackupWorkflow {
    pub(crate) progress: BackupProgress,
    /// Set by the `cancel` signal: stop after the part being written, keep what is committed.
    pub(crate) cancel_reason: Option<String>,
    /// Set by the `reauthorized` signal while the run waits for its connection to be fixed.
    reauthorized: bool,
    /// The run takes a job slot before it works and records its status in the
    /// `ListbackupJobStatus` search attribute (the [`crate::queue::JOB_SLOTS_PATCH`] marker);
    /// runs recorded before that replay without either.
    pub(crate) job_slots: bool,
}

/// Why a backup stopped early.
pub(crate) enum Stop {
    Failed(Box<ActivityExecutionError>),
    Cancelled(String),
}

impl From<ActivityExecutionError> for Stop {
    fn from(e: ActivityExecutionError) -> Self {
        match e {
            ActivityExecutionError::Cancelled(_) => Stop::Cancelled("the run was cancelled".into()),
            other => Stop::Failed(Box::new(other)),
        }
    }
}

/// The patch marker of runs that extract up to [`STREAMS_AT_ONCE`] of a source's streams at
/// once; runs recorded before it replay one stream after another.
pub const CONCURRENT_STREAMS_PATCH: &str = "concurrent-streams";

/// How many of a source's streams a run extracts at once. Each is one `extract_stream`
/// activity at a time, so a page's round trip to the platform overlaps the others' work; the
/// connection's rate budget is shared by all of them, so the platform's limit holds.
pub const STREAMS_AT_ONCE: usize = 3;

/// Why a round of extraction ended before every stream was done.
enum Interrupt {
    /// The platform refused the connection: wait for it to be reconnected.
    Reauth(ActivityExecutionError),
    /// A platform quota is exhausted: wait for it to reset.
    Quota(ActivityExecutionError),
    Stop(Stop),
}

impl Interrupt {
    /// Which of two interruptions of one round the run acts on: stopping beats waiting for a
    /// reconnection, which beats waiting for a quota (a reconnected run may still meet it).
    fn severity(&self) -> u8 {
        match self {
            Interrupt::Quota(_) => 0,
            Interrupt::Reauth(_) => 1,
            Interrupt::Stop(_) => 2,
        }
    }
}

/// The extraction's state shared by the lanes of a round: the streams' checkpoints (kept
/// across rounds), the next stream to take, and what interrupted the round.
struct Round {
    checkpoints: RefCell<Vec<Checkpoint>>,
    next: Cell<usize>,
    interrupt: RefCell<Option<Interrupt>>,
}

impl Round {
    fn new(streams: usize) -> Self {
        Self {
            checkpoints: RefCell::new(vec![Checkpoint::default(); streams]),
            next: Cell::new(0),
            interrupt: RefCell::new(None),
        }
    }

    fn interrupt_with(&self, interrupt: Interrupt) {
        let mut current = self.interrupt.borrow_mut();
        if current
            .as_ref()
            .is_none_or(|c| c.severity() < interrupt.severity())
        {
            *current = Some(interrupt);
        }
    }
}

fn retry_policy(maximum_attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_secs(1))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(60))
        .maximum_attempts(maximum_attempts)
        .non_retryable_error_types(NON_RETRYABLE)
        .build()
}

pub(crate) fn short_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .retry_policy(retry_policy(10))
        .build()
}

/// Finalizing heartbeats, so a worker that dies while writing the manifest is noticed within
/// the heartbeat timeout rather than the whole start-to-close one.
fn finalize_activity() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(120))
        .heartbeat_timeout(Duration::from_secs(20))
        .retry_policy(retry_policy(10))
        .build()
}

/// Failure types meaning the platform refused the connection itself, which only reconnecting
/// can fix.
pub const CONNECTION_REFUSED: [&str; 2] = ["Unauthorized", "Forbidden"];

fn connection_refused(e: &ActivityExecutionError) -> bool {
    matches!(
        e.cause(),
        Some(temporalio_workflow::common::error::IncomingError::Application(failure))
            if failure.type_name().is_some_and(|t| CONNECTION_REFUSED.contains(&t))
    )
}

/// The message of the innermost cause: what an operator needs to read first.
pub(crate) fn root_message(e: &ActivityExecutionError) -> String {
    let mut msg = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        msg = c.to_string();
        cur = c.source();
    }
    msg
}

#[workflow_methods]
impl BackupWorkflow {
    #[run(name = "BackupWorkflow")]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        mut input: BackupInput,
    ) -> WorkflowResult<BackupResult> {
        let job_slots = ctx.patched(crate::queue::JOB_SLOTS_PATCH);
        ctx.state_mut(|s| {
            s.progress.phase = "starting".into();
            s.job_slots = job_slots;
        });
        if let Some(schedule_id) = input
            .schedule_id
            .clone()
            .filter(|_| input.job_id.is_empty())
        {
            let claim = ClaimInput {
                schedule_id,
                workflow_id: ctx.workflow_id().to_owned(),
                run_id: ctx.info().run_id().to_owned(),
            };
            let claimed = ctx
                .execute_activity(ClaimScheduledRun, claim, short_activity())
                .await?;
            let Some(job_id) = claimed.job_id else {
                ctx.state_mut(|s| s.progress.phase = "skipped".into());
                return Ok(BackupResult::default());
            };
            input.job_id = job_id;
            input.kind = claimed.kind;
        }
        let stop = match Self::backup(ctx, &input).await {
            Ok(result) => return Ok(result),
            Err(stop) => stop,
        };
        let (cancelled, error) = match &stop {
            Stop::Cancelled(reason) => (true, reason.clone()),
            Stop::Failed(err) => (false, root_message(err)),
        };
        let snapshot_id = ctx.state(|s| s.progress.snapshot_id.clone());
        let outcome = if cancelled { "cancelled" } else { "failed" };
        ctx.state_mut(|s| s.progress.phase = outcome.into());
        Self::record_status(ctx, outcome);
        let fail = FailInput {
            job_id: input.job_id.clone(),
            snapshot_id,
            error,
            cancelled,
        };
        ctx.execute_activity(FailJob, fail, short_activity())
            .await?;
        match stop {
            Stop::Cancelled(_) => Err(WorkflowTermination::cancelled()),
            Stop::Failed(err) => Err((*err).into()),
        }
    }

    async fn backup(
        ctx: &mut WorkflowContext<Self>,
        input: &BackupInput,
    ) -> Result<BackupResult, Stop> {
        if ctx.state(|s| s.job_slots) {
            Self::acquire_slot(ctx, input).await?;
        }
        let plan = ctx
            .execute_activity(PrepareBackup, input.clone(), short_activity())
            .await?;
        ctx.state_mut(|s| {
            s.progress.phase = "extracting".into();
            s.progress.snapshot_id = Some(plan.snapshot_id.clone());
            s.progress.streams = plan
                .streams
                .iter()
                .map(|p| StreamProgress {
                    name: p.name.clone(),
                    status: "pending".into(),
                    ..Default::default()
                })
                .collect();
        });

        // Runs recorded before the marker extract one stream after another: one lane.
        let lanes = if ctx.patched(CONCURRENT_STREAMS_PATCH) {
            STREAMS_AT_ONCE
        } else {
            1
        };
        let round = Round::new(plan.streams.len());
        loop {
            round.next.set(0);
            let lanes = (0..lanes).map(|_| Self::lane(ctx, input, &plan, &round));
            temporalio_workflow::join_all(lanes).await;
            match round.interrupt.take() {
                None => break,
                Some(Interrupt::Reauth(refused)) => {
                    Self::await_reauthorization(ctx, input, refused).await?;
                }
                Some(Interrupt::Quota(exhausted)) => {
                    Self::await_quota(ctx, input, exhausted).await?;
                }
                Some(Interrupt::Stop(stop)) => return Err(stop),
            }
        }

        ctx.state_mut(|s| s.progress.phase = "finalizing".into());
        let finalize = FinalizeInput {
            job_id: input.job_id.clone(),
            snapshot_id: plan.snapshot_id.clone(),
            streams: plan.streams.iter().map(|s| s.name.clone()).collect(),
        };
        let result = ctx
            .execute_activity(FinalizeSnapshot, finalize, finalize_activity())
            .await?;
        ctx.state_mut(|s| s.progress.phase = "succeeded".into());
        Self::record_status(ctx, "succeeded");
        Ok(result)
    }

    /// One lane of a round: takes the next stream not yet done and extracts it to its end,
    /// until none is left or the round is interrupted.
    async fn lane(
        ctx: &WorkflowContext<Self>,
        input: &BackupInput,
        plan: &BackupPlan,
        round: &Round,
    ) {
        while round.interrupt.borrow().is_none() {
            let index = round.next.get();
            if index >= plan.streams.len() {
                return;
            }
            round.next.set(index + 1);
            if round.checkpoints.borrow()[index].done {
                continue;
            }
            ctx.state_mut(|s| s.progress.streams[index].status = "running".into());
            if let Err(interrupt) = Self::extract_stream(ctx, input, plan, index, round).await {
                round.interrupt_with(interrupt);
                return;
            }
        }
    }

    /// Extracts stream `index` in bounded chunks from its checkpoint until it is done; stops
    /// between chunks when the run is cancelled or another lane was interrupted.
    async fn extract_stream(
        ctx: &WorkflowContext<Self>,
        input: &BackupInput,
        plan: &BackupPlan,
        index: usize,
        round: &Round,
    ) -> Result<(), Interrupt> {
        let stream = &plan.streams[index];
        loop {
            let extract = ExtractInput {
                job_id: input.job_id.clone(),
                account_id: input.account_id.clone(),
                source_id: input.source_id.clone(),
                snapshot_id: plan.snapshot_id.clone(),
                stream: stream.name.clone(),
                since: stream.since.clone(),
                checkpoint: round.checkpoints.borrow()[index].clone(),
            };
            // The heartbeat timeout is what notices a dead worker: another worker then
            // resumes from the last committed part.
            let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(3600))
                .heartbeat_timeout(Duration::from_secs(20))
                .retry_policy(retry_policy(30))
                .summary(format!("extract {}", stream.name))
                .build();
            if let Some(reason) = ctx.state(|s| s.cancel_reason.clone()) {
                return Err(Interrupt::Stop(Stop::Cancelled(reason)));
            }
            if round.interrupt.borrow().is_some() {
                // Another lane stopped the round; this stream continues in the next one.
                return Ok(());
            }
            let reached = match ctx.execute_activity(ExtractStream, extract, options).await {
                Ok(reached) => reached,
                Err(refused) if connection_refused(&refused) => {
                    return Err(Interrupt::Reauth(refused));
                }
                Err(exhausted) if crate::queue::quota_wait(&exhausted).is_some() => {
                    return Err(Interrupt::Quota(exhausted));
                }
                Err(other) => return Err(Interrupt::Stop(other.into())),
            };
            round.checkpoints.borrow_mut()[index] = reached.clone();
            ctx.state_mut(|s| {
                let p = &mut s.progress.streams[index];
                p.records = reached.records;
                p.raw_bytes = reached.raw_bytes;
                p.stored_bytes = reached.stored_bytes;
                p.parts = reached.parts_committed;
                if reached.done {
                    p.status = "done".into();
                }
                s.progress.records = s.progress.streams.iter().map(|p| p.records).sum();
                s.progress.bytes = s.progress.streams.iter().map(|p| p.raw_bytes).sum();
            });
            if reached.done {
                return Ok(());
            }
        }
    }

    /// The platform refused the connection (revoked grant, invalid key): mark the job
    /// `needs_reauth` and wait, durably, for the `reauthorized` signal that reconnecting the
    /// connection sends; then the stream continues from its checkpoint. After the wait
    /// (`reauth_wait_secs`, default seven days) the job fails with the platform's refusal.
    /// A waiting job holds no job slot: once reconnected it queues for one again.
    async fn await_reauthorization(
        ctx: &mut WorkflowContext<Self>,
        input: &BackupInput,
        refused: ActivityExecutionError,
    ) -> Result<(), Stop> {
        let job_slots = ctx.state(|s| s.job_slots);
        let reauth = ReauthInput {
            job_id: input.job_id.clone(),
            error: root_message(&refused),
            requeue: job_slots,
        };
        ctx.execute_activity(MarkNeedsReauth, reauth.clone(), short_activity())
            .await?;
        Self::record_status(ctx, "needs_reauth");
        ctx.state_mut(|s| {
            s.progress.phase = "needs_reauth".into();
            s.reauthorized = false;
        });
        let wait = Duration::from_secs(input.reauth_wait_secs.unwrap_or(DEFAULT_REAUTH_WAIT_SECS));
        let signalled = temporalio_workflow::select! {
            _ = ctx.timer(wait) => false,
            _ = ctx.wait_condition(|s: &Self| s.reauthorized || s.cancel_reason.is_some()) => true,
        };
        if let Some(reason) = ctx.state(|s| s.cancel_reason.clone()) {
            return Err(Stop::Cancelled(reason));
        }
        if !signalled {
            return Err(Stop::Failed(Box::new(refused)));
        }
        ctx.execute_activity(MarkReauthorized, reauth, short_activity())
            .await?;
        if job_slots {
            Self::acquire_slot(ctx, input).await?;
        }
        ctx.state_mut(|s| s.progress.phase = "extracting".into());
        Ok(())
    }

    /// The connection was reconnected: a run waiting in `needs_reauth` continues.
    #[signal]
    pub fn reauthorized(&mut self, _ctx: &mut SyncWorkflowContext<Self>) {
        self.reauthorized = true;
    }

    /// Stops the backup after the part being written: committed parts stay, the job and the
    /// snapshot end `cancelled`, and a retry continues from there.
    #[signal]
    pub fn cancel(&mut self, _ctx: &mut SyncWorkflowContext<Self>, reason: String) {
        self.cancel_reason.get_or_insert(reason);
    }

    /// Live progress for the API and dashboards.
    #[query]
    pub fn progress(&self, _ctx: &WorkflowContextView) -> BackupProgress {
        self.progress.clone()
    }
}
