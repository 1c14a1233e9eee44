//! Retention policies: how many snapshots to keep, per account (for its own sources) and per
//! source (overriding its account's). See `docs/retention.md`.
//!
//! Setting the first policy of an account creates the account's retention schedule (a daily
//! Temporal Schedule of `RetentionWorkflow`) before anything is stored — Temporal unreachable is
//! a 503 with nothing changed; deleting the last one removes it, after the row (a schedule left
//! behind because Temporal was unreachable runs passes that find no policy and expire nothing).

use crate::{
    ApiTags,
    access::Caller,
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, repo, retention::Policy, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json, types::Example};
use sea_orm::{EntityTrait, TransactionTrait};
use serde_json::json;

/// The largest count a rule accepts.
pub const MAX_KEEP: i64 = 100_000;

/// The counts of a policy. Each rule keeps, among the complete snapshots, newest first:
/// `keep_last` the N newest; `keep_daily` / `keep_weekly` (ISO weeks) / `keep_monthly` /
/// `keep_yearly` the newest snapshot of each of the N most recent days (weeks, months, years,
/// in UTC) that have one. A snapshot any rule keeps is kept, with the snapshots it depends on.
#[derive(Object, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[oai(example)]
pub struct RetentionRules {
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
}

impl Example for RetentionRules {
    fn example() -> Self {
        Self {
            keep_last: 3,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 12,
            keep_yearly: 0,
        }
    }
}

impl From<Policy> for RetentionRules {
    fn from(p: Policy) -> Self {
        Self {
            keep_last: p.keep_last,
            keep_daily: p.keep_daily,
            keep_weekly: p.keep_weekly,
            keep_monthly: p.keep_monthly,
            keep_yearly: p.keep_yearly,
        }
    }
}

/// A new policy (replacing any). Counts left out are 0; 0 to 100000 each, at least one above 0.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct PutRetentionPolicy {
    pub keep_last: Option<i64>,
    pub keep_daily: Option<i64>,
    pub keep_weekly: Option<i64>,
    pub keep_monthly: Option<i64>,
    pub keep_yearly: Option<i64>,
}

impl Example for PutRetentionPolicy {
    fn example() -> Self {
        Self {
            keep_last: Some(3),
            keep_daily: Some(7),
            keep_weekly: Some(4),
            keep_monthly: Some(12),
            keep_yearly: None,
        }
    }
}

impl PutRetentionPolicy {
    /// The policy, or `422 invalid_field` naming the first count out of range; a policy that
    /// would keep nothing names `keep_last`.
    pub fn parse(&self) -> Result<Policy, ApiError> {
        let count = |field: &str, value: Option<i64>| -> Result<u32, ApiError> {
            match value.unwrap_or(0) {
                n @ 0..=MAX_KEEP => Ok(n as u32),
                _ => Err(ApiError::invalid_field(
                    field,
                    format!("`{field}` must be 0 to {MAX_KEEP}"),
                )),
            }
        };
        let policy = Policy {
            keep_last: count("keep_last", self.keep_last)?,
            keep_daily: count("keep_daily", self.keep_daily)?,
            keep_weekly: count("keep_weekly", self.keep_weekly)?,
            keep_monthly: count("keep_monthly", self.keep_monthly)?,
            keep_yearly: count("keep_yearly", self.keep_yearly)?,
        };
        if policy.keeps_nothing() {
            return Err(ApiError::invalid_field(
                "keep_last",
                "the policy keeps nothing: set `keep_last` or one of `keep_daily`, \
                 `keep_weekly`, `keep_monthly`, `keep_yearly` above 0 (delete the policy to keep \
                 every snapshot)",
            ));
        }
        Ok(policy)
    }
}

/// The policy of an account or a source, and the one that applies.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct RetentionPolicyView {
    pub account_id: String,
    /// Set for a source's policy.
    pub source_id: Option<String>,
    /// The policy set here; absent when none is.
    pub policy: Option<RetentionRules>,
    /// The policy that applies: a source's own, else its account's; absent when none applies
    /// (every snapshot is kept). For an account: its own.
    pub effective_policy: Option<RetentionRules>,
    /// `source`, `account` or `none`: where `effective_policy` is set.
    pub effective_from: String,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Example for RetentionPolicyView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            source_id: Some("019b76da-aa6b-7a51-94e5-7c9a1b3d5e6a".into()),
            policy: Some(RetentionRules::example()),
            effective_policy: Some(RetentionRules::example()),
            effective_from: "source".into(),
            created_at: Some(at),
            updated_at: Some(at),
        }
    }
}

