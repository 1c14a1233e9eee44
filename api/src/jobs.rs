//! Jobs: the runs of backups and syncs.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, envelope, internal, respond},
    idempotency::{self, Begin},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{job, repo};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path},
    payload::Json,
    types::ToJSON,
};
use sea_orm::{ActiveEnum, EntityTrait};
use serde_json::Value;
use std::time::Duration;

/// Progress of one stream.
#[derive(Object, serde::Serialize, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamProgressView {
    pub name: String,
    /// `pending`, `running` or `done` (from the live workflow), or `committed` (from the database).
    pub status: String,
    pub records: u64,
    /// Uncompressed JSON bytes.
    pub raw_bytes: u64,
    /// Compressed and encrypted bytes stored.
    pub stored_bytes: u64,
    pub parts: u32,
}

/// A backup or sync run.
// Lists write it with serde: its `Serialize` must write what its `ToJSON` does (see `payload`).
#[derive(Object, serde::Serialize, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct JobView {
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    /// `backup` or `sync`.
    pub kind: String,
    /// `queued` (waiting for one of the account's job slots, or for a platform quota to
    /// reset), `running`, `needs_reauth`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// While the job is active, from its run: `starting`, `queued`, `extracting`,
    /// `needs_reauth`, `waiting_for_quota` or `finalizing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    pub snapshot_id: String,
    pub workflow_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    pub temporal_ui_url: String,
    pub records: u64,
    pub bytes: u64,
    pub streams: Vec<StreamProgressView>,
    /// Why the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failed or cancelled job this one retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    #[serde(serialize_with = "crate::payload::time")]
    pub created_at: DateTime<Utc>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::payload::opt_time"
    )]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::payload::opt_time"
    )]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(ApiResponse)]
