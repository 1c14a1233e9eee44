//! `backup.claim_scheduled`: the job row of a run a schedule started.

use crate::{context::WorkerContext, failure::db};
use entities::{JobKind, repo, schedule};
use sea_orm::EntityTrait;
use temporalio_sdk::activities::ActivityError;
use workflows::contracts::{BackupKind, ClaimInput, Claimed};

pub async fn claim(w: &WorkerContext, input: ClaimInput) -> Result<Claimed, ActivityError> {
    let outcome =
        repo::claim_scheduled_run(&w.db, &input.schedule_id, &input.workflow_id, &input.run_id)
            .await
            .map_err(db)?;
    let kind_of = |k: JobKind| match k {
        JobKind::Backup => BackupKind::Backup,
        JobKind::Sync => BackupKind::Sync,
    };
    Ok(match outcome {
        repo::ScheduledRun::Started(job) => {
            tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, schedule_id = %input.schedule_id, kind = job.kind_str(), "scheduled job queued");
            Claimed {
                job_id: Some(job.id.clone()),
                kind: kind_of(job.kind),
            }
        }
        repo::ScheduledRun::Skipped(active) => {
            tracing::info!(schedule_id = %input.schedule_id, active_job_id = %active, "scheduled run skipped: the source has an active job");
            let kind = schedule::Entity::find_by_id(&input.schedule_id)
                .one(&w.db)
                .await
                .map_err(db)?
                .map_or(BackupKind::Sync, |s| kind_of(s.kind));
            Claimed { job_id: None, kind }
        }
        repo::ScheduledRun::Gone => {
            tracing::warn!(schedule_id = %input.schedule_id, "scheduled run skipped: the schedule or its source no longer exists");
            Claimed {
                job_id: None,
                kind: BackupKind::Sync,
            }
        }
    })
}
