//! Source groups: named sets of an account's sources, to back up or sync many sources with one
//! call. A group and its sources are always of the same account; a source may be in several
//! groups. Deleting a group leaves its sources alone.

use crate::{
    ApiTags, activity,
    auth::BearerAuth,
    backups::{JobStarted, start_job},
    error::{ApiError, ErrorEnvelope, is_unique_violation, respond},
    error_responses,
    idempotency::{self, Begin},
    input::Name,
    pagination::{Page, PageRequest},
    sources::{SourceView, find_source, view as source_view},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{JobKind, Role, repo, source, source_group, source_group_member};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};
use serde_json::json;

/// A source group.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct SourceGroupView {
    pub id: String,
    pub account_id: String,
    /// Unique in the account.
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for SourceGroupView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-afd3-7d19-b2c3-5a7e9f1b3c48".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            name: "nightly".into(),
            created_at: at,
            updated_at: at,
        }
    }
}

fn view(g: source_group::Model) -> SourceGroupView {
    SourceGroupView {
        id: g.id,
        account_id: g.account_id,
        name: g.name,
        created_at: g.created_at,
        updated_at: g.updated_at,
    }
}

/// A new group, or a group's new name.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct SourceGroupName {
    /// 1 to 200 characters, unique in the account.
    pub name: String,
}

impl Example for SourceGroupName {
    fn example() -> Self {
        Self {
            name: "nightly".into(),
        }
    }
}

/// A source to add to a group.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct AddGroupSource {
    /// A source of the group's account.
    pub source_id: String,
}

/// What starting a job did for one source of a group.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupJobOutcome {
    pub source_id: String,
    /// `started`, `conflict` (the source has an active job: `job_id` names it) or `error`.
    pub outcome: String,
    /// The job started, or the active job in the way.
    #[oai(skip_serializing_if_is_none)]
    pub job_id: Option<String>,
    /// The started job.
    #[oai(skip_serializing_if_is_none)]
    pub job: Option<JobStarted>,
    /// Why nothing was started, as the error code and message a single start would answer.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<GroupJobError>,
}

/// An error of one source's start.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupJobError {
    pub code: String,
    pub message: String,
}

/// The outcome of starting a group's jobs, one entry per member source.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupJobsStarted {
    pub group_id: String,
    /// `backup` or `sync`.
    pub kind: String,
    pub results: Vec<GroupJobOutcome>,
}

