//! An account's scheduled verification: a Temporal Schedule that runs `VerifyAccountWorkflow`,
//! which verifies each source's newest complete snapshot and the snapshots it builds on (see
//! [`crate::verifications`]). One per account; reading needs any role, changing it admin.

use crate::{
    ApiTags, activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    schedules::{apply, spec, temporal_error, ui_link},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, verification_schedule};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json, types::Example};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, TransactionTrait};
use serde_json::json;
use std::time::Duration;
use temporal::{ScheduleDefinition, ScheduledRun};
use workflows::contracts::VerifyPassInput;

/// How late a missed pass may still start: a day.
const CATCHUP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// When an account's snapshots are verified.
#[derive(Object, Debug, Clone)]
#[oai(example)]
pub struct VerificationScheduleView {
    pub account_id: String,
    /// Five fields: minute, hour, day of month, month, day of week.
    pub cron: String,
    /// IANA time zone `cron` is read in.
    pub timezone: String,
    pub paused: bool,
    pub temporal_schedule_id: String,
    /// The schedule in the Temporal Web UI.
    pub temporal_ui_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for VerificationScheduleView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            cron: "0 4 * * SUN".into(),
            timezone: "Europe/Berlin".into(),
            paused: false,
            temporal_schedule_id: "verify-account/019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            temporal_ui_url: "http://127.0.0.1:8233/namespaces/default/schedules/verify-account%2F019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            created_at: at,
            updated_at: at,
        }
    }
}

/// The verification schedule to set.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct SetVerificationSchedule {
    /// Five fields: minute, hour, day of month, month, day of week (`0 4 * * SUN`: Sundays at
    /// 04:00).
    pub cron: String,
    /// IANA time zone `cron` is read in (default `UTC`).
    pub timezone: Option<String>,
    /// Keep it but start no passes (default false).
    pub paused: Option<bool>,
}

impl Example for SetVerificationSchedule {
    fn example() -> Self {
        Self {
            cron: "0 4 * * SUN".into(),
            timezone: Some("Europe/Berlin".into()),
            paused: None,
        }
    }
}

#[derive(ApiResponse)]
pub enum GetVerificationScheduleResponse {
    #[oai(status = 200)]
    Ok(Json<VerificationScheduleView>),
    /// No such account (or not yours), or it has no verification schedule.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetVerificationScheduleResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum SetVerificationScheduleResponse {
    /// The schedule as it now is.
    #[oai(status = 200)]
    Ok(Json<VerificationScheduleView>),
    /// The body cannot be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Only admins and owners change it.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `cron` or `timezone` is not acceptable (`invalid_field`, `details.field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service is unavailable; nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(SetVerificationScheduleResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum DeleteVerificationScheduleResponse {
    /// Deleted; passes already running finish.
    #[oai(status = 204)]
    Deleted,
    /// Only admins and owners change it.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours), or it has no verification schedule.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service is unavailable; nothing was changed.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(DeleteVerificationScheduleResponse { 403 => Forbidden, 404 => NotFound, 503 => Unavailable });

/// The Temporal Schedule id of an account's verification passes.
pub fn temporal_schedule_id(account_id: &str) -> String {
    format!("verify-account/{account_id}")
}

fn definition(row: &verification_schedule::Model) -> ScheduleDefinition {
    ScheduleDefinition {
        id: row.temporal_schedule_id.clone(),
        cron: row.cron.clone(),
        timezone: row.timezone.clone(),
        jitter: Duration::ZERO,
        catchup_window: CATCHUP_WINDOW,
        paused: row.paused,
        run: ScheduledRun::VerifyAccount(VerifyPassInput {
            account_id: row.account_id.clone(),
        }),
    }
}

fn view(state: &AppState, row: verification_schedule::Model) -> VerificationScheduleView {
    VerificationScheduleView {
        temporal_ui_url: ui_link(&state.temporal, &row.temporal_schedule_id),
        account_id: row.account_id,
        cron: row.cron,
        timezone: row.timezone,
        paused: row.paused,
        temporal_schedule_id: row.temporal_schedule_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

async fn find(
    state: &AppState,
    account_id: &str,
) -> Result<Option<verification_schedule::Model>, ApiError> {
    Ok(verification_schedule::Entity::find_by_id(account_id)
        .one(&state.db)
        .await?)
}

fn none(account_id: &str) -> ApiError {
    ApiError::not_found("verification schedule of account", account_id)
}

/// Deletes an account's verification schedule in Temporal, if it has one, while the account
/// is being deleted in `txn` (which deletes the row).
pub(crate) async fn delete_for_account(
    txn: &impl ConnectionTrait,
    client: &temporal::Client,
    account_id: &str,
) -> Result<(), ApiError> {
    if verification_schedule::Entity::find_by_id(account_id)
        .one(txn)
        .await?
        .is_some()
    {
        temporal::delete_schedule(client, &temporal_schedule_id(account_id))
            .await
            .map_err(temporal_error)?;
    }
    Ok(())
}

pub struct VerificationSchedulesApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl VerificationSchedulesApi {
    /// Gets the account's verification schedule.
    #[oai(
        path = "/v1/accounts/:account_id/verification-schedule",
        method = "get",
        operation_id = "getVerificationSchedule"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> GetVerificationScheduleResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let row = find(&state, &account_id)
                .await?
                .ok_or_else(|| none(&account_id))?;
            Ok(GetVerificationScheduleResponse::Ok(Json(view(&state, row))))
        })
        .await
    }

