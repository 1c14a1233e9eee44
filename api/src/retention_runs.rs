//! Retention runs: a pass of `RetentionWorkflow` started now (`POST …/retention/runs`), or a dry
//! run answering at once what such a pass would delete, and the runs' results read back.
//!
//! A dry run reads the database only (the same plan a run makes, and the blobs only the expired
//! snapshots use), so it needs no worker and is not recorded. A real run's row is stored first,
//! then its workflow started; Temporal unreachable ends the row `failed` and answers 503.

use crate::{
    ApiTags,
    access::Caller,
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, repo, retention_run, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use std::collections::HashSet;
use workflows::retention::{RetentionInput, RetentionResult, run_workflow_id};

/// Start a retention pass over the account (or one of its sources).
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct StartRetentionRun {
    /// Only say what would be deleted; delete nothing (default false).
    pub dry_run: Option<bool>,
    /// Only this source of the account (default: every source).
    pub source_id: Option<String>,
}

impl Example for StartRetentionRun {
    fn example() -> Self {
        Self {
            dry_run: Some(true),
            source_id: None,
        }
    }
}

/// A snapshot a run deletes (or, dry, would delete).
#[derive(Object, Debug, Clone)]
pub struct ExpiredSnapshotView {
    pub snapshot_id: String,
    pub source_id: String,
    /// Why no rule keeps it.
    pub reason: String,
}

/// An expired snapshot a run kept because S3 Object Lock still retains some of its objects; a
/// run after `retained_until` deletes it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct HeldSnapshotView {
    pub snapshot_id: String,
    pub source_id: String,
    /// When the last of its objects' retention ends; absent under a legal hold, or when the
    /// store refused a delete (the snapshot may then lack its manifest; a later run finishes it).
    pub retained_until: Option<String>,
}

/// A snapshot a dry run keeps, and why: the rules that keep it (`keep_last`, `keep_daily`, …),
/// `not complete`, `latest snapshot of the source`, `parent of {id}`, `no policy`.
#[derive(Object, Debug, Clone)]
pub struct KeptSnapshotView {
    pub snapshot_id: String,
    pub source_id: String,
    pub reasons: Vec<String>,
}

/// A retention run, or a dry run's answer.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RetentionRunView {
    /// Absent for a dry run (nothing is recorded).
    pub id: Option<String>,
    pub account_id: String,
    pub source_id: Option<String>,
    pub dry_run: bool,
    /// `running`, `succeeded`, `failed`; `planned` for a dry run.
    pub status: String,
    /// `api` or `schedule`.
    pub trigger: Option<String>,
    pub requested_by: Option<String>,
    /// What the run deleted (so far empty while it runs); for a dry run, what it would delete.
    pub snapshots_deleted: Vec<ExpiredSnapshotView>,
    /// How many snapshots the policies keep.
    pub snapshots_kept: u64,
    /// Expired, but kept whole because S3 Object Lock still retains their objects (runs only:
    /// a dry run does not ask the store).
    pub snapshots_held: Vec<HeldSnapshotView>,
    /// Dry runs only: every kept snapshot with its reasons.
    pub kept: Option<Vec<KeptSnapshotView>>,
    /// Stored bytes of the deleted snapshots' parts.
    pub snapshot_bytes_freed: u64,
    /// Blobs (file contents) swept because no remaining snapshot uses them; for a dry run,
    /// those only the expired snapshots use.
    pub blobs_swept: u64,
    pub blob_bytes_freed: u64,
    /// Unused blobs kept because S3 Object Lock still retains them.
    pub blobs_held: u64,
    pub error: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The run's workflow in the Temporal Web UI.
    pub temporal_ui_url: Option<String>,
}

