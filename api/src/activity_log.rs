//! Reading the activity log: what was done in an account, by whom, to what — every
//! state-changing call and every job transition — newest first. Rows are kept 90 days
//! ([`crate::retention`]).

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ErrorEnvelope, respond},
    error_responses,
    job_lists::{account_scope, time_param},
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, activity_log};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

/// One entry of the activity log.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ActivityView {
    pub id: String,
    pub account_id: String,
    /// `user:{id}`, `api_key:{id}`, or `system` (job transitions, scheduled runs).
    pub actor: String,
    /// `schedule.created`, `job.succeeded`, `member.added`, …
    pub action: String,
    /// What it was done to: `job`, `schedule`, `member`, `api_key`, `account`, …
    pub target_type: String,
    pub target_id: String,
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

impl Example for ActivityView {
    fn example() -> Self {
        Self {
            id: "019b76da-b1c4-7e21-8a55-0c3f9d2e7b14".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            actor: "system".into(),
            action: "job.succeeded".into(),
            target_type: "job".into(),
            target_id: "019b76da-ad10-7f42-9b6a-3e5c7d9f1a26".into(),
            details: serde_json::json!({"snapshot_id": "019b76da-b0a5-7e2a-83d4-6b8f0a2c4d59", "records": 1200}),
            created_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        }
    }
}

fn view(a: activity_log::Model) -> ActivityView {
    ActivityView {
        id: a.id,
        account_id: a.account_id,
        actor: a.actor,
        action: a.action,
        target_type: a.target_type,
        target_id: a.target_id,
        details: a.details,
        created_at: a.created_at,
    }
}

#[derive(ApiResponse)]
pub enum ListActivityResponse {
    /// A page of entries, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<ActivityView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListActivityResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound });

pub struct ActivityLogApi;

#[OpenApi(tag = "ApiTags::Activity")]
impl ActivityLogApi {
    /// Lists an account's activity log, newest first. Needs admin (entries name members and
    /// API keys). Only the account's own entries unless `include_sub_accounts=true`.
    #[oai(
        path = "/v1/accounts/:account_id/activity",
        method = "get",
        operation_id = "listActivity"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one argument per query parameter"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// An action (`job.failed`), or a prefix ending in `.` or `*` (`job.`, `schedule.*`).
        action: Query<Option<String>>,
        /// Who did it: `user:{id}`, `api_key:{id}` or `system`.
        actor: Query<Option<String>>,
        /// What it was done to: `job`, `schedule`, `member`, …
        target_type: Query<Option<String>>,
        /// The id of what it was done to.
        target_id: Query<Option<String>>,
        /// Entries at or after this time (RFC 3339).
        since: Query<Option<String>>,
        /// Entries before this time (RFC 3339).
        until: Query<Option<String>>,
        /// Also the entries of every sub-account below this one (default false).
        include_sub_accounts: Query<Option<bool>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListActivityResponse {
        respond(async {
            let accounts = account_scope(
                &state,
                &auth.0,
                &account_id,
                Role::Admin,
                include_sub_accounts.0.unwrap_or(false),
            )
            .await?;
            let since = time_param("since", since.0.as_deref())?;
            let until = time_param("until", until.0.as_deref())?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let mut select = activity_log::Entity::find()
                .filter(activity_log::Column::AccountId.is_in(accounts));
            if let Some(action) = action.0.filter(|a| !a.is_empty()) {
                select = match action.strip_suffix('*') {
                    Some(prefix) => select.filter(activity_log::Column::Action.starts_with(prefix)),
                    None if action.ends_with('.') => {
                        select.filter(activity_log::Column::Action.starts_with(&action))
                    }
                    None => select.filter(activity_log::Column::Action.eq(action)),
                };
            }
            if let Some(actor) = actor.0.filter(|a| !a.is_empty()) {
                select = select.filter(activity_log::Column::Actor.eq(actor));
            }
            if let Some(t) = target_type.0.filter(|t| !t.is_empty()) {
                select = select.filter(activity_log::Column::TargetType.eq(t));
            }
            if let Some(t) = target_id.0.filter(|t| !t.is_empty()) {
                select = select.filter(activity_log::Column::TargetId.eq(t));
            }
            if let Some(t) = since {
                select = select.filter(activity_log::Column::CreatedAt.gte(t));
            }
            if let Some(t) = until {
                select = select.filter(activity_log::Column::CreatedAt.lt(t));
            }
            let rows = page
                .apply_desc(select, activity_log::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |a| a.id.clone()).map(view);
            Ok(ListActivityResponse::Ok(Json(page)))
        })
        .await
    }
}
