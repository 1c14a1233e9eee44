//! Exports: chosen snapshots and streams of an account written into one archive (tar + zstd;
//! JSON Lines or CSV per stream, files as they were), downloadable through a pre-signed link
//! until it expires. Each export runs `ExportWorkflow` on the export task queue.
//!
//! Starting and deleting one needs the operator role; reading any role. Another tenant's export
//! or account is a 404.

use crate::snapshots::{IDENTITY_HEADER, sent_account_key};
use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    job_lists::account_scope,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, SnapshotStatus, account, export, repo, snapshot};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use std::time::Duration;
use storage::keys::AccountKey;
use workflows::contracts::ExportInput;

/// How many snapshots one export may hold.
const MAX_SNAPSHOTS: usize = 50;
/// How long a download link is valid at most.
const LINK_TTL: Duration = Duration::from_secs(3600);

/// How each stream is written into the archive.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename = "ExportFormat", rename_all = "lowercase")]
pub enum FormatName {
    /// JSON Lines, byte for byte as stored (`{snapshot_id}/{stream}.jsonl`).
    #[default]
    Jsonl,
    /// CSV with a header row, one column per top-level field (`id` first), nested values as
    /// JSON text (`{snapshot_id}/{stream}.csv`).
    Csv,
}

impl FormatName {
    fn as_str(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
        }
    }
}

/// A new export.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateExport {
    /// 1 to 50 complete snapshots of this account, in the order the archive holds them.
    pub snapshot_ids: Vec<String>,
    /// Only these streams (of any of the snapshots); all when absent.
    pub streams: Option<Vec<String>>,
    pub format: Option<FormatName>,
    /// Put the files the records refer to (Drive, Dropbox, Slack) in the archive, under
    /// `files/{sha256}` (default true).
    pub include_files: Option<bool>,
    /// 1 to 30 (default 7): how many days the archive is kept before it is deleted.
    pub keep_days: Option<u32>,
}

impl Example for CreateExport {
    fn example() -> Self {
        Self {
            snapshot_ids: vec!["019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59".into()],
            streams: Some(vec!["customers".into(), "invoices".into()]),
            format: Some(FormatName::Csv),
            include_files: None,
            keep_days: None,
        }
    }
}

/// An export and, once written, where to download it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ExportView {
    pub id: String,
    pub account_id: String,
    /// `running`, `succeeded`, `failed`; `expired` or `deleted` once the archive is gone.
    pub status: String,
    /// `jsonl` or `csv`.
    pub format: String,
    pub include_files: bool,
    pub snapshot_ids: Vec<String>,
    pub streams: Option<Vec<String>>,
    /// Records written (so far, while running).
    pub records: u64,
    /// Files written.
    pub files: u64,
    /// Compressed bytes stored (so far, while running).
    pub size_bytes: u64,
    /// Why it failed.
    pub error: Option<String>,
    pub requested_by: String,
    pub workflow_id: String,
    /// The run in the Temporal Web UI.
    pub temporal_ui_url: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the archive is deleted.
    pub expires_at: DateTime<Utc>,
    /// A link that downloads the archive (`.tar.zst`, or `.tar.zst.age` encrypted to the key of
    /// an account that holds its own) without credentials, until
    /// `download_expires_at`; present while `status` is `succeeded`. Ask again for a fresh one.
    pub download_url: Option<String>,
    pub download_expires_at: Option<DateTime<Utc>>,
}

