//! Schedules: recurring backups or syncs of a source, each backed by a Temporal Schedule
//! (overlap Skip, a catch-up window, jitter, paused state).
//!
//! A scheduled run starts `BackupWorkflow` with the schedule's id and no job; its first activity
//! creates the job row — or, when the source already has an active job, records the run as
//! skipped (`schedule.skipped`) — so one active job per source holds for scheduled runs too.
//!
//! The database row and the Temporal Schedule are kept consistent by order and compensation:
//! every change goes to Temporal first (unreachable: 503, nothing stored or changed), then to the
//! database in one transaction with its activity-log entry; if that transaction fails, the
//! Temporal change is undone (creation deleted, an update or pause reverted) before answering
//! 500. Deleting removes the Temporal Schedule first, so a schedule is never left firing
//! without its row; a repeated delete finishes one whose database step failed. A row whose
//! Temporal Schedule has gone missing is recreated from the row by the next change.

pub(crate) mod spec;

use crate::{
    ApiTags,
    access::Caller,
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    pagination::{Page, PageRequest},
    state::{AppState, TemporalAccess},
};
use chrono::{DateTime, Utc};
use entities::{JobKind, Role, repo, schedule, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::json;
use std::time::Duration;
use temporal::{ScheduleDefinition, ScheduledRun, TemporalError};
use workflows::contracts::{BackupInput, BackupKind};

/// How many upcoming run times a schedule shows.
const NEXT_RUNS: usize = 5;

/// What each run of a schedule does: a full `backup` or an incremental `sync` (the default).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// A full backup of every selected stream.
    Backup,
    /// An incremental sync from the cursors the last snapshot reached.
    #[default]
    Sync,
}

impl From<ScheduleKind> for JobKind {
    fn from(k: ScheduleKind) -> Self {
        match k {
            ScheduleKind::Backup => JobKind::Backup,
            ScheduleKind::Sync => JobKind::Sync,
        }
    }
}

impl From<JobKind> for ScheduleKind {
    fn from(k: JobKind) -> Self {
        match k {
            JobKind::Backup => ScheduleKind::Backup,
            JobKind::Sync => ScheduleKind::Sync,
        }
    }
}

/// The last time the schedule fired.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct LastRun {
    pub at: DateTime<Utc>,
    /// `started` (a job was queued) or `skipped` (the source had an active job, named by `job_id`).
    pub outcome: String,
    /// The job started, or the active job the run gave way to.
    pub job_id: Option<String>,
}

/// A schedule of a source.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ScheduleView {
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    pub kind: ScheduleKind,
    /// Five fields: minute, hour, day of month, month, day of week.
    pub cron: String,
    /// The IANA time zone `cron` is read in.
    pub timezone: String,
    /// Each run starts up to this many seconds after its time, at random.
    pub jitter_secs: u32,
    /// A run missed (Temporal unavailable) still starts if it is at most this late.
    pub catchup_window_secs: u32,
    pub paused: bool,
    /// The next times a run will start, soonest first (from the Temporal Schedule, jitter
    /// included); empty while paused; absent when the workflow service cannot be reached.
    #[oai(skip_serializing_if_is_none)]
    pub next_runs: Option<Vec<DateTime<Utc>>>,
    pub last_run: Option<LastRun>,
    /// The Temporal Schedule behind it.
    pub temporal_schedule_id: String,
    /// The schedule's page in the Temporal Web UI.
    pub temporal_ui_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for ScheduleView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-ae77-7c08-a1b2-4f6d8e0a2b37".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            source_id: "019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a".into(),
            kind: ScheduleKind::Sync,
            cron: "30 2 * * *".into(),
            timezone: "Europe/Berlin".into(),
            jitter_secs: 300,
            catchup_window_secs: 3600,
            paused: false,
            next_runs: Some(vec![at + chrono::Duration::days(1)]),
            last_run: Some(LastRun {
                at,
                outcome: "started".into(),
                job_id: Some("019b76da-ad10-7f42-9b6a-3e5c7d9f1a26".into()),
            }),
            temporal_schedule_id: "schedule/src_06h00dqvj52kg04zbq3k/sch_06h00dqvj52kg04zbq3k"
                .into(),
            temporal_ui_url: "http://127.0.0.1:8233/namespaces/default/schedules/schedule%2Fsrc_06h00dqvj52kg04zbq3k%2Fsch_06h00dqvj52kg04zbq3k".into(),
            created_at: at,
            updated_at: at,
        }
    }
}

