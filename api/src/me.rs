//! Your own settings: profile, time zone, notification preferences, password, and the accounts
//! you reach. Only users have these (API keys answer 403 `user_required`).

use crate::{
    ApiTags,
    access::RoleName,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::{Name, NewPassword},
    mfa::signed_in_user,
    pagination::{Page, PageRequest},
    passwords,
    session::{Me, MeResponse, me_view},
    state::AppState,
};
use entities::{Role, account, repo, user};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Query, payload::Json};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

/// Which notifications you want. Absent fields keep their value.
#[derive(Object, Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct NotificationPreferences {
    /// A backup or sync of an account you are a member of failed (default on).
    #[oai(default = "yes")]
    #[serde(default = "yes")]
    pub job_failed: bool,
    /// A backup or sync succeeded (default off).
    #[oai(default)]
    #[serde(default)]
    pub job_succeeded: bool,
    /// A source has had no successful backup for longer than its schedule allows (default on).
    #[oai(default = "yes")]
    #[serde(default = "yes")]
    pub backup_overdue: bool,
    /// A weekly summary of your accounts' backups (default off).
    #[oai(default)]
    #[serde(default)]
    pub weekly_report: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        Self {
            job_failed: true,
            job_succeeded: false,
            backup_overdue: true,
            weekly_report: false,
        }
    }
}

impl NotificationPreferences {
    /// A user's stored preferences, or the defaults.
    pub fn of(u: &user::Model) -> Self {
        u.notifications
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// Changes to your profile; absent fields stay as they are.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UpdateMe {
    /// Your name, 1 to 200 characters.
    pub name: Option<String>,
    /// An IANA time zone, e.g. `Europe/Berlin` or `UTC`.
    pub time_zone: Option<String>,
    pub notifications: Option<NotificationPatch>,
}

/// Notification preferences to change; absent ones stay as they are.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct NotificationPatch {
    pub job_failed: Option<bool>,
    pub job_succeeded: Option<bool>,
    pub backup_overdue: Option<bool>,
    pub weekly_report: Option<bool>,
}

/// Your current password and the new one.
#[derive(Object)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// 10 to 1024 characters.
    pub new_password: String,
}

/// An account you reach, and how.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MyAccount {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub role: RoleName,
    /// True when your role is held on this account itself, false when it comes from an account
    /// above it.
    pub direct: bool,
    /// True when the account requires a second factor you do not have: it is out of reach until
    /// you set one up.
    pub mfa_required: bool,
}

#[derive(ApiResponse)]
pub enum UpdateMeResponse {
    /// You, as you are now.
    #[oai(status = 200)]
    Ok(Json<Box<Me>>),
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// An API key (`user_required`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateMeResponse { 400 => BadRequest, 403 => Forbidden, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ChangePasswordResponse {
    /// Changed; every other sign-in of yours is signed out (this one stays).
    #[oai(status = 204)]
    Changed,
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The current password is wrong (`wrong_password`), or an API key (`user_required`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// The new password is not acceptable (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// Too many attempts (`rate_limited`, `details.retry_after`).
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ChangePasswordResponse { 400 => BadRequest, 403 => Forbidden, 422 => Unprocessable, 429 => TooManyRequests });

#[derive(ApiResponse)]
pub enum MyAccountsResponse {
    /// A page of the accounts you reach, by id.
    #[oai(status = 200)]
    Ok(Json<Page<MyAccount>>),
    /// A bad `limit` or `cursor`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// An API key (`user_required`): it reaches one account, `GET /v1/me` names it.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(MyAccountsResponse { 400 => BadRequest, 403 => Forbidden });

pub struct MeApi;

/// `/v1/me` itself: poem-openapi keeps one impl's methods per path, so both are here.
pub struct ProfileApi;

#[OpenApi(tag = "ApiTags::Auth")]
impl ProfileApi {
    /// Who you are: the user or API key behind the credentials, and the roles held directly.
    #[oai(path = "/v1/me", method = "get", operation_id = "getMe")]
    async fn get(&self, state: Data<&AppState>, auth: BearerAuth) -> MeResponse {
        respond(async {
            Ok(MeResponse::Ok(Json(Box::new(
                me_view(&state, &auth.0).await?,
            ))))
        })
        .await
    }

