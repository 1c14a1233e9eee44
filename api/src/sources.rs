//! Sources: what to back up — a connection, the streams selected from its platform, and options.
//!
//! A source belongs to its connection's account; its name is unique in the account (a unique
//! index decides). Deleting a source never loses backed-up data: it is refused while a job of
//! the source is active and while the source has snapshots or schedules (delete those first).
//! Starting backups and syncs of a source is in [`crate::backups`].

use crate::{
    ApiTags,
    access::Caller,
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::Name,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, connection, job, repo, schedule, snapshot, source, source_group_member};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde_json::{Value, json};

mod test;

/// A source.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct SourceView {
    pub id: String,
    pub account_id: String,
    /// The connection whose credentials the source uses.
    pub connection_id: String,
    /// The connection's platform (`stripe`, `hubspot`, …).
    pub platform: String,
    /// Unique in the account.
    pub name: String,
    /// The streams backed up; empty means every stream the platform offers.
    pub streams: Vec<String>,
    /// Options of the source (a JSON object).
    pub options: Value,
    /// The streams a sync continues from a cursor the last snapshot saved.
    pub synced_streams: Vec<String>,
    /// The latest complete snapshot.
    pub last_snapshot_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for SourceView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            connection_id: "019b76da-a9f2-7b10-8c3e-2d4f6a8b0c15".into(),
            platform: "stripe".into(),
            name: "Stripe customers and invoices".into(),
            streams: vec!["customers".into(), "invoices".into()],
            options: json!({}),
            synced_streams: vec!["customers".into()],
            last_snapshot_id: Some("019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59".into()),
            created_at: at,
            updated_at: at,
        }
    }
}

pub fn view(s: source::Model) -> SourceView {
    let streams = s
        .streams
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut synced_streams: Vec<String> = s
        .stream_state
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    synced_streams.sort();
    SourceView {
        id: s.id,
        account_id: s.account_id,
        connection_id: s.connection_id,
        platform: s.platform,
        name: s.name,
        streams,
        options: s.options,
        synced_streams,
        last_snapshot_id: s.last_snapshot_id,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// The source `id` if the caller reaches its account; 404 otherwise.
pub(crate) async fn find_source(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: &str,
) -> Result<source::Model, ApiError> {
    source::Entity::find_by_id(id)
        .one(db)
        .await?
        .filter(|s| caller.reaches(&s.account_id))
        .ok_or_else(|| ApiError::not_found("source", id))
}

/// A new source.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateSource {
    /// A connection of the same account.
    pub connection_id: String,
    /// 1 to 200 characters, unique in the account.
    pub name: String,
    /// Streams of the connection's platform to back up; absent or empty: all of them.
    pub streams: Option<Vec<String>>,
    /// Options (a JSON object). `requests_per_second` (1 to 1000) is checked like a
    /// connection's setting of the same name.
    pub options: Option<Value>,
}

impl Example for CreateSource {
    fn example() -> Self {
        Self {
            connection_id: "019b76da-a9f2-7b10-8c3e-2d4f6a8b0c15".into(),
            name: "Stripe customers and invoices".into(),
            streams: Some(vec!["customers".into(), "invoices".into()]),
            options: None,
        }
    }
}

/// Changes to a source; absent fields stay as they are.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct UpdateSource {
    pub name: Option<String>,
    /// The new stream selection; empty: all streams.
    pub streams: Option<Vec<String>>,
    /// The new options, replacing the old ones.
    pub options: Option<Value>,
}

