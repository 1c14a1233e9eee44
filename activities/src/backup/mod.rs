//! The activities of `BackupWorkflow`.

mod claim;
mod extract;
pub mod files;
mod finalize;
mod prepare;
mod reauth;
mod slots;

use crate::context::WorkerContext;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::contracts::{
    self, BackupInput, BackupPlan, BackupResult, Checkpoint, ClaimInput, Claimed, ExtractInput,
    FailInput, FinalizeInput, JobSlot, QuotaWaitInput, ReauthInput, SlotInput,
};

/// The job `id`, or `None` once it is gone (a marking activity then has nothing to do).
async fn find_job(
    w: &WorkerContext,
    id: &str,
) -> Result<Option<entities::job::Model>, ActivityError> {
    use sea_orm::EntityTrait;
    entities::job::Entity::find_by_id(id)
        .one(&w.db)
        .await
        .map_err(crate::failure::db)
}

/// Implements the contracts in `workflows::contracts` for backups and syncs.
pub struct BackupActivities {
    pub ctx: WorkerContext,
}

impl BackupActivities {
    pub fn new(ctx: WorkerContext) -> Self {
        Self { ctx }
    }
}

#[activities]
impl BackupActivities {
    #[activity(definition = contracts::ClaimScheduledRun)]
    pub async fn claim_scheduled(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ClaimInput,
    ) -> Result<Claimed, ActivityError> {
        claim::claim(&self.ctx, input).await
    }

    #[activity(definition = contracts::PrepareBackup)]
    pub async fn prepare(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: BackupInput,
    ) -> Result<BackupPlan, ActivityError> {
        prepare::prepare(&self.ctx, input).await
    }

    #[activity(definition = contracts::ExtractStream)]
    pub async fn extract_stream(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ExtractInput,
    ) -> Result<Checkpoint, ActivityError> {
        extract::extract(&self.ctx, &ctx, input).await
    }

    #[activity(definition = contracts::FinalizeSnapshot)]
    pub async fn finalize(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: FinalizeInput,
    ) -> Result<BackupResult, ActivityError> {
        // Heartbeats tell the server the worker lives; a dead one is noticed by the heartbeat
        // timeout instead of the whole start-to-close timeout.
        let every = self.ctx.extract.heartbeat_every;
        let work = finalize::finalize(&self.ctx, input);
        extract::heartbeating(&ctx, &"finalizing", every, work).await
    }

    #[activity(definition = contracts::MarkNeedsReauth)]
    pub async fn needs_reauth(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReauthInput,
    ) -> Result<(), ActivityError> {
        reauth::mark(&self.ctx, input, true).await
    }

    #[activity(definition = contracts::MarkReauthorized)]
    pub async fn reauthorized(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: ReauthInput,
    ) -> Result<(), ActivityError> {
        reauth::mark(&self.ctx, input, false).await
    }

    #[activity(definition = contracts::AcquireJobSlot)]
    pub async fn acquire_slot(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: SlotInput,
    ) -> Result<JobSlot, ActivityError> {
        slots::acquire(&self.ctx, input).await
    }

    #[activity(definition = contracts::MarkWaitingForQuota)]
    pub async fn waiting_for_quota(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: QuotaWaitInput,
    ) -> Result<(), ActivityError> {
        slots::waiting_for_quota(&self.ctx, input).await
    }

    #[activity(definition = contracts::FailJob)]
    pub async fn fail(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: FailInput,
    ) -> Result<(), ActivityError> {
        finalize::fail(&self.ctx, input).await
    }
}
