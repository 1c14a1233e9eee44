//! Starting backups and syncs of a source.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ErrorEnvelope, envelope, envelope_with, internal},
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
    /// Your role in the source's account may not start jobs (it needs operator or above).
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
        auth: BearerAuth,
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
        auth: BearerAuth,
        source_id: Path<String>,
        body: Json<StartJobRequest>,
    ) -> StartJobResponse {
        start(&state, &auth, &source_id, body.0, JobKind::Sync).await
    }
}

async fn start(
    state: &AppState,
    auth: &BearerAuth,
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
    if !caller.can_operate(&src.account_id) {
        return R::Forbidden(envelope(
            "forbidden",
            "your role in this account may not start jobs; it needs operator or above",
        ));
    }
    if let Some(streams) = &request.streams {
        let message = "`streams` must name one or more streams of the source's platform";
        if let Some(bad) = unknown_streams(&src.platform, streams, "streams", message) {
            return R::BadRequest(bad);
        }
        if streams.is_empty() {
            return R::BadRequest(envelope_with(
                "invalid_request",
                message,
                json!({"field": "streams", "unknown": []}),
            ));
        }
    }
    let job = match repo::start_job(&state.db, &src, kind).await {
        Ok(j) => j,
        Err(repo::CreateJobError::Active(running)) => {
            return R::Conflict(active_job_conflict(&running));
        }
        Err(repo::CreateJobError::Db(e)) => return R::Internal(internal(e)),
        Err(repo::CreateJobError::NotRetryable(id)) => {
            return R::Internal(internal(format!("a new job {id} was refused as a retry")));
        }
    };
    let launch = Launch {
        streams: request.streams.clone(),
        skip_streams: Vec::new(),
    };
    match launch_job(
        state,
        caller,
        &job,
        &src.platform,
        launch,
        &format!("{}.requested", job.kind_str()),
    )
    .await
    {
        Ok(started) => R::Accepted(Json(started)),
        Err(unavailable) => R::Unavailable(unavailable),
    }
}

/// What a run is asked to do beyond the source's settings.
pub(crate) struct Launch {
    pub streams: Option<Vec<String>>,
    pub skip_streams: Vec<String>,
}

/// Starts the workflow of a queued job and records it. If Temporal cannot be reached the job
/// is marked failed (never left queued) and the error envelope for a 503 is returned.
pub(crate) async fn launch_job(
    state: &AppState,
    caller: &crate::access::Caller,
    job: &entities::job::Model,
    platform: &str,
    launch: Launch,
    action: &str,
) -> Result<JobStarted, Json<ErrorEnvelope>> {
    let input = BackupInput {
        job_id: job.id.clone(),
        account_id: job.account_id.clone(),
        source_id: job.source_id.clone(),
        platform: platform.to_owned(),
        kind: match job.kind {
            JobKind::Backup => BackupKind::Backup,
            JobKind::Sync => BackupKind::Sync,
        },
        streams: launch.streams.clone(),
        skip_streams: launch.skip_streams.clone(),
        reauth_wait_secs: None,
        schedule_id: None,
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
            return Err(envelope(
                "unavailable",
                "the workflow service is unavailable; the job was not started",
            ));
        }
    }
    let details = json!({
        "source_id": job.source_id,
        "streams": launch.streams,
        "skip_streams": launch.skip_streams,
        "retry_of": job.retry_of,
    });
    if let Err(e) = repo::log_activity(
        &state.db,
        &job.account_id,
        &caller.actor(),
        action,
        ("job", &job.id),
        details,
    )
    .await
    {
        tracing::warn!(job_id = %job.id, error = %e, "activity log write failed");
    }
    tracing::info!(job_id = %job.id, account_id = %job.account_id, source_id = %job.source_id, kind = job.kind_str(), "job started");
    Ok(JobStarted {
        temporal_ui_url: temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &job.workflow_id,
        ),
        job_id: job.id.clone(),
        workflow_id: job.workflow_id.clone(),
        status: "queued".into(),
    })
}

/// The 400 envelope for `names` that are not streams of `platform` (under `field`), if any are.
pub(crate) fn unknown_streams(
    platform: &str,
    names: &[String],
    field: &str,
    message: &str,
) -> Option<Json<ErrorEnvelope>> {
    let platform = connectors::platform(platform);
    let unknown: Vec<&String> = names
        .iter()
        .filter(|s| platform.and_then(|p| p.stream(s)).is_none())
        .collect();
    (!unknown.is_empty()).then(|| {
        envelope_with(
            "invalid_request",
            message,
            json!({"field": field, "unknown": unknown}),
        )
    })
}

/// The 409 envelope naming the source's active job.
pub(crate) fn active_job_conflict(job_id: &str) -> Json<ErrorEnvelope> {
    envelope_with(
        "conflict",
        format!("job {job_id} of this source is still queued or running"),
        json!({"job_id": job_id}),
    )
}