#[derive(ApiResponse)]
pub enum StartRetentionRunResponse {
    /// A dry run: what a run would delete now; nothing was deleted or recorded.
    #[oai(status = 200)]
    Planned(Json<RetentionRunView>),
    /// The run started; read its result at `GET /v1/retention-runs/{id}`.
    #[oai(status = 202)]
    Accepted(Json<RetentionRunView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `source_id` is not a source of the account (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached (`unavailable`); nothing was deleted.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(StartRetentionRunResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum ListRetentionRunsResponse {
    /// A page of the account's runs, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<RetentionRunView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListRetentionRunsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per request and returned at once; boxing would only add an allocation"
)]
pub enum GetRetentionRunResponse {
    #[oai(status = 200)]
    Ok(Json<RetentionRunView>),
    /// No such run (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetRetentionRunResponse { 404 => NotFound });

fn expired_view(e: workflows::retention::ExpiredSnapshot) -> ExpiredSnapshotView {
    ExpiredSnapshotView {
        snapshot_id: e.snapshot_id,
        source_id: e.source_id,
        reason: e.reason,
    }
}

fn stored_view(state: &AppState, row: retention_run::Model) -> RetentionRunView {
    let result: RetentionResult = row
        .result
        .and_then(|r| serde_json::from_value(r).ok())
        .unwrap_or_default();
    RetentionRunView {
        temporal_ui_url: Some(temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &row.workflow_id,
        )),
        id: Some(row.id),
        account_id: row.account_id,
        source_id: row.source_id,
        dry_run: false,
        status: row.status,
        trigger: Some(row.trigger),
        requested_by: Some(row.requested_by),
        snapshots_deleted: result
            .snapshots_deleted
            .into_iter()
            .map(expired_view)
            .collect(),
        snapshots_kept: result.snapshots_kept,
        snapshots_held: result
            .snapshots_held
            .into_iter()
            .map(|h| HeldSnapshotView {
                snapshot_id: h.snapshot_id,
                source_id: h.source_id,
                retained_until: h.retained_until,
            })
            .collect(),
        kept: None,
        snapshot_bytes_freed: result.snapshot_bytes_freed,
        blobs_swept: result.blobs_swept,
        blob_bytes_freed: result.blob_bytes_freed,
        blobs_held: result.blobs_held,
        error: row.error,
        created_at: Some(row.created_at),
        finished_at: row.finished_at,
    }
}

/// What a run would do now, from the database alone.
async fn dry_run(
    state: &AppState,
    account_id: &str,
    source_id: Option<String>,
) -> Result<RetentionRunView, ApiError> {
    let plan = repo::plan_retention(&state.db, account_id, source_id.as_deref()).await?;
    let removed: HashSet<String> = plan.expired.iter().map(|e| e.snapshot_id.clone()).collect();
    let (blobs, blob_bytes) =
        repo::blobs_unreferenced_without(&state.db, account_id, &removed).await?;
    let kept = plan
        .sources
        .iter()
        .flat_map(|s| {
            s.decisions
                .iter()
                .filter(|d| d.keep())
                .map(|d| KeptSnapshotView {
                    snapshot_id: d.id.clone(),
                    source_id: s.source_id.clone(),
                    reasons: repo::keep_reasons(d),
                })
        })
        .collect();
    Ok(RetentionRunView {
        id: None,
        account_id: account_id.to_owned(),
        source_id,
        dry_run: true,
        status: "planned".into(),
        trigger: None,
        requested_by: None,
        snapshot_bytes_freed: plan
            .expired
            .iter()
            .map(|e| e.stored_bytes.max(0) as u64)
            .sum(),
        snapshots_deleted: plan
            .expired
            .into_iter()
            .map(|e| {
                expired_view(workflows::retention::ExpiredSnapshot {
                    snapshot_id: e.snapshot_id,
                    source_id: e.source_id,
                    reason: e.reason,
                })
            })
            .collect(),
        snapshots_kept: plan.kept as u64,
        snapshots_held: Vec::new(),
        kept: Some(kept),
        blobs_swept: blobs,
        blob_bytes_freed: blob_bytes,
        blobs_held: 0,
        error: None,
        created_at: None,
        finished_at: None,
        temporal_ui_url: None,
    })
}

async fn start(
    state: &AppState,
    caller: &Caller,
    account_id: &str,
    source_id: Option<String>,
) -> Result<RetentionRunView, ApiError> {
    let row = repo::new_run(account_id, source_id.as_deref(), &caller.actor(), |id| {
        run_workflow_id(account_id, id)
    });
    let txn = state.db.begin().await?;
    let row = repo::create_retention_run(&txn, row).await?;
    activity::record(
        &txn,
        caller,
        account_id,
        "retention.run_requested",
        ("retention_run", &row.id),
        json!({"source_id": source_id}),
    )
    .await?;
    txn.commit().await?;
    let input = RetentionInput {
        account_id: account_id.to_owned(),
        run_id: Some(row.id.clone()),
        source_id,
    };
    if let Err(e) = temporal::start_retention(&state.temporal.client, &input).await {
        tracing::error!(run_id = %row.id, error = %e, "could not start the retention run");
        repo::finish_retention_run(
            &state.db,
            &row.id,
            None,
            Some("the workflow service was unavailable; nothing was deleted".into()),
        )
        .await?;
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the workflow service is unavailable; nothing was deleted",
        ));
    }
    Ok(stored_view(state, row))
}

pub struct RetentionRunsApi;

#[OpenApi(tag = "ApiTags::Retention")]
impl RetentionRunsApi {
    /// Runs the account's retention policies now: deletes the snapshots they expire, then the
    /// file contents no remaining snapshot uses. With `dry_run: true`, answers what would be
    /// deleted and deletes nothing. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/retention/runs",
        method = "post",
        operation_id = "startRetentionRun"
    )]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<StartRetentionRun>,
    ) -> StartRetentionRunResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            if let Some(id) = &body.source_id {
                let of_account = source::Entity::find_by_id(id)
                    .one(&state.db)
                    .await?
                    .is_some_and(|s| s.account_id == *account_id);
                if !of_account {
                    return Err(ApiError::invalid_field(
                        "source_id",
                        "`source_id` is not a source of this account",
                    ));
                }
            }
            if body.dry_run.unwrap_or(false) {
                let view = dry_run(&state, &account_id, body.source_id.clone()).await?;
                return Ok(StartRetentionRunResponse::Planned(Json(view)));
            }
            let view = start(&state, &auth.0, &account_id, body.source_id.clone()).await?;
            Ok(StartRetentionRunResponse::Accepted(Json(view)))
        })
        .await
    }

    /// The account's retention runs (from the API and its schedule), newest first. Any role.
    #[oai(
        path = "/v1/accounts/:account_id/retention/runs",
        method = "get",
        operation_id = "listRetentionRuns"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        limit: Query<Option<u64>>,
        cursor: Query<Option<String>>,
    ) -> ListRetentionRunsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = retention_run::Entity::find()
                .filter(retention_run::Column::AccountId.eq(account_id.as_str()));
            let rows = page
                .apply_desc(select, retention_run::Column::Id)
                .all(&state.db)
                .await?;
            let page = page
                .finish(rows, |r| r.id.clone())
                .map(|r| stored_view(&state, r));
            Ok(ListRetentionRunsResponse::Ok(Json(page)))
        })
        .await
    }

    /// One retention run: its status and, once it has ended, what it deleted. Any role.
    #[oai(
        path = "/v1/retention-runs/:run_id",
        method = "get",
        operation_id = "getRetentionRun"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        run_id: Path<String>,
    ) -> GetRetentionRunResponse {
        respond(async {
            let row = retention_run::Entity::find_by_id(run_id.as_str())
                .one(&state.db)
                .await?
                .filter(|r| auth.0.reaches(&r.account_id))
                .ok_or_else(|| ApiError::not_found("retention run", &run_id))?;
            Ok(GetRetentionRunResponse::Ok(Json(stored_view(&state, row))))
        })
        .await
    }
}