#[derive(ApiResponse)]
pub enum GetRetentionPolicyResponse {
    /// The policy set here (if any) and the one that applies.
    #[oai(status = 200)]
    Ok(Json<RetentionPolicyView>),
    /// No such account or source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetRetentionPolicyResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum PutRetentionPolicyResponse {
    /// Set (created or replaced).
    #[oai(status = 200)]
    Ok(Json<RetentionPolicyView>),
    /// The body could not be read: not JSON, a count that is not an integer, an unknown field
    /// (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account or source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A count is negative or above 100000, or every count is 0 (`invalid_field`;
    /// `details.field` names the count, `keep_last` for a policy that keeps nothing).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service cannot be reached to schedule retention (`unavailable`); nothing
    /// was changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(PutRetentionPolicyResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum DeleteRetentionPolicyResponse {
    /// Deleted: the account's policy (or none) applies from now on.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account or source (or not yours), or no policy is set on it.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(DeleteRetentionPolicyResponse { 403 => Forbidden, 404 => NotFound });

/// What a policy is set on.
struct Target {
    account_id: String,
    source_id: Option<String>,
}

impl Target {
    fn id(&self) -> &str {
        self.source_id.as_deref().unwrap_or(&self.account_id)
    }

    fn log_target(&self) -> (&str, &str) {
        match &self.source_id {
            Some(id) => ("source", id),
            None => ("account", &self.account_id),
        }
    }

    fn account(caller: &Caller, account_id: &str, needed: Role) -> Result<Self, ApiError> {
        caller.require(account_id, needed)?;
        Ok(Self {
            account_id: account_id.to_owned(),
            source_id: None,
        })
    }

