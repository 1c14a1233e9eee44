//! Verifications: proof that a snapshot is still intact. Starting one runs `VerifyWorkflow` on
//! the maintenance queue, which re-reads every object the manifest lists, checks its sha256,
//! and (when the service holds the account's key) decrypts, decompresses and counts records.
//!
//! Starting needs the operator role on the snapshot's account; reading any role. Another
//! tenant's snapshot or verification is a 404. A verification that finds a damaged or missing
//! object ends `failed`, names each object, and notifies the account's webhooks
//! (`verification.failed`).

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    job_lists::account_scope,
    pagination::{Page, PageRequest},
    snapshots::{find_snapshot_as, sent_account_key},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, SnapshotStatus, account, repo, snapshot, source, verification};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};
use serde_json::json;
use storage::keys::AccountKey;
use workflows::contracts::VerifyInput;

/// A damaged or missing object.
#[derive(Object, Debug, Clone)]
pub struct VerificationProblem {
    /// The object key in the bucket (a part, a file's blob, or the manifest).
    pub key: String,
    /// `missing`, `checksum_mismatch` (size or sha256 differ from the manifest's),
    /// `unreadable` (cannot be decrypted or decompressed, or a line is not JSON) or
    /// `record_count_mismatch`.
    pub kind: String,
    /// What was found.
    pub detail: String,
}

/// One verification of a snapshot.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct VerificationView {
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    pub snapshot_id: String,
    /// `running`, then `passed`, `failed` (an object is damaged or missing: see `problems`) or
    /// `error` (the check could not be completed: see `error`).
    pub status: String,
    /// `user:{id}`, `api_key:{id}`.
    pub requested_by: String,
    /// Parts were decrypted and their records counted. `false` when the account holds its own
    /// key: then every object's size and sha256 are checked against the manifest.
    pub decrypted: bool,
    pub objects_checked: u64,
    pub bytes_checked: u64,
    pub records_counted: u64,
    /// How many objects are damaged or missing.
    pub problem_count: u64,
    /// The first 100 problems.
    pub problems: Vec<VerificationProblem>,
    /// Why the verification could not be completed.
    pub error: Option<String>,
    pub workflow_id: String,
    /// The run in the Temporal Web UI.
    pub temporal_ui_url: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Example for VerificationView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-c1a2-7b3c-8d4e-5f6a7b8c9d0e".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            source_id: "019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a".into(),
            snapshot_id: "019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59".into(),
            status: "failed".into(),
            requested_by: "api_key:019b76da-ab12-7c34-9d56-7e8f9a0b1c2d".into(),
            decrypted: true,
            objects_checked: 12,
            bytes_checked: 1_048_576,
            records_counted: 10_200,
            problem_count: 1,
            problems: vec![VerificationProblem {
                key: "accounts/019b76da-a800-7a3c-9e0d-5f2a41b8c6d3/sources/019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a/snapshots/019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59/streams/customers/part-00003.jsonl.zst.age".into(),
                kind: "checksum_mismatch".into(),
                detail: "sha256 5c2f…, 9a41… recorded".into(),
            }],
            error: None,
            workflow_id: "verify/019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59/019b76da-c1a2-7b3c-8d4e-5f6a7b8c9d0e".into(),
            temporal_ui_url: "http://127.0.0.1:8233/namespaces/default/workflows/verify%2F019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59%2F019b76da-c1a2-7b3c-8d4e-5f6a7b8c9d0e".into(),
            created_at: at,
            finished_at: Some(at + chrono::Duration::seconds(4)),
        }
    }
}

