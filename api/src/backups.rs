//! Starting backups and syncs of a source.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, envelope_with, respond},
    error_responses,
    idempotency::{self, Begin},
    state::AppState,
};
use entities::{JobKind, JobStatus, Role, repo, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
    types::ToJSON,
};
use serde_json::json;
use workflows::contracts::{BackupInput, BackupKind};

/// Options for one run.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct StartJobRequest {
    /// Back up only these streams this time (default: the source's selection).
    pub streams: Option<Vec<String>>,
}

/// A started job.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct JobStarted {
    pub job_id: String,
    /// The Temporal workflow id, to find the run in the Web UI or with the `temporal` CLI.
    pub workflow_id: String,
    pub status: String,
    pub temporal_ui_url: String,
}

#[derive(ApiResponse)]
pub enum StartJobResponse {
    /// The job is queued and its workflow started (or, for a repeated `Idempotency-Key`, the
    /// job that key started).
    #[oai(status = 202)]
    Accepted(Json<JobStarted>),
    /// The request is malformed, names an unknown stream, or has a bad `Idempotency-Key`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Your role in the source's account may not start jobs (it needs operator or above).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A job of this source is already queued or running (`conflict`; `details.job_id` names
    /// it), or a request with this `Idempotency-Key` is still being answered
    /// (`idempotency_key_in_use`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The `Idempotency-Key` was used for a different request (`idempotency_key_reused`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// Temporal could not be reached; nothing was started.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(StartJobResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable, 503 => Unavailable });

pub struct BackupsApi;

#[OpenApi(tag = "ApiTags::Backups")]
impl BackupsApi {
    /// Starts a full backup of a source. Needs operator.
    ///
    /// Send an `Idempotency-Key` to make retrying the request safe: within 24 hours the same
    /// key answers with the job it started instead of starting another.
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
        /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<StartJobRequest>,
    ) -> StartJobResponse {
        let key = idempotency_key.0.as_deref();
        respond(start(
            &state,
            &auth,
            &source_id,
            body.0,
            JobKind::Backup,
            key,
        ))
        .await
    }

    /// Starts an incremental sync of a source, from the cursors its last snapshot reached.
    /// Needs operator; takes an `Idempotency-Key` like `startBackup`.
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
        /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<StartJobRequest>,
    ) -> StartJobResponse {
        let key = idempotency_key.0.as_deref();
        respond(start(&state, &auth, &source_id, body.0, JobKind::Sync, key)).await
    }
}

async fn start(
    state: &AppState,
    auth: &BearerAuth,
    source_id: &str,
    request: StartJobRequest,
    kind: JobKind,
    key: Option<&str>,
) -> Result<StartJobResponse, ApiError> {
    let caller = &auth.0;
    let src = crate::sources::find_source(&state.db, caller, source_id).await?;
    caller.require(&src.account_id, Role::Operator)?;
    if let Some(streams) = &request.streams {
        let message = "`streams` must name one or more streams of the source's platform";
        if let Some(bad) = unknown_streams(&src.platform, streams, "streams", message) {
            return Ok(StartJobResponse::BadRequest(bad));
        }
        if streams.is_empty() {
            return Err(ApiError::bad_param("streams", message)
                .with_details(json!({"field": "streams", "unknown": []})));
        }
    }
    let operation = match kind {
        JobKind::Backup => "startBackup",
        JobKind::Sync => "startSync",
    };
    let claim = match idempotency::begin(
        &state.db,
        caller,
        key,
        operation,
        &src.id,
        request.to_json(),
    )
    .await?
    {
        Begin::Replay(started) => return Ok(StartJobResponse::Accepted(Json(started))),
        Begin::Proceed(claim) => claim,
    };
    let started = start_job(state, caller, &src, request.streams, kind).await;
    idempotency::finish(&state.db, claim, started.as_ref().ok().map(|s| (202, s))).await;
    Ok(StartJobResponse::Accepted(Json(started?)))
}

/// Queues a job of `src` and starts its workflow: 409 `conflict` (with `details.job_id`) while
/// the source has an active job, 503 when Temporal cannot be reached.
pub(crate) async fn start_job(
    state: &AppState,
    caller: &crate::access::Caller,
    src: &source::Model,
    streams: Option<Vec<String>>,
    kind: JobKind,
) -> Result<JobStarted, ApiError> {
    let job = match repo::start_job(&state.db, src, kind).await {
        Ok(j) => j,
        Err(repo::CreateJobError::Active(running)) => {
            return Err(active_job_conflict(&running));
        }
        Err(repo::CreateJobError::Db(e)) => return Err(e.into()),
        Err(repo::CreateJobError::NotRetryable(id)) => {
            return Err(ApiError::internal(format!(
                "a new job {id} was refused as a retry"
            )));
        }
    };
    let launch = Launch {
        streams,
        skip_streams: Vec::new(),
    };
    let action = format!("{}.requested", job.kind_str());
    launch_job(state, caller, &job, &src.platform, launch, &action).await
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
) -> Result<JobStarted, ApiError> {
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
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
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

/// The 409 naming the source's active job.
pub(crate) fn active_job_conflict(job_id: &str) -> ApiError {
    ApiError::conflict(
        "conflict",
        format!("job {job_id} of this source is still queued or running"),
    )
    .with_details(json!({"job_id": job_id}))
}