impl Example for ExportView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-d1e2-7f30-8a4b-5c6d7e8f9a0b".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            status: "succeeded".into(),
            format: "csv".into(),
            include_files: true,
            snapshot_ids: vec!["019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59".into()],
            streams: Some(vec!["customers".into(), "invoices".into()]),
            records: 10_250,
            files: 0,
            size_bytes: 1_048_576,
            error: None,
            requested_by: "user:019b76da-a9c1-7d2e-8f3a-4b5c6d7e8f90".into(),
            workflow_id: "export/019b76da-d1e2-7f30-8a4b-5c6d7e8f9a0b".into(),
            temporal_ui_url: "http://127.0.0.1:8233/namespaces/default/workflows/export%2F019b76da-d1e2-7f30-8a4b-5c6d7e8f9a0b".into(),
            created_at: at,
            finished_at: Some(at + chrono::Duration::seconds(12)),
            expires_at: at + chrono::Duration::days(7),
            download_url: Some("https://backups.s3.amazonaws.com/accounts/019b76da-a800-7a3c-9e0d-5f2a41b8c6d3/exports/019b76da-d1e2-7f30-8a4b-5c6d7e8f9a0b.tar.zst?X-Amz-Signature=…".into()),
            download_expires_at: Some(at + chrono::Duration::hours(1)),
        }
    }
}

#[derive(ApiResponse)]
pub enum StartExportResponse {
    /// The export is being written; follow it with `GET /v1/exports/{id}`.
    #[oai(status = 202)]
    Accepted(Json<Box<ExportView>>),
    /// The body cannot be read (`invalid_request`), or the key sent in
    /// `X-Listbackup-Identity` is not an age identity or not the account's (`invalid_request`,
    /// `details.field` names the header).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The caller's role may not start exports (operator or above).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A snapshot is not complete (`snapshot_not_complete`), or the account holds its own key
    /// and did not send it (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it): no snapshots or too
    /// many, an unknown snapshot, a stream none of them has, `keep_days` out of range.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service is unavailable; nothing was started.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(StartExportResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum GetExportResponse {
    #[oai(status = 200)]
    Ok(Json<Box<ExportView>>),
    /// No such export (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot sign a download link.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(GetExportResponse { 404 => NotFound, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum ListExportsResponse {
    /// A page of the account's exports, newest first (without download links).
    #[oai(status = 200)]
    Ok(Json<Page<ExportView>>),
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
error_responses!(ListExportsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum DeleteExportResponse {
    /// The archive is deleted (or was already gone); the export stays listed as `deleted`.
    #[oai(status = 204)]
    Deleted,
    /// The caller's role may not delete exports (operator or above).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such export (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The export is still being written (`export_running`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached; nothing was deleted.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(DeleteExportResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

fn unavailable(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "{what} failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("{what} is unavailable; try again"),
    )
}

/// The export as stored, without a download link.
fn view(state: &AppState, row: export::Model) -> ExportView {
    ExportView {
        temporal_ui_url: temporal::web_ui_link(
            &state.temporal.ui_base,
            &state.temporal.namespace,
            &row.workflow_id,
        ),
        snapshot_ids: repo::export_snapshot_ids(&row),
        streams: repo::export_streams(&row),
        id: row.id,
        account_id: row.account_id,
        status: row.status,
        format: row.format,
        include_files: row.include_files,
        records: row.records.max(0) as u64,
        files: row.files.max(0) as u64,
        size_bytes: row.size_bytes.max(0) as u64,
        error: row.error,
        requested_by: row.requested_by,
        workflow_id: row.workflow_id,
        created_at: row.created_at,
        finished_at: row.finished_at,
        expires_at: row.expires_at,
        download_url: None,
        download_expires_at: None,
    }
}

/// The export `id` if the caller reaches its account with `role`; 404 otherwise.
async fn find(
    state: &AppState,
    caller: &crate::access::Caller,
    id: &str,
    role: Role,
) -> Result<export::Model, ApiError> {
    let row = export::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|e| caller.reaches(&e.account_id))
        .ok_or_else(|| ApiError::not_found("export", id))?;
    caller.require(&row.account_id, role)?;
    Ok(row)
}

/// The export's object key.
/// Where the archive goes; `.age` when it is encrypted to an account that holds its own key.
fn object_key(account_id: &str, export_id: &str, sealed: bool) -> String {
    format!(
        "{}exports/{export_id}.tar.zst{}",
        storage::layout::account_prefix(account_id),
        if sealed { ".age" } else { "" }
    )
}

/// The key an account that holds its own key sent with an export request; this process must
/// be able to hold it.
fn customer_key(
    state: &AppState,
    acct: &account::Model,
    sent: Option<&str>,
) -> Result<AccountKey, ApiError> {
    if state.key_holder.is_none() {
        return Err(ApiError::conflict(
            "key_not_held",
            "this account holds its own key and this server takes no keys for exports; \
             restore the snapshots with `age -d -i <your key>`",
        ));
    }
    let Some(text) = sent else {
        return Err(ApiError::conflict(
            "key_not_held",
            format!(
                "this account holds its own key: send it in `{IDENTITY_HEADER}` to export (it \
                 is held in memory until the archive is built, and the archive is encrypted \
                 to your key)"
            ),
        ));
    };
    sent_account_key(acct, text)
}

/// Checks a request against the account's snapshots; returns the snapshot ids and streams.
async fn check_request(
    state: &AppState,
    account_id: &str,
    body: &CreateExport,
) -> Result<(), ApiError> {
    let ids = &body.snapshot_ids;
    if ids.is_empty() || ids.len() > MAX_SNAPSHOTS {
        return Err(ApiError::invalid_field(
            "snapshot_ids",
            format!("`snapshot_ids` lists 1 to {MAX_SNAPSHOTS} snapshots"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut streams = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(ApiError::invalid_field(
                "snapshot_ids",
                format!("`snapshot_ids` lists {id} twice"),
            ));
        }
        let snap = snapshot::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .filter(|s| s.account_id == account_id)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "snapshot_ids",
                    format!("snapshot {id} is not a snapshot of this account"),
                )
            })?;
        let Some(key) = snap
            .manifest_key
            .filter(|_| snap.status == SnapshotStatus::Complete)
        else {
            let status = crate::snapshots::status_name(snap.status);
            return Err(ApiError::conflict(
                "snapshot_not_complete",
                format!("snapshot {id} is {status}: only complete snapshots can be exported"),
            )
            .with_details(json!({"status": status, "snapshot_id": id})));
        };
        let manifest = storage::reader::read_manifest(&state.store, &key)
            .await
            .map_err(|e| unavailable("the object store", e))?;
        streams.extend(manifest.streams.into_iter().map(|s| s.name));
    }
    if let Some(wanted) = &body.streams {
        let unknown: Vec<&String> = wanted.iter().filter(|s| !streams.contains(*s)).collect();
        if wanted.is_empty() || !unknown.is_empty() {
            return Err(ApiError::invalid_field(
                "streams",
                "`streams` must name one or more streams of the chosen snapshots",
            )
            .with_details(json!({"field": "streams", "unknown": unknown})));
        }
    }
    if !(1..=30).contains(&body.keep_days.unwrap_or(7)) {
        return Err(ApiError::invalid_field(
            "keep_days",
            "`keep_days` is 1 to 30",
        ));
    }
    Ok(())
}