fn view(state: &AppState, row: verification::Model) -> VerificationView {
    let problems = serde_json::from_value::<Vec<serde_json::Value>>(row.problems.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| VerificationProblem {
            key: p["key"].as_str().unwrap_or_default().to_owned(),
            kind: p["kind"].as_str().unwrap_or_default().to_owned(),
            detail: p["detail"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    VerificationView {
        temporal_ui_url: temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &row.workflow_id,
        ),
        id: row.id,
        account_id: row.account_id,
        source_id: row.source_id,
        snapshot_id: row.snapshot_id,
        status: row.status,
        requested_by: row.requested_by,
        decrypted: row.decrypted,
        objects_checked: row.objects_checked.max(0) as u64,
        bytes_checked: row.bytes_checked.max(0) as u64,
        records_counted: row.records_counted.max(0) as u64,
        problem_count: row.problem_count.max(0) as u64,
        problems,
        error: row.error,
        workflow_id: row.workflow_id,
        created_at: row.created_at,
        finished_at: row.finished_at,
    }
}

/// A verification's status, to filter lists by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "VerificationStatus", rename_all = "lowercase")]
pub enum StatusFilter {
    Running,
    Passed,
    Failed,
    Error,
}

impl StatusFilter {
    fn as_str(self) -> &'static str {
        match self {
            Self::Running => verification::RUNNING,
            Self::Passed => verification::PASSED,
            Self::Failed => verification::FAILED,
            Self::Error => verification::ERROR,
        }
    }
}

#[derive(ApiResponse)]
pub enum StartVerificationResponse {
    /// The verification is running; follow it with `GET /v1/verifications/{id}`.
    #[oai(status = 202)]
    Accepted(Json<VerificationView>),
    /// The key sent in `X-Listbackup-Identity` is not an age identity, or not the account's
    /// (`invalid_request`, `details.field` names the header).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The caller's role may not start verifications (operator or above).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such snapshot (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot is not complete (`snapshot_not_complete`, `details.status`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service is unavailable; nothing was started.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(StartVerificationResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum GetVerificationResponse {
    #[oai(status = 200)]
    Ok(Json<VerificationView>),
    /// No such verification (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetVerificationResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum ListVerificationsResponse {
    /// A page of verifications, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<VerificationView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot or account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListVerificationsResponse { 400 => BadRequest, 404 => NotFound });

async fn page_of(
    state: &AppState,
    select: Select<verification::Entity>,
    status: Option<StatusFilter>,
    limit: Option<u64>,
    cursor: Option<String>,
) -> Result<ListVerificationsResponse, ApiError> {
    let page = PageRequest::parse(limit, cursor)?;
    let select = match status {
        Some(s) => select.filter(verification::Column::Status.eq(s.as_str())),
        None => select,
    };
    let rows = page
        .apply_desc(select, verification::Column::Id)
        .all(&state.db)
        .await?;
    let page = page.finish(rows, |v| v.id.clone()).map(|v| view(state, v));
    Ok(ListVerificationsResponse::Ok(Json(page)))
}

/// Starts verifying `snap` on behalf of `requested_by`: the row, then the workflow. If the
/// workflow cannot be started the row ends `error` and the answer is 503.
pub(crate) async fn start_verification(
    state: &AppState,
    snap: &snapshot::Model,
    requested_by: &str,
    key: Option<AccountKey>,
) -> Result<verification::Model, ApiError> {
    if snap.status != SnapshotStatus::Complete {
        let status = crate::snapshots::status_name(snap.status);
        return Err(ApiError::conflict(
            "snapshot_not_complete",
            format!(
                "snapshot {} is {status}: only a complete snapshot can be verified",
                snap.id
            ),
        )
        .with_details(json!({"status": status})));
    }
    let platform = source::Entity::find_by_id(&snap.source_id)
        .one(&state.db)
        .await?
        .map(|s| s.platform)
        .unwrap_or_default();
    let row = repo::create_verification(&state.db, snap, requested_by, None).await?;
    let key_queue = state.hold_key(&row.id, key);
    let input = VerifyInput {
        verification_id: row.id.clone(),
        account_id: row.account_id.clone(),
        source_id: row.source_id.clone(),
        snapshot_id: row.snapshot_id.clone(),
        key_queue,
    };
    match temporal::start_verification(&state.temporal.client, &row.workflow_id, &platform, &input)
        .await
    {
        Ok(run_id) => {
            if let Err(e) = repo::set_verification_run(&state.db, &row.id, &run_id).await {
                tracing::warn!(verification_id = %row.id, error = %e, "could not record the run id");
            }
        }
        Err(e) => {
            state.release_key(&row.id);
            tracing::error!(verification_id = %row.id, error = %e, "could not start the verification");
            let outcome = repo::VerificationOutcome {
                error: Some(format!("not started: {e}")),
                ..Default::default()
            };
            let _ = repo::finish_verification(&state.db, &row.id, &outcome).await;
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the workflow service is unavailable; the verification was not started",
            ));
        }
    }
    repo::log_activity(
        &state.db,
        &row.account_id,
        requested_by,
        "verification.requested",
        ("snapshot", &row.snapshot_id),
        json!({"verification_id": row.id}),
    )
    .await?;
    Ok(verification::Entity::find_by_id(&row.id)
        .one(&state.db)
        .await?
        .unwrap_or(row))
}

