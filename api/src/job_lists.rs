//! Listing jobs: an account's (optionally with its sub-accounts') and a source's, newest first,
//! filtered by source, kind, status and creation time.

use crate::{
    ApiTags,
    access::Caller,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    jobs::{JobView, stored_view},
    pagination::{Page, PageRequest},
    payload::SerdeJson,
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{JobKind, JobStatus, Role, job, repo, source};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

#[derive(ApiResponse)]
pub enum ListJobsResponse {
    /// A page of jobs, newest first (without live progress: get a job for that).
    #[oai(status = 200)]
    Ok(SerdeJson<Page<JobView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account or source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListJobsResponse { 400 => BadRequest, 404 => NotFound });

/// An RFC 3339 time parameter; a bad one is a 400 naming it.
pub(crate) fn time_param(
    field: &str,
    value: Option<&str>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_param(
                        field,
                        format!("`{field}` must be an RFC 3339 time such as 2026-01-31T09:30:00Z"),
                    )
                })
        })
        .transpose()
}

/// The filters every job list takes.
struct Filters {
    kind: Option<JobKind>,
    statuses: Vec<JobStatus>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
}

impl Filters {
    fn parse(
        kind: Option<&str>,
        status: Option<&str>,
        created_after: Option<&str>,
        created_before: Option<&str>,
    ) -> Result<Self, ApiError> {
        let kind = match kind.filter(|k| !k.is_empty()) {
            None => None,
            Some("backup") => Some(JobKind::Backup),
            Some("sync") => Some(JobKind::Sync),
            Some(_) => {
                return Err(ApiError::bad_param(
                    "kind",
                    "`kind` must be `backup` or `sync`",
                ));
            }
        };
        let mut statuses = Vec::new();
        for s in status.unwrap_or_default().split(',').map(str::trim) {
            if s.is_empty() {
                continue;
            }
            let parsed: JobStatus = serde_json::from_value(serde_json::json!(s)).map_err(|_| {
                ApiError::bad_param(
                    "status",
                    "`status` lists one or more of queued, running, needs_reauth, succeeded, failed, cancelled, separated by commas",
                )
            })?;
            statuses.push(parsed);
        }
        Ok(Self {
            kind,
            statuses,
            created_after: time_param("created_after", created_after)?,
            created_before: time_param("created_before", created_before)?,
        })
    }

    fn apply(&self, mut select: Select<job::Entity>) -> Select<job::Entity> {
        if let Some(kind) = self.kind {
            select = select.filter(job::Column::Kind.eq(kind));
        }
        if !self.statuses.is_empty() {
            select = select.filter(job::Column::Status.is_in(self.statuses.clone()));
        }
        if let Some(t) = self.created_after {
            select = select.filter(job::Column::CreatedAt.gt(t));
        }
        if let Some(t) = self.created_before {
            select = select.filter(job::Column::CreatedAt.lt(t));
        }
        select
    }
}

/// One page of the jobs `select` finds (newest first), plus the row that tells whether another
/// page follows.
async fn rows_of(
    state: &AppState,
    select: Select<job::Entity>,
    filters: &Filters,
    page: &PageRequest,
) -> Result<Vec<job::Model>, ApiError> {
    Ok(page
        .apply_desc(filters.apply(select), job::Column::Id)
        .all(&state.db)
        .await?)
}

fn page_of(state: &AppState, page: &PageRequest, rows: Vec<job::Model>) -> ListJobsResponse {
    let page = page
        .finish(rows, |j| j.id.clone())
        .map(|j| stored_view(state, j));
    ListJobsResponse::Ok(SerdeJson(page))
}

/// The accounts a list covers: the account, and with `include_sub_accounts` every account below
/// it (all of which the caller reaches with at least the same role, since access flows down).
pub(crate) async fn account_scope(
    state: &AppState,
    caller: &Caller,
    account_id: &str,
    needed: Role,
    include_sub_accounts: bool,
) -> Result<Vec<String>, ApiError> {
    caller.require(account_id, needed)?;
    if include_sub_accounts {
        Ok(repo::account_subtree(&state.db, account_id).await?)
    } else {
        Ok(vec![account_id.to_owned()])
    }
}

pub struct JobListsApi;

#[OpenApi(tag = "ApiTags::Jobs")]
impl JobListsApi {
    /// Lists an account's jobs, newest first. Only the account's own jobs unless
    /// `include_sub_accounts=true`.
    #[oai(
        path = "/v1/accounts/:account_id/jobs",
        method = "get",
        operation_id = "listAccountJobs"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list_account_jobs(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Only this source's jobs.
        source_id: Query<Option<String>>,
        /// `backup` or `sync`.
        kind: Query<Option<String>>,
        /// One or more statuses, comma-separated (`failed,cancelled`).
        status: Query<Option<String>>,
        /// Jobs created after this time (RFC 3339).
        created_after: Query<Option<String>>,
        /// Jobs created before this time (RFC 3339).
        created_before: Query<Option<String>>,
        /// Also the jobs of every sub-account below this one (default false).
        include_sub_accounts: Query<Option<bool>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListJobsResponse {
        respond(async {
            let accounts = account_scope(
                &state,
                &auth.0,
                &account_id,
                Role::Viewer,
                include_sub_accounts.0.unwrap_or(false),
            )
            .await?;
            let filters = Filters::parse(
                kind.0.as_deref(),
                status.0.as_deref(),
                created_after.0.as_deref(),
                created_before.0.as_deref(),
            )?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let mut select = job::Entity::find().filter(job::Column::AccountId.is_in(accounts));
            if let Some(source) = source_id.0.filter(|s| !s.is_empty()) {
                select = select.filter(job::Column::SourceId.eq(source));
            }
            let rows = rows_of(&state, select, &filters, &page).await?;
            Ok(page_of(&state, &page, rows))
        })
        .await
    }

    /// Lists a source's jobs, newest first.
    #[oai(
        path = "/v1/sources/:source_id/jobs",
        method = "get",
        operation_id = "listSourceJobs"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list_source_jobs(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// `backup` or `sync`.
        kind: Query<Option<String>>,
        /// One or more statuses, comma-separated (`failed,cancelled`).
        status: Query<Option<String>>,
        /// Jobs created after this time (RFC 3339).
        created_after: Query<Option<String>>,
        /// Jobs created before this time (RFC 3339).
        created_before: Query<Option<String>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListJobsResponse {
        respond(async {
            let filters = Filters::parse(
                kind.0.as_deref(),
                status.0.as_deref(),
                created_after.0.as_deref(),
                created_before.0.as_deref(),
            )?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = job::Entity::find().filter(job::Column::SourceId.eq(source_id.as_str()));
            let rows = rows_of(&state, select, &filters, &page).await?;
            // A source's jobs are its account's, so a page that holds any shows by itself
            // whether the caller reaches the source; only an empty page needs the source read
            // to tell "no jobs" from "no such source" (or not yours).
            let reached = if rows.is_empty() {
                source::Entity::find_by_id(source_id.0.as_str())
                    .one(&state.db)
                    .await?
                    .is_some_and(|s| auth.0.reaches(&s.account_id))
            } else {
                rows.iter().all(|j| auth.0.reaches(&j.account_id))
            };
            if !reached {
                return Err(ApiError::not_found("source", &source_id));
            }
            Ok(page_of(&state, &page, rows))
        })
        .await
    }
}