impl Example for UpdateSource {
    fn example() -> Self {
        Self {
            name: None,
            streams: Some(vec!["customers".into()]),
            options: None,
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateSourceResponse {
    /// The source.
    #[oai(status = 201)]
    Created(Json<SourceView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A source of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it: `name`,
    /// `connection_id` — not a connection of this account —, `streams` with `details.unknown`,
    /// `options`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateSourceResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListSourcesResponse {
    /// A page of sources, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<SourceView>>),
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
error_responses!(ListSourcesResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetSourceResponse {
    #[oai(status = 200)]
    Ok(Json<SourceView>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetSourceResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum UpdateSourceResponse {
    /// The source as it is now.
    #[oai(status = 200)]
    Ok(Json<SourceView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Another source of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateSourceResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum DeleteSourceResponse {
    /// Deleted, with its finished jobs and its group memberships.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A job of the source is active (`conflict`, `details.job_id`), or the source still has
    /// snapshots or schedules (`source_not_empty`, with their counts in `details`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(DeleteSourceResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

pub struct SourcesApi;

#[OpenApi(tag = "ApiTags::Sources")]
impl SourcesApi {
    /// Creates a source over a connection of the account. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/sources",
        method = "post",
        operation_id = "createSource"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateSource>,
    ) -> CreateSourceResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let name = Name::parse("name", &body.name)?;
            let conn = connection::Entity::find_by_id(body.connection_id.as_str())
                .one(&state.db)
                .await?
                .filter(|c| c.account_id == account_id.0)
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "connection_id",
                        format!("no connection {} in this account", body.connection_id),
                    )
                })?;
            let streams = stream_selection(&conn.platform, body.streams.as_deref().unwrap_or(&[]))?;
            let options = checked_options(&conn.platform, body.options.clone())?;
            let now = Utc::now();
            let txn = state.db.begin().await?;
            let created = source::ActiveModel {
                id: Set(entities::new_id()),
                account_id: Set(conn.account_id.clone()),
                connection_id: Set(conn.id.clone()),
                platform: Set(conn.platform.clone()),
                name: Set(name.into_string()),
                streams: Set(json!(streams)),
                options: Set(options),
                stream_state: Set(json!({})),
                last_snapshot_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(duplicate_name)?;
            let details =
                json!({"name": created.name, "connection_id": conn.id, "streams": streams});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "source.created",
                ("source", &created.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(CreateSourceResponse::Created(Json(view(created))))
        })
        .await
    }

    /// Lists the account's sources, oldest first; optionally only those of one connection or
    /// one platform.
    #[oai(
        path = "/v1/accounts/:account_id/sources",
        method = "get",
        operation_id = "listSources"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "filters and paging are separate query parameters"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Only sources over this connection.
        connection_id: Query<Option<String>>,
        /// Only sources of this platform (`stripe`, …).
        platform: Query<Option<String>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListSourcesResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let mut select =
                source::Entity::find().filter(source::Column::AccountId.eq(account_id.0.as_str()));
            if let Some(c) = &connection_id.0 {
                select = select.filter(source::Column::ConnectionId.eq(c.as_str()));
            }
            if let Some(p) = &platform.0 {
                select = select.filter(source::Column::Platform.eq(p.as_str()));
            }
            let rows = page
                .apply(select, source::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |s| s.id.clone()).map(view);
            Ok(ListSourcesResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets a source.
    #[oai(
        path = "/v1/sources/:source_id",
        method = "get",
        operation_id = "getSource"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
    ) -> GetSourceResponse {
        respond(async {
            let src = find_source(&state.db, &auth.0, &source_id).await?;
            Ok(GetSourceResponse::Ok(Json(view(src))))
        })
        .await
    }

    /// Renames a source, or changes its streams or options. A job already running keeps the
    /// settings it started with. Needs admin.
    #[oai(
        path = "/v1/sources/:source_id",
        method = "patch",
        operation_id = "updateSource"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        body: Json<UpdateSource>,
    ) -> UpdateSourceResponse {
        respond(async {
            let src = find_source(&state.db, &auth.0, &source_id).await?;
            auth.0.require(&src.account_id, Role::Admin)?;
            let mut changed = source::ActiveModel {
                id: Set(src.id.clone()),
                ..Default::default()
            };
            let mut details = serde_json::Map::new();
            if let Some(name) = &body.name {
                let name = Name::parse("name", name)?.into_string();
                details.insert("name".into(), json!(name));
                changed.name = Set(name);
            }
            if let Some(streams) = &body.streams {
                let streams = stream_selection(&src.platform, streams)?;
                details.insert("streams".into(), json!(streams));
                changed.streams = Set(json!(streams));
            }
            if let Some(options) = &body.options {
                changed.options = Set(checked_options(&src.platform, Some(options.clone()))?);
                details.insert("options".into(), json!(true));
            }
            if details.is_empty() {
                return Ok(UpdateSourceResponse::Ok(Json(view(src))));
            }
            changed.updated_at = Set(Utc::now());
            let txn = state.db.begin().await?;
            let updated = changed.update(&txn).await.map_err(duplicate_name)?;
            activity::record(
                &txn,
                &auth.0,
                &updated.account_id,
                "source.updated",
                ("source", &updated.id),
                Value::Object(details),
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateSourceResponse::Ok(Json(view(updated))))
        })
        .await
    }

    /// Deletes a source. Backed-up data never disappears with it: the deletion is refused
    /// while a job of the source is active, and while the source has snapshots or schedules.
    /// Its finished jobs (which left no snapshot) and its group memberships go with it; the
    /// activity log stays. Needs admin.
    #[oai(
        path = "/v1/sources/:source_id",
        method = "delete",
        operation_id = "deleteSource"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
    ) -> DeleteSourceResponse {
        respond(async {
            let src = find_source(&state.db, &auth.0, &source_id).await?;
            auth.0.require(&src.account_id, Role::Admin)?;
            let txn = state.db.begin().await?;
            if let Some(active) = repo::active_job(&txn, &src.id).await? {
                return Err(crate::backups::active_job_conflict(&active.id));
            }
            let snapshots = snapshot::Entity::find()
                .filter(snapshot::Column::SourceId.eq(src.id.as_str()))
                .count(&txn)
                .await?;
            let schedules = schedule::Entity::find()
                .filter(schedule::Column::SourceId.eq(src.id.as_str()))
                .count(&txn)
                .await?;
            if snapshots > 0 || schedules > 0 {
                return Err(ApiError::conflict(
                    "source_not_empty",
                    format!(
                        "source {} has {snapshots} snapshot(s) and {schedules} schedule(s); \
                         delete them first",
                        src.id
                    ),
                )
                .with_details(json!({"snapshots": snapshots, "schedules": schedules})));
            }
            source_group_member::Entity::delete_many()
                .filter(source_group_member::Column::SourceId.eq(src.id.as_str()))
                .exec(&txn)
                .await?;
            repo::forget_client_grant_target(&txn, repo::TARGET_SOURCE, &src.id).await?;
            job::Entity::delete_many()
                .filter(job::Column::SourceId.eq(src.id.as_str()))
                .exec(&txn)
                .await?;
            repo::delete_retention_policy(&txn, &src.id).await?;
            let deleted = source::Entity::delete_by_id(src.id.as_str())
                .exec(&txn)
                .await?;
            if deleted.rows_affected == 0 {
                return Err(ApiError::not_found("source", &source_id));
            }
            activity::record(
                &txn,
                &auth.0,
                &src.account_id,
                "source.deleted",
                ("source", &src.id),
                json!({"name": src.name, "connection_id": src.connection_id}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteSourceResponse::Deleted)
        })
        .await
    }

    /// Tries the source: builds the platform's connector from the connection and fetches the
    /// first page of each selected stream. A refusal by the platform is an answer
    /// (`ok: false` with the platform's reason), never an error of this call. Needs operator.
    #[oai(
        path = "/v1/sources/:source_id/test",
        method = "post",
        operation_id = "testSource"
    )]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
    ) -> test::TestSourceResponse {
        respond(async {
            let src = find_source(&state.db, &auth.0, &source_id).await?;
            auth.0.require(&src.account_id, Role::Operator)?;
            let result = test::run(&state, &src).await?;
            Ok(test::TestSourceResponse::Ok(Json(result)))
        })
        .await
    }
}

/// `streams` as stored: each a stream of `platform`, without repeats. 422 naming `streams`
/// (with `details.unknown`) otherwise.
fn stream_selection(platform: &str, streams: &[String]) -> Result<Vec<String>, ApiError> {
    let info = connectors::platform(platform);
    let unknown: Vec<&String> = streams
        .iter()
        .filter(|s| info.and_then(|p| p.stream(s)).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::invalid_field(
            "streams",
            format!("`streams` names streams {platform} does not have"),
        )
        .with_details(json!({"field": "streams", "unknown": unknown})));
    }
    let mut selected: Vec<String> = Vec::new();
    for s in streams {
        if !selected.contains(s) {
            selected.push(s.clone());
        }
    }
    Ok(selected)
}

/// The largest `options` object accepted, as JSON.
const MAX_OPTIONS_BYTES: usize = 16 * 1024;

/// `options` as stored: a JSON object (`{}` when absent), whose settings the shared connector
/// readers know are checked by them.
fn checked_options(platform: &str, options: Option<Value>) -> Result<Value, ApiError> {
    let options = match options {
        None | Some(Value::Null) => return Ok(json!({})),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "options",
                "`options` must be a JSON object",
            ));
        }
    };
    if options.to_string().len() > MAX_OPTIONS_BYTES {
        return Err(ApiError::invalid_field(
            "options",
            format!("`options` must be at most {MAX_OPTIONS_BYTES} bytes of JSON"),
        ));
    }
    let documented = connectors::platform(platform)
        .map(|p| p.rate_limit)
        .unwrap_or(connectors::http::RateLimit::per_second(1));
    let id: &'static str = connectors::platform(platform).map_or("source", |p| p.id);
    connectors::settings::rate_limit(id, &options, documented).map_err(|e| {
        ApiError::invalid_field("options", e.message.clone())
            .with_details(json!({"field": "options", "option": "requests_per_second"}))
    })?;
    Ok(options)
}

/// A unique-index refusal as `409 duplicate_name`.
fn duplicate_name(e: sea_orm::DbErr) -> ApiError {
    ApiError::name_taken(e, "a source of this account has that name already")
}