    /// Sets when the account's snapshots are verified: each pass verifies every source's
    /// newest complete snapshot and the snapshots it builds on. Creates the schedule or
    /// replaces it. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/verification-schedule",
        method = "put",
        operation_id = "setVerificationSchedule"
    )]
    async fn set(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<SetVerificationSchedule>,
    ) -> SetVerificationScheduleResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let cron = spec::cron(&body.cron)?;
            let timezone = spec::timezone(body.timezone.as_deref().unwrap_or("UTC"))?;
            let previous = find(&state, &account_id).await?;
            let now = Utc::now();
            let row = verification_schedule::Model {
                account_id: account_id.0.clone(),
                cron,
                timezone,
                paused: body.paused.unwrap_or(false),
                temporal_schedule_id: temporal_schedule_id(&account_id),
                created_at: previous.as_ref().map_or(now, |p| p.created_at),
                updated_at: now,
            };
            let def = definition(&row);
            apply(&state.temporal.client, &def)
                .await
                .map_err(temporal_error)?;
            let stored = async {
                let txn = state.db.begin().await?;
                let saved = match &previous {
                    Some(_) => row.clone().into_active_model().reset_all().update(&txn).await?,
                    None => row.clone().into_active_model().insert(&txn).await?,
                };
                activity::record(
                    &txn,
                    &auth.0,
                    &row.account_id,
                    "verification_schedule.set",
                    ("account", &row.account_id),
                    json!({"cron": row.cron, "timezone": row.timezone, "paused": row.paused}),
                )
                .await?;
                txn.commit().await?;
                Ok::<_, ApiError>(saved)
            }
            .await;
            match stored {
                Ok(saved) => Ok(SetVerificationScheduleResponse::Ok(Json(view(&state, saved)))),
                Err(e) => {
                    // Put Temporal back as the database still says.
                    let undo = match &previous {
                        Some(p) => apply(&state.temporal.client, &definition(p)).await,
                        None => temporal::delete_schedule(&state.temporal.client, &def.id).await,
                    };
                    if let Err(undo) = undo {
                        tracing::error!(schedule = %def.id, error = %undo, "could not undo the Temporal schedule change");
                    }
                    Err(e)
                }
            }
        })
        .await
    }

    /// Deletes the account's verification schedule. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/verification-schedule",
        method = "delete",
        operation_id = "deleteVerificationSchedule"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> DeleteVerificationScheduleResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let row = find(&state, &account_id)
                .await?
                .ok_or_else(|| none(&account_id))?;
            temporal::delete_schedule(&state.temporal.client, &row.temporal_schedule_id)
                .await
                .map_err(temporal_error)?;
            let txn = state.db.begin().await?;
            verification_schedule::Entity::delete_by_id(&row.account_id)
                .exec(&txn)
                .await?;
            activity::record(
                &txn,
                &auth.0,
                &row.account_id,
                "verification_schedule.deleted",
                ("account", &row.account_id),
                json!({"cron": row.cron}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteVerificationScheduleResponse::Deleted)
        })
        .await
    }
}