/// A new schedule.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateSchedule {
    /// Five fields: minute, hour, day of month, month, day of week (`30 2 * * *`: 02:30 daily;
    /// `*/15 * * * MON-FRI`). Numbers, `*`, ranges, steps and lists; month and weekday names.
    pub cron: String,
    /// IANA time zone `cron` is read in (default `UTC`); daylight saving time is followed.
    pub timezone: Option<String>,
    /// 0 to 3600 (default 0): each run starts up to this many seconds late, at random, so many
    /// schedules at the same minute do not all start at once.
    pub jitter_secs: Option<u32>,
    // `backup` or `sync`, default `sync` (said on ScheduleKind: a doc comment here would wrap
    // the enum in an `allOf` that client generators reject).
    pub kind: Option<ScheduleKind>,
    /// 60 to 604800 (default 3600): how late a missed run may still start.
    pub catchup_window_secs: Option<u32>,
    /// Create it paused (default false).
    pub paused: Option<bool>,
}

impl Example for CreateSchedule {
    fn example() -> Self {
        Self {
            cron: "30 2 * * *".into(),
            timezone: Some("Europe/Berlin".into()),
            jitter_secs: Some(300),
            kind: Some(ScheduleKind::Sync),
            catchup_window_secs: Some(3600),
            paused: None,
        }
    }
}

/// Changes to a schedule; fields left out stay as they are.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct UpdateSchedule {
    pub cron: Option<String>,
    pub timezone: Option<String>,
    pub jitter_secs: Option<u32>,
    pub kind: Option<ScheduleKind>,
    pub catchup_window_secs: Option<u32>,
}