pub enum GetJobResponse {
    #[oai(status = 200)]
    Ok(Json<Box<JobView>>),
    /// No such job (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}

#[derive(ApiResponse)]
pub enum CancelJobResponse {
    /// The job stops after the part it is writing; it ends `cancelled`.
    #[oai(status = 202)]
    Accepted(Json<Box<JobView>>),
    /// Your role in the job's account may not cancel jobs (it needs operator or above).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The job has already finished.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}

/// Options for a retry.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct RetryJobRequest {
    /// Streams to leave out of the retry (e.g. one that keeps failing).
    #[oai(default)]
    pub skip_streams: Vec<String>,
}

#[derive(ApiResponse)]
pub enum RetryJobResponse {
    /// A new job continues the failed job's snapshot from its last committed parts.
    #[oai(status = 202)]
    Accepted(Json<crate::backups::JobStarted>),
    /// `skip_streams` names an unknown stream, or the `Idempotency-Key` is malformed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The job did not fail, the source has another active job (`details.job_id`), or a
    /// request with this `Idempotency-Key` is still being answered (`idempotency_key_in_use`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The `Idempotency-Key` was used for a different request (`idempotency_key_reused`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
crate::error_responses!(RetryJobResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable, 503 => Unavailable });

pub struct JobsApi;

/// The job `id` if the caller reaches it.
pub(crate) async fn find_job(
    state: &AppState,
    auth: &BearerAuth,
    id: &str,
) -> Result<Option<job::Model>, sea_orm::DbErr> {
    Ok(job::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|j| auth.0.reaches(&j.account_id)))
}

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobsApi {
    /// Gets a job, with live per-stream progress while it runs.
    #[oai(path = "/v1/jobs/:job_id", method = "get", operation_id = "getJob")]
    async fn get_job(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        job_id: Path<String>,
    ) -> GetJobResponse {
        let job = match job::Entity::find_by_id(job_id.0.as_str())
            .one(&state.db)
            .await
        {
            Ok(Some(j)) if auth.0.reaches(&j.account_id) => j,
            Ok(_) => {
                return GetJobResponse::NotFound(envelope(
                    "not_found",
                    format!("job {} not found", job_id.0),
                ));
            }
            Err(e) => return GetJobResponse::Internal(internal(e)),
        };
        GetJobResponse::Ok(Json(Box::new(view(&state, job).await)))
    }

    /// Cancels a queued or running job. It stops after the part it is writing, so everything
    /// committed stays and a retry continues from there.
    #[oai(
        path = "/v1/jobs/:job_id/cancel",
        method = "post",
        operation_id = "cancelJob"
    )]
    async fn cancel_job(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        job_id: Path<String>,
    ) -> CancelJobResponse {
        use CancelJobResponse as R;
        let job = match find_job(&state, &auth, &job_id).await {
            Ok(Some(j)) => j,
            Ok(None) => {
                return R::NotFound(envelope("not_found", format!("job {} not found", job_id.0)));
            }
            Err(e) => return R::Internal(internal(e)),
        };
        if !auth.0.can_operate(&job.account_id) {
            return R::Forbidden(envelope(
                "forbidden",
                "your role in this account may not cancel jobs; it needs operator or above",
            ));
        }
        if job.status.is_final() {
            return R::Conflict(envelope(
                "conflict",
                format!("job {} has already finished", job.id),
            ));
        }
        let reason = format!("cancelled by {}", auth.0.actor());
        if let Err(e) =
            temporal::cancel_backup(&state.temporal.client, &job.workflow_id, &reason).await
        {
            tracing::error!(job_id = %job.id, error = %e, "cancel signal failed");
            return R::Unavailable(envelope(
                "unavailable",
                "the workflow service is unavailable; try again",
            ));
        }
        if let Err(e) = repo::log_activity(
            &state.db,
            &job.account_id,
            &auth.0.actor(),
            "job.cancel_requested",
            ("job", &job.id),
            serde_json::json!({}),
        )
        .await
        {
            tracing::warn!(job_id = %job.id, error = %e, "activity log write failed");
        }
        R::Accepted(Json(Box::new(view(&state, job).await)))
    }

    /// Retries a failed or cancelled job: a new job continues the same snapshot from its last
    /// committed part of every stream, instead of starting over. Needs operator; takes an
    /// `Idempotency-Key` (within 24 hours the same key answers with the job it started).
    #[oai(
        path = "/v1/jobs/:job_id/retry",
        method = "post",
        operation_id = "retryJob"
    )]
    async fn retry_job(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        job_id: Path<String>,
        /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: Json<RetryJobRequest>,
    ) -> RetryJobResponse {
        respond(retry(
            &state,
            &auth,
            &job_id,
            idempotency_key.0.as_deref(),
            body.0,
        ))
        .await
    }
}

async fn retry(
    state: &AppState,
    auth: &BearerAuth,
    job_id: &str,
    key: Option<&str>,
    request: RetryJobRequest,
) -> Result<RetryJobResponse, ApiError> {
    use RetryJobResponse as R;
    let failed = find_job(state, auth, job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("job", job_id))?;
    auth.0
        .require(&failed.account_id, entities::Role::Operator)?;
    let source = entities::source::Entity::find_by_id(&failed.source_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("the job's source", &failed.source_id))?;
    let message = "`skip_streams` names streams the platform does not have";
    if let Some(bad) = crate::backups::unknown_streams(
        &source.platform,
        &request.skip_streams,
        "skip_streams",
        message,
    ) {
        return Ok(R::BadRequest(bad));
    }
    let claim = match idempotency::begin(
        &state.db,
        &auth.0,
        key,
        "retryJob",
        &failed.id,
        request.to_json(),
    )
    .await?
    {
        Begin::Replay(started) => return Ok(R::Accepted(Json(started))),
        Begin::Proceed(claim) => claim,
    };
    let started = relaunch(state, auth, &failed, &source.platform, request).await;
    idempotency::finish(&state.db, claim, started.as_ref().ok().map(|s| (202, s))).await;
    Ok(R::Accepted(Json(started?)))
}