pub struct ExportsApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl ExportsApi {
    /// Starts an export of complete snapshots of the account into one archive. Needs the
    /// operator role.
    #[oai(
        path = "/v1/accounts/:account_id/exports",
        method = "post",
        operation_id = "startExport"
    )]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// For an account that holds its own key: its age identity. It is held in this API
        /// process's memory until the archive is built (at most 13 hours), never stored; the
        /// archive is encrypted to the account's recipient.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        body: Json<CreateExport>,
    ) -> StartExportResponse {
        respond(async {
            auth.0.require(&account_id, Role::Operator)?;
            let acct = account::Entity::find_by_id(account_id.0.as_str())
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::not_found("account", &account_id))?;
            let held = match acct.encryption_identity_sealed {
                Some(_) => None,
                None => Some(customer_key(&state, &acct, key.0.as_deref())?),
            };
            check_request(&state, &acct.id, &body).await?;
            let keep = chrono::Duration::days(i64::from(body.keep_days.unwrap_or(7)));
            let new = repo::NewExport {
                account_id: acct.id.clone(),
                requested_by: auth.0.actor(),
                format: body.format.unwrap_or_default().as_str().to_owned(),
                include_files: body.include_files.unwrap_or(true),
                snapshot_ids: body.snapshot_ids.clone(),
                streams: body.streams.clone(),
                expires_at: Utc::now() + keep,
            };
            let sealed = held.is_some();
            let row =
                repo::create_export(&state.db, new, |id| object_key(&acct.id, id, sealed)).await?;
            let key_queue = state.hold_key(&row.id, held);
            let input = ExportInput {
                export_id: row.id.clone(),
                account_id: row.account_id.clone(),
                keep_secs: keep.num_seconds().max(0) as u64,
                key_queue,
            };
            match temporal::start_export(&state.temporal.client, &row.workflow_id, &input).await {
                Ok(run_id) => {
                    if let Err(e) = repo::set_export_run(&state.db, &row.id, &run_id).await {
                        tracing::warn!(export_id = %row.id, error = %e, "could not record the run id");
                    }
                }
                Err(e) => {
                    state.release_key(&row.id);
                    let _ = repo::finish_export(&state.db, &row.id, Err(format!("not started: {e}")))
                        .await;
                    return Err(unavailable("the workflow service", e));
                }
            }
            repo::log_activity(
                &state.db,
                &row.account_id,
                &auth.0.actor(),
                "export.requested",
                ("export", &row.id),
                json!({"snapshot_ids": body.snapshot_ids, "format": row.format}),
            )
            .await?;
            Ok(StartExportResponse::Accepted(Json(Box::new(view(&state, row)))))
        })
        .await
    }

    /// Lists the account's exports, newest first.
    #[oai(
        path = "/v1/accounts/:account_id/exports",
        method = "get",
        operation_id = "listExports"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListExportsResponse {
        respond(async {
            let accounts = account_scope(&state, &auth.0, &account_id, Role::Viewer, false).await?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = export::Entity::find().filter(export::Column::AccountId.is_in(accounts));
            let rows = page
                .apply_desc(select, export::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |e| e.id.clone()).map(|e| view(&state, e));
            Ok(ListExportsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets an export; once it succeeded, with a fresh download link.
    #[oai(
        path = "/v1/exports/:export_id",
        method = "get",
        operation_id = "getExport"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        export_id: Path<String>,
    ) -> GetExportResponse {
        respond(async {
            let row = find(&state, &auth.0, &export_id, Role::Viewer).await?;
            let key = row.object_key.clone();
            let ready = row.status == export::SUCCEEDED;
            let until_expiry = (row.expires_at - Utc::now()).to_std().unwrap_or_default();
            let mut out = view(&state, row);
            if ready && !until_expiry.is_zero() {
                let ttl = LINK_TTL.min(until_expiry).max(Duration::from_secs(1));
                let url = state
                    .store
                    .presigned_get(&key, ttl)
                    .await
                    .map_err(|e| unavailable("the object store", e))?;
                out.download_url = Some(url);
                out.download_expires_at = chrono::Duration::from_std(ttl)
                    .ok()
                    .map(|ttl| Utc::now() + ttl);
            }
            Ok(GetExportResponse::Ok(Json(Box::new(out))))
        })
        .await
    }

    /// Deletes an export's archive now, before it expires. Needs the operator role.
    #[oai(
        path = "/v1/exports/:export_id",
        method = "delete",
        operation_id = "deleteExport"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        export_id: Path<String>,
    ) -> DeleteExportResponse {
        respond(async {
            let row = find(&state, &auth.0, &export_id, Role::Operator).await?;
            if row.status == export::RUNNING {
                return Err(ApiError::conflict(
                    "export_running",
                    format!(
                        "export {} is still being written; delete it once it has finished",
                        row.id
                    ),
                ));
            }
            state
                .store
                .delete(&row.object_key)
                .await
                .map_err(|e| unavailable("the object store", e))?;
            if repo::end_export_archive(&state.db, &row.id, export::DELETED)
                .await?
                .is_some()
            {
                repo::log_activity(
                    &state.db,
                    &row.account_id,
                    &auth.0.actor(),
                    "export.deleted",
                    ("export", &row.id),
                    json!({}),
                )
                .await?;
            }
            Ok(DeleteExportResponse::Deleted)
        })
        .await
    }
}