impl Example for UpdateSchedule {
    fn example() -> Self {
        Self {
            cron: Some("0 */6 * * *".into()),
            ..Self::default()
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateScheduleResponse {
    /// Created, with its Temporal Schedule.
    #[oai(status = 201)]
    Created(Json<ScheduleView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `cron`, `timezone`, `jitter_secs` or `catchup_window_secs` is not acceptable
    /// (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was stored.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(CreateScheduleResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum ListSchedulesResponse {
    /// A page of the source's schedules, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<ScheduleView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListSchedulesResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetScheduleResponse {
    #[oai(status = 200)]
    Ok(Json<ScheduleView>),
    /// No such schedule (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetScheduleResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum UpdateScheduleResponse {
    /// Updated, in Temporal too.
    #[oai(status = 200)]
    Ok(Json<ScheduleView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such schedule (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(UpdateScheduleResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum PauseScheduleResponse {
    /// Paused or resumed (doing it twice is fine).
    #[oai(status = 200)]
    Ok(Json<ScheduleView>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such schedule (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(PauseScheduleResponse { 403 => Forbidden, 404 => NotFound, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum TriggerScheduleResponse {
    /// A run starts now; its job appears in the source's jobs within moments (also while the
    /// schedule is paused).
    #[oai(status = 202)]
    Accepted(Json<ScheduleView>),
    /// Needs operator or above.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such schedule (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The source has an active job (`conflict`; `details.job_id` names it).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was started.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(TriggerScheduleResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum DeleteScheduleResponse {
    /// Deleted, with its Temporal Schedule; a run already started finishes.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such schedule (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was deleted.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(DeleteScheduleResponse { 403 => Forbidden, 404 => NotFound, 503 => Unavailable });

fn unavailable(e: &TemporalError) -> ApiError {
    tracing::error!(error = %e, "workflow service call failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the workflow service is unavailable; nothing was changed",
    )
}

/// A Temporal failure as the API answers it: a spec Temporal refuses names `cron` (everything
/// else about it was checked before); anything else means Temporal cannot be reached.
pub(crate) fn temporal_error(e: TemporalError) -> ApiError {
    match e {
        TemporalError::InvalidSchedule(message) => ApiError::invalid_field(
            "cron",
            format!("the workflow service refused the schedule: {message}"),
        ),
        other => unavailable(&other),
    }
}

/// The schedule `id` if the caller reaches it.
async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<schedule::Model, ApiError> {
    schedule::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| caller.reaches(&s.account_id))
        .ok_or_else(|| ApiError::not_found("schedule", id))
}

/// The source `id` if the caller reaches it.
async fn find_source(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<source::Model, ApiError> {
    source::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| caller.reaches(&s.account_id))
        .ok_or_else(|| ApiError::not_found("source", id))
}

/// The Temporal Schedule a row describes.
fn definition(row: &schedule::Model, platform: &str) -> ScheduleDefinition {
    ScheduleDefinition {
        id: row.temporal_schedule_id.clone(),
        cron: row.cron.clone(),
        timezone: row.timezone.clone(),
        jitter: Duration::from_secs(row.jitter_secs.max(0) as u64),
        catchup_window: Duration::from_secs(row.catchup_window_secs.max(0) as u64),
        paused: row.paused,
        run: ScheduledRun::Backup(BackupInput {
            job_id: String::new(),
            account_id: row.account_id.clone(),
            source_id: row.source_id.clone(),
            platform: platform.to_owned(),
            kind: match row.kind {
                JobKind::Backup => BackupKind::Backup,
                JobKind::Sync => BackupKind::Sync,
            },
            streams: None,
            skip_streams: Vec::new(),
            reauth_wait_secs: None,
            schedule_id: Some(row.id.clone()),
        }),
    }
}

async fn platform_of(state: &AppState, row: &schedule::Model) -> Result<String, ApiError> {
    Ok(source::Entity::find_by_id(&row.source_id)
        .one(&state.db)
        .await?
        .map(|s| s.platform)
        .unwrap_or_default())
}

/// Makes the Temporal Schedule match `def`, recreating it if it has gone missing.
pub(crate) async fn apply(
    client: &temporal::Client,
    def: &ScheduleDefinition,
) -> Result<(), TemporalError> {
    match temporal::update_schedule(client, def).await {
        Err(TemporalError::ScheduleNotFound(_)) => temporal::create_schedule(client, def).await,
        other => other,
    }
}

/// Undoes a Temporal change whose database transaction failed; a failure here is logged (the
/// next change of the schedule converges the two again).
async fn revert(state: &AppState, def: &ScheduleDefinition) {
    if let Err(e) = apply(&state.temporal.client, def).await {
        tracing::error!(schedule = %def.id, error = %e, "could not revert the Temporal schedule");
    }
}

pub(crate) fn ui_link(temporal: &TemporalAccess, schedule_id: &str) -> String {
    let link = temporal::web_ui_link(&temporal.ui_base, &temporal.namespace, schedule_id);
    link.replacen("/workflows/", "/schedules/", 1)
}

/// The API's view of a row, with the next run times from Temporal.
async fn view(state: &AppState, row: schedule::Model) -> ScheduleView {
    let next_runs = if row.paused {
        Some(Vec::new())
    } else {
        let describe =
            temporal::describe_schedule(&state.temporal.client, &row.temporal_schedule_id);
        match tokio::time::timeout(Duration::from_secs(3), describe).await {
            Ok(Ok(status)) => Some(
                status
                    .next_runs
                    .into_iter()
                    .take(NEXT_RUNS)
                    .map(DateTime::<Utc>::from)
                    .collect(),
            ),
            Ok(Err(e)) => {
                tracing::warn!(schedule_id = %row.id, error = %e, "could not describe the Temporal schedule");
                None
            }
            Err(_) => None,
        }
    };
    let last_run = row.last_run_at.map(|at| LastRun {
        at,
        outcome: row.last_run_outcome.clone().unwrap_or_default(),
        job_id: row.last_run_job_id.clone(),
    });
    ScheduleView {
        temporal_ui_url: ui_link(&state.temporal, &row.temporal_schedule_id),
        id: row.id,
        account_id: row.account_id,
        source_id: row.source_id,
        kind: row.kind.into(),
        cron: row.cron,
        timezone: row.timezone,
        jitter_secs: row.jitter_secs.max(0) as u32,
        catchup_window_secs: row.catchup_window_secs.max(0) as u32,
        paused: row.paused,
        next_runs,
        last_run,
        temporal_schedule_id: row.temporal_schedule_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Deletes every schedule of a source, in Temporal first; for deleting the source itself.
pub async fn delete_for_source(state: &AppState, source_id: &str) -> Result<(), ApiError> {
    let rows = schedule::Entity::find()
        .filter(schedule::Column::SourceId.eq(source_id))
        .all(&state.db)
        .await?;
    for row in rows {
        temporal::delete_schedule(&state.temporal.client, &row.temporal_schedule_id)
            .await
            .map_err(|e| unavailable(&e))?;
        row.delete(&state.db).await?;
    }
    Ok(())
}

pub struct SchedulesApi;

#[OpenApi(tag = "ApiTags::Schedules")]
impl SchedulesApi {
    /// Creates a schedule of a source: a backup or sync at the times a cron expression gives,
    /// in a time zone, run by a Temporal Schedule. A run due while the source has an active job
    /// is skipped and recorded (`schedule.skipped`). Needs admin.
    #[oai(
        path = "/v1/sources/:source_id/schedules",
        method = "post",
        operation_id = "createSchedule"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        body: Json<CreateSchedule>,
    ) -> CreateScheduleResponse {
        respond(async {
            let src = find_source(&state, &auth.0, &source_id).await?;
            auth.0.require(&src.account_id, Role::Admin)?;
            let cron = spec::cron(&body.cron)?;
            let timezone = spec::timezone(body.timezone.as_deref().unwrap_or("UTC"))?;
            let jitter = spec::jitter(body.jitter_secs.unwrap_or(0))?;
            let catchup = spec::catchup_window(
                body.catchup_window_secs
                    .unwrap_or(spec::DEFAULT_CATCHUP_WINDOW_SECS),
            )?;
            let id = entities::new_id();
            let now = Utc::now();
            let row = schedule::Model {
                temporal_schedule_id: format!("schedule/{}/{id}", src.id),
                id,
                account_id: src.account_id.clone(),
                source_id: src.id.clone(),
                cron,
                timezone,
                jitter_secs: i64::from(jitter),
                paused: body.paused.unwrap_or(false),
                created_at: now,
                updated_at: now,
                kind: body.kind.unwrap_or_default().into(),
                catchup_window_secs: i64::from(catchup),
                last_run_at: None,
                last_run_outcome: None,
                last_run_job_id: None,
            };
            let def = definition(&row, &src.platform);
            temporal::create_schedule(&state.temporal.client, &def)
                .await
                .map_err(temporal_error)?;
            let stored = async {
                let txn = state.db.begin().await?;
                let inserted = row.clone().into_active_model().insert(&txn).await?;
                activity::record(
                    &txn,
                    &auth.0,
                    &row.account_id,
                    "schedule.created",
                    ("schedule", &row.id),
                    json!({"source_id": row.source_id, "cron": row.cron, "timezone": row.timezone, "kind": row.kind}),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, ApiError>(inserted)
            }
            .await;
            let inserted = match stored {
                Ok(r) => r,
                Err(e) => {
                    if let Err(undo) =
                        temporal::delete_schedule(&state.temporal.client, &def.id).await
                    {
                        tracing::error!(schedule = %def.id, error = %undo, "could not delete the Temporal schedule of a row that was not stored");
                    }
                    return Err(e);
                }
            };
            Ok(CreateScheduleResponse::Created(Json(
                view(&state, inserted).await,
            )))
        })
        .await
    }

    /// Lists a source's schedules, oldest first.
    #[oai(
        path = "/v1/sources/:source_id/schedules",
        method = "get",
        operation_id = "listSchedules"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListSchedulesResponse {
        respond(async {
            let src = find_source(&state, &auth.0, &source_id).await?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select =
                schedule::Entity::find().filter(schedule::Column::SourceId.eq(src.id.as_str()));
            let rows = page
                .apply(select, schedule::Column::Id)
                .all(&state.db)
                .await?;
            let rows = page.finish(rows, |s| s.id.clone());
            let mut items = Vec::with_capacity(rows.items.len());
            for row in rows.items {
                items.push(view(&state, row).await);
            }
            Ok(ListSchedulesResponse::Ok(Json(Page {
                items,
                next_cursor: rows.next_cursor,
            })))
        })
        .await
    }

    /// Gets a schedule, with its next run times and its last run.
    #[oai(
        path = "/v1/schedules/:schedule_id",
        method = "get",
        operation_id = "getSchedule"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
    ) -> GetScheduleResponse {
        respond(async {
            let row = find(&state, &auth.0, &schedule_id).await?;
            Ok(GetScheduleResponse::Ok(Json(view(&state, row).await)))
        })
        .await
    }

    /// Changes a schedule's timing or kind; the Temporal Schedule follows. Needs admin.
    #[oai(
        path = "/v1/schedules/:schedule_id",
        method = "patch",
        operation_id = "updateSchedule"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
        body: Json<UpdateSchedule>,
    ) -> UpdateScheduleResponse {
        respond(async {
            let old = find(&state, &auth.0, &schedule_id).await?;
            auth.0.require(&old.account_id, Role::Admin)?;
            let mut new = old.clone();
            let mut changed = serde_json::Map::new();
            if let Some(cron) = &body.cron {
                new.cron = spec::cron(cron)?;
                changed.insert("cron".into(), json!(new.cron));
            }
            if let Some(tz) = &body.timezone {
                new.timezone = spec::timezone(tz)?;
                changed.insert("timezone".into(), json!(new.timezone));
            }
            if let Some(j) = body.jitter_secs {
                new.jitter_secs = i64::from(spec::jitter(j)?);
                changed.insert("jitter_secs".into(), json!(j));
            }
            if let Some(c) = body.catchup_window_secs {
                new.catchup_window_secs = i64::from(spec::catchup_window(c)?);
                changed.insert("catchup_window_secs".into(), json!(c));
            }
            if let Some(k) = body.kind {
                new.kind = k.into();
                changed.insert("kind".into(), json!(new.kind));
            }
            new.updated_at = Utc::now();
            let row = change(
                &state,
                &auth.0,
                old,
                new,
                "schedule.updated",
                changed.into(),
            )
            .await?;
            Ok(UpdateScheduleResponse::Ok(Json(view(&state, row).await)))
        })
        .await
    }

    /// Pauses a schedule: no runs start until it is resumed (a run already started finishes).
    /// Needs admin.
    #[oai(
        path = "/v1/schedules/:schedule_id/pause",
        method = "post",
        operation_id = "pauseSchedule"
    )]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
    ) -> PauseScheduleResponse {
        set_paused(&state, &auth.0, &schedule_id, true).await
    }

    /// Resumes a paused schedule. Runs missed while paused do not start. Needs admin.
    #[oai(
        path = "/v1/schedules/:schedule_id/resume",
        method = "post",
        operation_id = "resumeSchedule"
    )]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
    ) -> PauseScheduleResponse {
        set_paused(&state, &auth.0, &schedule_id, false).await
    }

    /// Starts a run of the schedule now. Its job is created by the run itself and named in
    /// `last_run` and the source's jobs. Needs operator or above.
    #[oai(
        path = "/v1/schedules/:schedule_id/trigger",
        method = "post",
        operation_id = "triggerSchedule"
    )]
    async fn trigger(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
    ) -> TriggerScheduleResponse {
        respond(async {
            let row = find(&state, &auth.0, &schedule_id).await?;
            auth.0.require(&row.account_id, Role::Operator)?;
            if let Some(active) = repo::active_job(&state.db, &row.source_id).await? {
                return Err(ApiError::conflict(
                    "conflict",
                    format!(
                        "job {} of this source is still queued or running",
                        active.id
                    ),
                )
                .with_details(json!({"job_id": active.id})));
            }
            let client = &state.temporal.client;
            match temporal::trigger_schedule(client, &row.temporal_schedule_id).await {
                Err(TemporalError::ScheduleNotFound(_)) => {
                    let def = definition(&row, &platform_of(&state, &row).await?);
                    temporal::create_schedule(client, &def)
                        .await
                        .map_err(|e| unavailable(&e))?;
                    temporal::trigger_schedule(client, &def.id)
                        .await
                        .map_err(|e| unavailable(&e))?;
                }
                other => other.map_err(|e| unavailable(&e))?,
            }
            activity::record(
                &state.db,
                &auth.0,
                &row.account_id,
                "schedule.triggered",
                ("schedule", &row.id),
                json!({"source_id": row.source_id}),
            )
            .await?;
            Ok(TriggerScheduleResponse::Accepted(Json(
                view(&state, row).await,
            )))
        })
        .await
    }

    /// Deletes a schedule and its Temporal Schedule. A run already started finishes. Needs admin.
    #[oai(
        path = "/v1/schedules/:schedule_id",
        method = "delete",
        operation_id = "deleteSchedule"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        schedule_id: Path<String>,
    ) -> DeleteScheduleResponse {
        respond(async {
            let row = find(&state, &auth.0, &schedule_id).await?;
            auth.0.require(&row.account_id, Role::Admin)?;
            temporal::delete_schedule(&state.temporal.client, &row.temporal_schedule_id)
                .await
                .map_err(|e| unavailable(&e))?;
            let txn = state.db.begin().await?;
            schedule::Entity::delete_by_id(row.id.as_str())
                .exec(&txn)
                .await?;
            activity::record(
                &txn,
                &auth.0,
                &row.account_id,
                "schedule.deleted",
                ("schedule", &row.id),
                json!({"source_id": row.source_id, "cron": row.cron, "timezone": row.timezone}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteScheduleResponse::Deleted)
        })
        .await
    }
}

async fn set_paused(
    state: &AppState,
    caller: &Caller,
    id: &str,
    paused: bool,
) -> PauseScheduleResponse {
    respond(async {
        let old = find(state, caller, id).await?;
        caller.require(&old.account_id, Role::Admin)?;
        let mut new = old.clone();
        new.paused = paused;
        new.updated_at = Utc::now();
        let action = if paused {
            "schedule.paused"
        } else {
            "schedule.resumed"
        };
        let row = change(state, caller, old, new, action, json!({})).await?;
        Ok(PauseScheduleResponse::Ok(Json(view(state, row).await)))
    })
    .await
}

/// Applies `new` to Temporal, then stores it with its activity-log entry; reverts Temporal to
/// `old` if storing fails.
async fn change(
    state: &AppState,
    caller: &Caller,
    old: schedule::Model,
    new: schedule::Model,
    action: &str,
    details: serde_json::Value,
) -> Result<schedule::Model, ApiError> {
    let platform = platform_of(state, &old).await?;
    let def = definition(&new, &platform);
    apply(&state.temporal.client, &def)
        .await
        .map_err(temporal_error)?;
    let stored = async {
        let txn = state.db.begin().await?;
        let mut row = old.clone().into_active_model();
        row.cron = Set(new.cron.clone());
        row.timezone = Set(new.timezone.clone());
        row.jitter_secs = Set(new.jitter_secs);
        row.catchup_window_secs = Set(new.catchup_window_secs);
        row.kind = Set(new.kind);
        row.paused = Set(new.paused);
        row.updated_at = Set(new.updated_at);
        let updated = row.update(&txn).await?;
        activity::record(
            &txn,
            caller,
            &old.account_id,
            action,
            ("schedule", &old.id),
            details,
        )
        .await?;
        txn.commit().await?;
        Ok::<_, ApiError>(updated)
    }
    .await;
    match stored {
        Ok(row) => Ok(row),
        Err(e) => {
            revert(state, &definition(&old, &platform)).await;
            Err(e)
        }
    }
}
