//! Starting backups and syncs of a source.

use crate::{
    auth::ApiKeyAuth,
    error::{ErrorEnvelope, envelope, envelope_with, internal},
    health::ApiTags,
    state::AppState,
};
use entities::{JobKind, JobStatus, repo, source};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use sea_orm::EntityTrait;
use serde_json::json;
use workflows::contracts::{BackupInput, BackupKind};

/// Options for one run.
#[derive(Object, Debug, Clone, Default)]
#[oai(deny_unknown_fields)]
pub struct StartJobRequest {
    /// Back up only these streams this time (default: the source's selection).
    pub streams: Option<Vec<String>>,
}

/// A started job.
#[derive(Object, Debug, Clone)]
pub struct JobStarted {
    pub job_id: String,
    /// The Temporal workflow id, to find the run in the Web UI or with the `temporal` CLI.
    pub workflow_id: String,
    pub status: String,
    pub temporal_ui_url: String,
}

#[derive(ApiResponse)]
pub enum StartJobResponse {
    /// The job is queued and its workflow started.
    #[oai(status = 202)]
    Accepted(Json<JobStarted>),
    /// The request is malformed or names an unknown stream.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The API key may not start jobs.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A job of this source is already queued or running; `details.job_id` names it.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// Temporal could not be reached; nothing was started.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}

pub struct BackupsApi;

#[OpenApi(tag = "ApiTags::Backups")]
impl BackupsApi {
    /// Starts a full backup of a source.
    #[oai(
        path = "/v1/sources/:source_id/backups",
        method = "post",
        operation_id = "startBackup"
    )]
    async fn start_backup(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        source_id: Path<String>,
        body: Json<StartJobRequest>,
    ) -> StartJobResponse {
        start(&state, &auth, &source_id, body.0, JobKind::Backup).await
    }

    /// Starts an incremental sync of a source, from the cursors its last snapshot reached.
    #[oai(
        path = "/v1/sources/:source_id/syncs",
        method = "post",
        operation_id = "startSync"
    )]
    async fn start_sync(
        &self,
        state: Data<&AppState>,
        auth: ApiKeyAuth,
        source_id: Path<String>,
        body: Json<StartJobRequest>,
    ) -> StartJobResponse {
        start(&state, &auth, &source_id, body.0, JobKind::Sync).await
    }
}

async fn start(
    state: &AppState,
    auth: &ApiKeyAuth,
    source_id: &str,
    request: StartJobRequest,
    kind: JobKind,
) -> StartJobResponse {
    use StartJobResponse as R;
    let caller = &auth.0;
    let src = match source::Entity::find_by_id(source_id).one(&state.db).await {
        Ok(Some(s)) if caller.reaches(&s.account_id) => s,
        Ok(_) => {
            return R::NotFound(envelope(
                "not_found",
                format!("source {source_id} not found"),
            ));
        }
        Err(e) => return R::Internal(internal(e)),
    };
    if !caller.can_operate() {
        return R::Forbidden(envelope(
            "forbidden",
            "this API key's role may not start jobs",
        ));
    }
    if let Some(streams) = &request.streams {
        let platform = connectors::platform(&src.platform);
        let unknown: Vec<&String> = streams
            .iter()
            .filter(|s| platform.and_then(|p| p.stream(s)).is_none())
            .collect();
        if streams.is_empty() || !unknown.is_empty() {
            return R::BadRequest(envelope_with(
                "invalid_request",
                "`streams` must name one or more streams of the source's platform",
                json!({"field": "streams", "unknown": unknown}),
            ));
        }
    }
    let job = match repo::start_job(&state.db, &src, kind).await {
        Ok(j) => j,
        Err(repo::CreateJobError::Active(running)) => {
            return R::Conflict(envelope_with(
                "conflict",
                format!("job {running} of this source is still queued or running"),
                json!({"job_id": running}),
            ));
        }
        Err(repo::CreateJobError::Db(e)) => return R::Internal(internal(e)),
    };
    let input = BackupInput {
        job_id: job.id.clone(),
        account_id: job.account_id.clone(),
        source_id: src.id.clone(),
        platform: src.platform.clone(),
        kind: match kind {
            JobKind::Backup => BackupKind::Backup,
            JobKind::Sync => BackupKind::Sync,
        },
        streams: request.streams.clone(),
    };
    match temporal::start_backup(&state.temporal.client, &job.workflow_id, &input).await {
        Ok(run_id) => {
            use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
            let mut started = job.clone().into_active_model();
            started.run_id = Set(Some(run_id));
            if let Err(e) = started.update(&state.db).await {
                tracing::warn!(job_id = %job.id, error = %e, "could not record the run id");
            }
        }
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "could not start the workflow");
            let _ = repo::finish_job(
                &state.db,
                &job.id,
                JobStatus::Failed,
                Some(format!("not started: {e}")),
            )
            .await;
            return R::Unavailable(envelope(
                "unavailable",
                "the workflow service is unavailable; the job was not started",
            ));
        }
    }
    let action = format!("{}.requested", job.kind_str());
    let details = json!({"source_id": src.id, "streams": request.streams});
    if let Err(e) = repo::log_activity(
        &state.db,
        &job.account_id,
        &caller.actor(),
        &action,
        ("job", &job.id),
        details,
    )
    .await
    {
        tracing::warn!(job_id = %job.id, error = %e, "activity log write failed");
    }
    tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %src.id, kind = job.kind_str(), "job started");
    R::Accepted(Json(JobStarted {
        temporal_ui_url: temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &job.workflow_id,
        ),
        job_id: job.id,
        workflow_id: job.workflow_id,
        status: "queued".into(),
    }))
}