#[derive(ApiResponse)]
pub enum CreateSourceGroupResponse {
    #[oai(status = 201)]
    Created(Json<SourceGroupView>),
    /// The body could not be read.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A group of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// `name` is not acceptable (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateSourceGroupResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListSourceGroupsResponse {
    /// A page of groups, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<SourceGroupView>>),
    /// A parameter could not be read.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListSourceGroupsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetSourceGroupResponse {
    #[oai(status = 200)]
    Ok(Json<SourceGroupView>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetSourceGroupResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum RenameSourceGroupResponse {
    #[oai(status = 200)]
    Ok(Json<SourceGroupView>),
    /// The body could not be read.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Another group of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// `name` is not acceptable (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RenameSourceGroupResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum DeleteSourceGroupResponse {
    /// Deleted; its sources stay.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(DeleteSourceGroupResponse { 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum ListGroupSourcesResponse {
    /// A page of the group's sources, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<SourceView>>),
    /// A parameter could not be read.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListGroupSourcesResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum AddGroupSourceResponse {
    /// The source is in the group (adding it again changes nothing).
    #[oai(status = 204)]
    Added,
    /// The body could not be read.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `source_id` is not a source of the group's account (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(AddGroupSourceResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum RemoveGroupSourceResponse {
    /// The source is no longer in the group; the source itself stays.
    #[oai(status = 204)]
    Removed,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such group (or not yours), or the source is not in it.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RemoveGroupSourceResponse { 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum StartGroupJobsResponse {
    /// One outcome per member source: a job started, the active job in the way, or the error.
    /// One source's failure does not stop the others.
    #[oai(status = 202)]
    Accepted(Json<GroupJobsStarted>),
    /// A bad `Idempotency-Key`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs operator.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such group (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A request with this `Idempotency-Key` is still being answered (`idempotency_key_in_use`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The `Idempotency-Key` was used for a different request (`idempotency_key_reused`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(StartGroupJobsResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

/// The group `id` if the caller reaches its account; 404 otherwise.
async fn find_group(
    db: &impl ConnectionTrait,
    caller: &crate::access::Caller,
    id: &str,
) -> Result<source_group::Model, ApiError> {
    source_group::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|g| caller.reaches(&g.account_id))
        .ok_or_else(|| ApiError::not_found("source group", id))
}

fn duplicate_name(e: sea_orm::DbErr) -> ApiError {
    ApiError::name_taken(e, "a source group of this account has that name already")
}

pub struct SourceGroupsApi;

#[OpenApi(tag = "ApiTags::SourceGroups")]
impl SourceGroupsApi {
    /// Creates an empty source group. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/source-groups",
        method = "post",
        operation_id = "createSourceGroup"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<SourceGroupName>,
    ) -> CreateSourceGroupResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let name = Name::parse("name", &body.name)?;
            let now = Utc::now();
            let txn = state.db.begin().await?;
            let group = source_group::ActiveModel {
                id: Set(entities::new_id()),
                account_id: Set(account_id.0.clone()),
                name: Set(name.into_string()),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(duplicate_name)?;
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "source_group.created",
                ("source_group", &group.id),
                json!({"name": group.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(CreateSourceGroupResponse::Created(Json(view(group))))
        })
        .await
    }

    /// Lists the account's source groups, oldest first.
    #[oai(
        path = "/v1/accounts/:account_id/source-groups",
        method = "get",
        operation_id = "listSourceGroups"
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
    ) -> ListSourceGroupsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = source_group::Entity::find()
                .filter(source_group::Column::AccountId.eq(account_id.0.as_str()));
            let rows = page
                .apply(select, source_group::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |g| g.id.clone()).map(view);
            Ok(ListSourceGroupsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets a source group.
    #[oai(
        path = "/v1/source-groups/:group_id",
        method = "get",
        operation_id = "getSourceGroup"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
    ) -> GetSourceGroupResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            Ok(GetSourceGroupResponse::Ok(Json(view(group))))
        })
        .await
    }

    /// Renames a source group. Needs admin.
    #[oai(
        path = "/v1/source-groups/:group_id",
        method = "patch",
        operation_id = "renameSourceGroup"
    )]
    async fn rename(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        body: Json<SourceGroupName>,
    ) -> RenameSourceGroupResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            auth.0.require(&group.account_id, Role::Admin)?;
            let name = Name::parse("name", &body.name)?.into_string();
            let txn = state.db.begin().await?;
            let updated = source_group::ActiveModel {
                id: Set(group.id.clone()),
                name: Set(name),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .update(&txn)
            .await
            .map_err(duplicate_name)?;
            activity::record(
                &txn,
                &auth.0,
                &group.account_id,
                "source_group.updated",
                ("source_group", &group.id),
                json!({"name": updated.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(RenameSourceGroupResponse::Ok(Json(view(updated))))
        })
        .await
    }

    /// Deletes a source group; its sources stay. Needs admin.
    #[oai(
        path = "/v1/source-groups/:group_id",
        method = "delete",
        operation_id = "deleteSourceGroup"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
    ) -> DeleteSourceGroupResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            auth.0.require(&group.account_id, Role::Admin)?;
            let txn = state.db.begin().await?;
            source_group_member::Entity::delete_many()
                .filter(source_group_member::Column::GroupId.eq(group.id.as_str()))
                .exec(&txn)
                .await?;
            repo::forget_client_grant_target(&txn, repo::TARGET_SOURCE_GROUP, &group.id).await?;
            let deleted = source_group::Entity::delete_by_id(group.id.as_str())
                .exec(&txn)
                .await?;
            if deleted.rows_affected == 0 {
                return Err(ApiError::not_found("source group", &group_id));
            }
            activity::record(
                &txn,
                &auth.0,
                &group.account_id,
                "source_group.deleted",
                ("source_group", &group.id),
                json!({"name": group.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteSourceGroupResponse::Deleted)
        })
        .await
    }

    /// Lists the sources in a group, oldest first.
    #[oai(
        path = "/v1/source-groups/:group_id/sources",
        method = "get",
        operation_id = "listGroupSources"
    )]
    async fn sources(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListGroupSourcesResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let ids = member_ids(&state.db, &group.id).await?;
            let select = source::Entity::find()
                .filter(source::Column::Id.is_in(ids))
                .filter(source::Column::AccountId.eq(group.account_id.as_str()));
            let rows = page
                .apply(select, source::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |s| s.id.clone()).map(source_view);
            Ok(ListGroupSourcesResponse::Ok(Json(page)))
        })
        .await
    }

    /// Adds a source of the group's account to the group. Needs admin.
    #[oai(
        path = "/v1/source-groups/:group_id/sources",
        method = "post",
        operation_id = "addGroupSource"
    )]
    async fn add_source(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        body: Json<AddGroupSource>,
    ) -> AddGroupSourceResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            auth.0.require(&group.account_id, Role::Admin)?;
            let src = source::Entity::find_by_id(body.source_id.as_str())
                .one(&state.db)
                .await?
                .filter(|s| s.account_id == group.account_id)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "source_id",
                        format!("no source {} in the group's account", body.source_id),
                    )
                })?;
            let txn = state.db.begin().await?;
            let already =
                source_group_member::Entity::find_by_id((group.id.clone(), src.id.clone()))
                    .one(&txn)
                    .await?
                    .is_some();
            if !already {
                let inserted = source_group_member::ActiveModel {
                    group_id: Set(group.id.clone()),
                    source_id: Set(src.id.clone()),
                    created_at: Set(Utc::now()),
                }
                .insert(&txn)
                .await;
                match inserted {
                    // Added at the same moment by another request: the same outcome.
                    Err(e) if is_unique_violation(&e) => return Ok(AddGroupSourceResponse::Added),
                    other => drop(other?),
                }
                activity::record(
                    &txn,
                    &auth.0,
                    &group.account_id,
                    "source_group.source_added",
                    ("source_group", &group.id),
                    json!({"source_id": src.id}),
                )
                .await?;
                txn.commit().await?;
            }
            Ok(AddGroupSourceResponse::Added)
        })
        .await
    }

    /// Removes a source from a group; the source itself stays. Needs admin.
    #[oai(
        path = "/v1/source-groups/:group_id/sources/:source_id",
        method = "delete",
        operation_id = "removeGroupSource"
    )]
    async fn remove_source(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        source_id: Path<String>,
    ) -> RemoveGroupSourceResponse {
        respond(async {
            let group = find_group(&state.db, &auth.0, &group_id).await?;
            auth.0.require(&group.account_id, Role::Admin)?;
            let txn = state.db.begin().await?;
            let removed = source_group_member::Entity::delete_many()
                .filter(source_group_member::Column::GroupId.eq(group.id.as_str()))
                .filter(source_group_member::Column::SourceId.eq(source_id.0.as_str()))
                .exec(&txn)
                .await?;
            if removed.rows_affected == 0 {
                return Err(ApiError::not_found("source in this group", &source_id));
            }
            activity::record(
                &txn,
                &auth.0,
                &group.account_id,
                "source_group.source_removed",
                ("source_group", &group.id),
                json!({"source_id": source_id.0}),
            )
            .await?;
            txn.commit().await?;
            Ok(RemoveGroupSourceResponse::Removed)
        })
        .await
    }

    /// Starts a full backup of every source in the group. Needs operator; takes an
    /// `Idempotency-Key` (within 24 hours the same key answers with the same outcomes).
    #[oai(
        path = "/v1/source-groups/:group_id/backups",
        method = "post",
        operation_id = "startGroupBackups"
    )]
    async fn start_backups(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> StartGroupJobsResponse {
        let key = idempotency_key.0.as_deref();
        respond(start_all(&state, &auth, &group_id, JobKind::Backup, key)).await
    }

    /// Starts an incremental sync of every source in the group. Needs operator; takes an
    /// `Idempotency-Key` like `startGroupBackups`.
    #[oai(
        path = "/v1/source-groups/:group_id/syncs",
        method = "post",
        operation_id = "startGroupSyncs"
    )]
    async fn start_syncs(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        group_id: Path<String>,
        /// Any unique string (e.g. a UUID), 1 to 255 visible ASCII characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
    ) -> StartGroupJobsResponse {
        let key = idempotency_key.0.as_deref();
        respond(start_all(&state, &auth, &group_id, JobKind::Sync, key)).await
    }
}