/// Creates the retry job of `failed` and starts its workflow.
async fn relaunch(
    state: &AppState,
    auth: &BearerAuth,
    failed: &job::Model,
    platform: &str,
    request: RetryJobRequest,
) -> Result<crate::backups::JobStarted, ApiError> {
    let job = match repo::retry_job(&state.db, failed).await {
        Ok(j) => j,
        Err(repo::CreateJobError::Active(active)) => {
            return Err(crate::backups::active_job_conflict(&active));
        }
        Err(repo::CreateJobError::NotRetryable(id)) => {
            return Err(ApiError::conflict(
                "conflict",
                format!("job {id} has not failed or been cancelled; only those can be retried"),
            ));
        }
        Err(repo::CreateJobError::Db(e)) => return Err(e.into()),
    };
    let launch = crate::backups::Launch {
        streams: None,
        skip_streams: request.skip_streams,
    };
    crate::backups::launch_job(state, &auth.0, &job, platform, launch, "job.retried").await
}

pub(crate) async fn view(state: &AppState, job: job::Model) -> JobView {
    let active = !job.status.is_final();
    let mut view = stored_view(state, job);
    if active {
        // The workflow knows more than the database (streams not started yet, the phase); a
        // busy or unreachable Temporal falls back to what the database has.
        let query = temporal::backup_progress(&state.temporal.client, &view.workflow_id);
        if let Ok(Ok(live)) = tokio::time::timeout(Duration::from_secs(2), query).await {
            view.phase = Some(live.phase);
            if !live.streams.is_empty() {
                // The workflow learns counts when a chunk returns; the database as each part
                // commits. Show the further of the two for every stream.
                let committed = std::mem::take(&mut view.streams);
                view.streams = live
                    .streams
                    .into_iter()
                    .map(|s| {
                        let db = committed.iter().find(|c| c.name == s.name);
                        let further = db.filter(|c| c.parts > s.parts);
                        StreamProgressView {
                            status: s.status,
                            records: further.map_or(s.records, |c| c.records),
                            raw_bytes: further.map_or(s.raw_bytes, |c| c.raw_bytes),
                            stored_bytes: further.map_or(s.stored_bytes, |c| c.stored_bytes),
                            parts: further.map_or(s.parts, |c| c.parts),
                            name: s.name,
                        }
                    })
                    .collect();
                view.records = view.records.max(live.records);
                view.bytes = view.bytes.max(live.bytes);
            }
        }
    }
    view
}

/// The per-stream totals the activities committed (`{"customers": {"records": …}}`).
fn committed_streams(progress: &Value) -> Vec<StreamProgressView> {
    let Some(map) = progress.as_object() else {
        return Vec::new();
    };
    map.iter()
        .map(|(name, p)| {
            let n = |f: &str| p.get(f).and_then(Value::as_u64).unwrap_or(0);
            StreamProgressView {
                name: name.clone(),
                status: "committed".into(),
                records: n("records"),
                raw_bytes: n("raw_bytes"),
                stored_bytes: n("stored_bytes"),
                parts: n("parts") as u32,
            }
        })
        .collect()
}

/// The job as the database has it, without asking its workflow: for lists, where one query per
/// running job would make a page as slow as its slowest run.
pub(crate) fn stored_view(state: &AppState, job: job::Model) -> JobView {
    JobView {
        temporal_ui_url: temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &job.workflow_id,
        ),
        kind: job.kind_str().to_owned(),
        status: job.status.to_value(),
        streams: committed_streams(&job.progress),
        records: job.records.max(0) as u64,
        bytes: job.bytes.max(0) as u64,
        id: job.id,
        account_id: job.account_id,
        source_id: job.source_id,
        phase: None,
        snapshot_id: job.snapshot_id,
        workflow_id: job.workflow_id,
        run_id: job.run_id,
        error: job.error,
        retry_of: job.retry_of,
        created_at: job.created_at,
        started_at: job.started_at,
        finished_at: job.finished_at,
    }
}