pub struct VerificationsApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl VerificationsApi {
    /// Starts verifying a complete snapshot: every object it lists is read back and checked
    /// against the manifest's size and sha256, and with the account's key decrypted,
    /// decompressed and its records counted. Needs the operator role.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/verifications",
        method = "post",
        operation_id = "startVerification"
    )]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key, to have its parts decrypted and records
        /// counted too: its age identity, held in this API process's memory until the checks
        /// are done, never stored. Without it such an account's snapshot is checked by sha256.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
    ) -> StartVerificationResponse {
        respond(async {
            let snap = find_snapshot_as(&state, &auth.0, &snapshot_id, Role::Operator).await?;
            let key = match key.0.as_deref() {
                None => None,
                Some(text) => {
                    let acct = account::Entity::find_by_id(&snap.account_id)
                        .one(&state.db)
                        .await?
                        .ok_or_else(|| ApiError::internal("the snapshot's account is gone"))?;
                    // The service decrypts with its own key where it holds one.
                    match (&acct.encryption_identity_sealed, &state.key_holder) {
                        (None, Some(_)) => Some(sent_account_key(&acct, text)?),
                        _ => None,
                    }
                }
            };
            let row = start_verification(&state, &snap, &auth.0.actor(), key).await?;
            Ok(StartVerificationResponse::Accepted(Json(view(&state, row))))
        })
        .await
    }

    /// Lists a snapshot's verifications, newest first.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/verifications",
        method = "get",
        operation_id = "listSnapshotVerifications"
    )]
    async fn list_for_snapshot(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        snapshot_id: Path<String>,
        /// Only verifications with this status.
        status: Query<Option<StatusFilter>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListVerificationsResponse {
        respond(async {
            let snap = find_snapshot_as(&state, &auth.0, &snapshot_id, Role::Viewer).await?;
            let select =
                verification::Entity::find().filter(verification::Column::SnapshotId.eq(&snap.id));
            page_of(&state, select, status.0, limit.0, cursor.0).await
        })
        .await
    }

    /// Lists an account's verifications, newest first (e.g. `?status=failed`).
    #[oai(
        path = "/v1/accounts/:account_id/verifications",
        method = "get",
        operation_id = "listAccountVerifications"
    )]
    async fn list_for_account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Only verifications with this status.
        status: Query<Option<StatusFilter>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListVerificationsResponse {
        respond(async {
            let accounts = account_scope(&state, &auth.0, &account_id, Role::Viewer, false).await?;
            let select = verification::Entity::find()
                .filter(verification::Column::AccountId.is_in(accounts));
            page_of(&state, select, status.0, limit.0, cursor.0).await
        })
        .await
    }

    /// Gets a verification: its status, counts and the damaged or missing objects.
    #[oai(
        path = "/v1/verifications/:verification_id",
        method = "get",
        operation_id = "getVerification"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        verification_id: Path<String>,
    ) -> GetVerificationResponse {
        respond(async {
            let row = verification::Entity::find_by_id(verification_id.0.as_str())
                .one(&state.db)
                .await?
                .filter(|v| auth.0.reaches(&v.account_id))
                .ok_or_else(|| ApiError::not_found("verification", &verification_id))?;
            auth.0.require(&row.account_id, Role::Viewer)?;
            Ok(GetVerificationResponse::Ok(Json(view(&state, row))))
        })
        .await
    }
}