    /// Changes your name, time zone or notification preferences. Only users (not API keys).
    #[oai(path = "/v1/me", method = "patch", operation_id = "updateMe")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<UpdateMe>,
    ) -> UpdateMeResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            let UpdateMe {
                name,
                time_zone,
                notifications,
            } = body.0;
            let name = name.map(|n| Name::parse("name", &n)).transpose()?;
            let time_zone = time_zone
                .map(|tz| {
                    tz.trim().parse::<chrono_tz::Tz>().map_err(|_| {
                        ApiError::invalid_field(
                            "time_zone",
                            format!("`{tz}` is not an IANA time zone (e.g. `Europe/Berlin`)"),
                        )
                    })
                })
                .transpose()?;
            let mut prefs = NotificationPreferences::of(&u);
            let mut changed = u.into_active_model();
            if let Some(name) = name {
                changed.name = Set(name.into_string());
            }
            if let Some(tz) = time_zone {
                changed.time_zone = Set(tz.name().to_owned());
            }
            if let Some(patch) = notifications {
                let set = |field: &mut bool, v: Option<bool>| *field = v.unwrap_or(*field);
                set(&mut prefs.job_failed, patch.job_failed);
                set(&mut prefs.job_succeeded, patch.job_succeeded);
                set(&mut prefs.backup_overdue, patch.backup_overdue);
                set(&mut prefs.weekly_report, patch.weekly_report);
                changed.notifications = Set(Some(
                    serde_json::to_value(&prefs).map_err(ApiError::internal)?,
                ));
            }
            changed.update(&state.db).await?;
            Ok(UpdateMeResponse::Ok(Json(Box::new(
                me_view(&state, &auth.0).await?,
            ))))
        })
        .await
    }
}

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Changes your password. Every other sign-in of yours is signed out; this one stays.
    #[oai(
        path = "/v1/me/password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ChangePassword>,
    ) -> ChangePasswordResponse {
        respond(async {
            let u = signed_in_user(&state, &auth).await?;
            let session = match auth.0.principal() {
                crate::access::Principal::User { session_id, .. } => Some(session_id.as_str()),
                crate::access::Principal::ApiKey { .. } => None,
            };
            let ChangePassword {
                current_password,
                new_password,
            } = body.0;
            let new_password = NewPassword::parse("new_password", new_password)?;
            crate::mfa::throttle_attempt(&state, &u)?;
            if !passwords::verify(current_password, u.password_hash.clone()).await {
                return Err(ApiError::forbidden(
                    "wrong_password",
                    "the current password is wrong",
                ));
            }
            let hash = passwords::hash(new_password.into_string())
                .await
                .map_err(ApiError::internal)?;
            let txn = state.db.begin().await?;
            repo::set_password_hash(&txn, &u.id, &hash).await?;
            let revoked = repo::revoke_sessions_of(&txn, &u.id, session).await?;
            // A reset link sent before no longer works either.
            repo::cancel_password_resets(&txn, &u.id).await?;
            txn.commit().await?;
            tracing::info!(user_id = %u.id, revoked, "password changed; other sign-ins revoked");
            Ok(ChangePasswordResponse::Changed)
        })
        .await
    }

    /// Lists every account you reach — through your own memberships and the accounts below
    /// them — with your role, whether it is held there directly, and whether the account waits
    /// for your second factor.
    #[oai(
        path = "/v1/me/accounts",
        method = "get",
        operation_id = "listMyAccounts"
    )]
    async fn accounts(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> MyAccountsResponse {
        respond(async {
            auth.0.require_user()?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let caller = &auth.0;
            let ids: Vec<String> = caller
                .reachable()
                .chain(caller.withheld().map(|(id, _)| id))
                .map(str::to_owned)
                .collect();
            let rows = page
                .apply(
                    account::Entity::find().filter(account::Column::Id.is_in(ids)),
                    account::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |a| a.id.clone()).map(|a| {
                let withheld = caller.withheld_role(&a.id);
                let role = caller.role_in(&a.id).or(withheld).unwrap_or(Role::Viewer);
                MyAccount {
                    direct: caller.grants().iter().any(|g| g.account_id == a.id),
                    mfa_required: withheld.is_some(),
                    id: a.id,
                    name: a.name,
                    parent_id: a.parent_id,
                    role: role.into(),
                }
            });
            Ok(MyAccountsResponse::Ok(Json(page)))
        })
        .await
    }
}