    async fn source(
        state: &AppState,
        caller: &Caller,
        source_id: &str,
        needed: Role,
    ) -> Result<Self, ApiError> {
        let src = source::Entity::find_by_id(source_id)
            .one(&state.db)
            .await?
            .filter(|s| caller.reaches(&s.account_id))
            .ok_or_else(|| ApiError::not_found("source", source_id))?;
        caller.require(&src.account_id, needed)?;
        Ok(Self {
            account_id: src.account_id,
            source_id: Some(src.id),
        })
    }
}

async fn view(state: &AppState, target: &Target) -> Result<RetentionPolicyView, ApiError> {
    let own = repo::retention_policy(&state.db, target.id()).await?;
    let inherited = match (&own, &target.source_id) {
        (None, Some(_)) => repo::retention_policy(&state.db, &target.account_id).await?,
        _ => None,
    };
    let (effective, effective_from) = match (&own, &inherited) {
        (Some(p), _) if target.source_id.is_some() => (Some(p), "source"),
        (Some(p), _) => (Some(p), "account"),
        (None, Some(p)) => (Some(p), "account"),
        (None, None) => (None, "none"),
    };
    Ok(RetentionPolicyView {
        account_id: target.account_id.clone(),
        source_id: target.source_id.clone(),
        policy: own.as_ref().map(|p| repo::policy_of(p).into()),
        effective_policy: effective.map(|p| repo::policy_of(p).into()),
        effective_from: effective_from.into(),
        created_at: own.as_ref().map(|p| p.created_at),
        updated_at: own.as_ref().map(|p| p.updated_at),
    })
}

fn unavailable(e: &temporal::TemporalError) -> ApiError {
    tracing::error!(error = %e, "workflow service call failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the workflow service is unavailable; nothing was changed",
    )
}

async fn put(
    state: &AppState,
    caller: &Caller,
    target: Target,
    body: &PutRetentionPolicy,
) -> Result<PutRetentionPolicyResponse, ApiError> {
    let policy = body.parse()?;
    temporal::ensure_retention_schedule(&state.temporal.client, &target.account_id)
        .await
        .map_err(|e| unavailable(&e))?;
    let row = repo::policy_row(&target.account_id, target.source_id.as_deref(), policy);
    let txn = state.db.begin().await?;
    repo::put_retention_policy(&txn, row).await?;
    activity::record(
        &txn,
        caller,
        &target.account_id,
        "retention_policy.updated",
        target.log_target(),
        json!({
            "keep_last": policy.keep_last,
            "keep_daily": policy.keep_daily,
            "keep_weekly": policy.keep_weekly,
            "keep_monthly": policy.keep_monthly,
            "keep_yearly": policy.keep_yearly,
        }),
    )
    .await?;
    txn.commit().await?;
    Ok(PutRetentionPolicyResponse::Ok(Json(
        view(state, &target).await?,
    )))
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    target: Target,
) -> Result<DeleteRetentionPolicyResponse, ApiError> {
    let txn = state.db.begin().await?;
    if !repo::delete_retention_policy(&txn, target.id()).await? {
        return Err(ApiError::not_found("retention policy", target.id()));
    }
    activity::record(
        &txn,
        caller,
        &target.account_id,
        "retention_policy.deleted",
        target.log_target(),
        json!({}),
    )
    .await?;
    txn.commit().await?;
    if repo::account_retention_policies(&state.db, &target.account_id)
        .await?
        .is_empty()
        && let Err(e) =
            temporal::delete_retention_schedule(&state.temporal.client, &target.account_id).await
    {
        tracing::warn!(account_id = %target.account_id, error = %e, "could not delete the retention schedule; its runs find no policy");
    }
    Ok(DeleteRetentionPolicyResponse::Deleted)
}

pub struct RetentionPoliciesApi;

#[OpenApi(tag = "ApiTags::Retention")]
impl RetentionPoliciesApi {
    /// The account's retention policy, which applies to its sources without one of their own.
    /// Any role.
    #[oai(
        path = "/v1/accounts/:account_id/retention-policy",
        method = "get",
        operation_id = "getAccountRetentionPolicy"
    )]
    async fn get_account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> GetRetentionPolicyResponse {
        respond(async {
            let target = Target::account(&auth.0, &account_id, Role::Viewer)?;
            Ok(GetRetentionPolicyResponse::Ok(Json(
                view(&state, &target).await?,
            )))
        })
        .await
    }

    /// Sets the account's retention policy (replacing any) and schedules the account's daily
    /// retention pass. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/retention-policy",
        method = "put",
        operation_id = "putAccountRetentionPolicy"
    )]
    async fn put_account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<PutRetentionPolicy>,
    ) -> PutRetentionPolicyResponse {
        respond(async {
            let target = Target::account(&auth.0, &account_id, Role::Admin)?;
            put(&state, &auth.0, target, &body).await
        })
        .await
    }

    /// Deletes the account's retention policy: its sources without one of their own keep every
    /// snapshot from now on. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/retention-policy",
        method = "delete",
        operation_id = "deleteAccountRetentionPolicy"
    )]
    async fn delete_account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> DeleteRetentionPolicyResponse {
        respond(async {
            let target = Target::account(&auth.0, &account_id, Role::Admin)?;
            delete(&state, &auth.0, target).await
        })
        .await
    }

    /// The source's own retention policy and the one that applies to it. Any role.
    #[oai(
        path = "/v1/sources/:source_id/retention-policy",
        method = "get",
        operation_id = "getSourceRetentionPolicy"
    )]
    async fn get_source(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
    ) -> GetRetentionPolicyResponse {
        respond(async {
            let target = Target::source(&state, &auth.0, &source_id, Role::Viewer).await?;
            Ok(GetRetentionPolicyResponse::Ok(Json(
                view(&state, &target).await?,
            )))
        })
        .await
    }

    /// Sets the source's own retention policy, which overrides its account's. Needs admin.
    #[oai(
        path = "/v1/sources/:source_id/retention-policy",
        method = "put",
        operation_id = "putSourceRetentionPolicy"
    )]
    async fn put_source(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        body: Json<PutRetentionPolicy>,
    ) -> PutRetentionPolicyResponse {
        respond(async {
            let target = Target::source(&state, &auth.0, &source_id, Role::Admin).await?;
            put(&state, &auth.0, target, &body).await
        })
        .await
    }

    /// Deletes the source's own policy: its account's applies again. Needs admin.
    #[oai(
        path = "/v1/sources/:source_id/retention-policy",
        method = "delete",
        operation_id = "deleteSourceRetentionPolicy"
    )]
    async fn delete_source(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
    ) -> DeleteRetentionPolicyResponse {
        respond(async {
            let target = Target::source(&state, &auth.0, &source_id, Role::Admin).await?;
            delete(&state, &auth.0, target).await
        })
        .await
    }
}