/// The ids of the group's sources.
async fn member_ids(db: &impl ConnectionTrait, group_id: &str) -> Result<Vec<String>, ApiError> {
    Ok(source_group_member::Entity::find()
        .filter(source_group_member::Column::GroupId.eq(group_id))
        .order_by_asc(source_group_member::Column::SourceId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.source_id)
        .collect())
}

async fn start_all(
    state: &AppState,
    auth: &BearerAuth,
    group_id: &str,
    kind: JobKind,
    key: Option<&str>,
) -> Result<StartGroupJobsResponse, ApiError> {
    let caller = &auth.0;
    let group = find_group(&state.db, caller, group_id).await?;
    caller.require(&group.account_id, Role::Operator)?;
    let operation = format!("startGroup.{}", kind_name(kind));
    let claim =
        match idempotency::begin(&state.db, caller, key, &operation, &group.id, None).await? {
            Begin::Replay(answer) => return Ok(StartGroupJobsResponse::Accepted(Json(answer))),
            Begin::Proceed(claim) => claim,
        };
    let outcome = start_each(state, caller, &group, kind).await;
    let answer = outcome.as_ref().ok().map(|a| (202, a));
    idempotency::finish(&state.db, claim, answer).await;
    Ok(StartGroupJobsResponse::Accepted(Json(outcome?)))
}

/// Starts a job for each member source, one after the other; a failure is that source's
/// outcome and the next source is still started.
async fn start_each(
    state: &AppState,
    caller: &crate::access::Caller,
    group: &source_group::Model,
    kind: JobKind,
) -> Result<GroupJobsStarted, ApiError> {
    let mut results = Vec::new();
    for source_id in member_ids(&state.db, &group.id).await? {
        let outcome = match find_source(&state.db, caller, &source_id).await {
            Ok(src) => match start_job(state, caller, &src, None, kind).await {
                Ok(started) => GroupJobOutcome {
                    source_id,
                    outcome: "started".into(),
                    job_id: Some(started.job_id.clone()),
                    job: Some(started),
                    error: None,
                },
                Err(e) => failed(source_id, e),
            },
            Err(e) => failed(source_id, e),
        };
        results.push(outcome);
    }
    Ok(GroupJobsStarted {
        group_id: group.id.clone(),
        kind: kind_name(kind).into(),
        results,
    })
}

fn kind_name(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Backup => "backup",
        JobKind::Sync => "sync",
    }
}

fn failed(source_id: String, e: ApiError) -> GroupJobOutcome {
    let conflict = e.status().as_u16() == 409;
    let body = e.into_body().0.error;
    let job_id = body
        .details
        .as_ref()
        .and_then(|d| d.get("job_id"))
        .and_then(|j| j.as_str())
        .map(str::to_owned);
    GroupJobOutcome {
        source_id,
        outcome: if conflict { "conflict" } else { "error" }.into(),
        job_id,
        job: None,
        error: Some(GroupJobError {
            code: body.code,
            message: body.message,
        }),
    }
}
