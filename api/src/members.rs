//! Members of an account: users and their roles.
//!
//! Admins manage members up to their own role; only owners add, change or remove owners. An
//! account always keeps an owner — its own or one inherited from an account above it — so the
//! last one can be neither removed nor demoted (409 `last_owner`).

use crate::{
    ApiTags,
    access::{Caller, RoleName, require_grantable},
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, is_unique_violation, respond},
    error_responses,
    input::EmailAddress,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, account, membership, repo, user};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QuerySelect, Set, TransactionTrait,
};
use serde_json::json;

/// A user's direct role in an account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: RoleName,
    /// When the user became a member.
    pub created_at: DateTime<Utc>,
}

impl Example for MemberView {
    fn example() -> Self {
        Self {
            user_id: "019b76da-a800-7b41-8c2e-0d9f6a3e51b7".into(),
            email: "ada@example.com".into(),
            name: "Ada Lovelace".into(),
            role: RoleName::Operator,
            created_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        }
    }
}

fn view(m: membership::Model, u: &user::Model) -> MemberView {
    MemberView {
        user_id: m.user_id,
        email: u.email.clone(),
        name: u.name.clone(),
        role: m.role.into(),
        created_at: m.created_at,
    }
}

/// Adds an existing user with a `role` of at most your own.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct AddMember {
    /// The email the user registered with.
    pub email: String,
    pub role: RoleName,
}

impl Example for AddMember {
    fn example() -> Self {
        Self {
            email: "ada@example.com".into(),
            role: RoleName::Operator,
        }
    }
}

/// A member's new role.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UpdateMember {
    pub role: RoleName,
}

#[derive(ApiResponse)]
pub enum ListMembersResponse {
    /// A page of members, by when they joined.
    #[oai(status = 200)]
    Ok(Json<Page<MemberView>>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListMembersResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum AddMemberResponse {
    /// The user is a member now; their existing sign-ins reach the account at once.
    #[oai(status = 201)]
    Created(Json<MemberView>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin; the role is above yours (`role_too_high`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account, or no user has that email (`user_not_found`).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The user is a member already (`already_member`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// Not an email address.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(AddMemberResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum UpdateMemberResponse {
    /// The member with the new role.
    #[oai(status = 200)]
    Ok(Json<MemberView>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin, and owner to change an owner or make one.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account or member.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// It would leave the account without an owner (`last_owner`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateMemberResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict });

#[derive(ApiResponse)]
pub enum RemoveMemberResponse {
    /// Removed: the user no longer reaches the account through this membership.
    #[oai(status = 204)]
    Removed,
    /// Needs admin, and owner to remove an owner.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// It would leave the account without an owner (`last_owner`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RemoveMemberResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

/// The caller's role if it may change `target` (admin, and at least the target's role).
fn require_manager(caller: &Caller, account_id: &str, target: Role) -> Result<Role, ApiError> {
    let role = caller.require(account_id, Role::Admin)?;
    if target > role {
        return Err(ApiError::forbidden(
            "forbidden",
            format!("only a member with the {target} role or above may change this {target}"),
        ));
    }
    Ok(role)
}

/// The membership, with its account row locked until the transaction ends, so two requests
/// cannot each remove one of the last two owners.
async fn locked_membership(
    txn: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
) -> Result<membership::Model, ApiError> {
    account::Entity::find_by_id(account_id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::not_found("account", account_id))?;
    repo::find_membership(txn, account_id, user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("member", user_id))
}

/// 409 `last_owner` unless an owner remains once `leaving` (an owner membership) stops being one.
async fn require_another_owner(
    txn: &impl ConnectionTrait,
    leaving: &membership::Model,
) -> Result<(), ApiError> {
    if leaving.role != Role::Owner {
        return Ok(());
    }
    let mut accounts: Vec<String> = repo::account_ancestors(txn, &leaving.account_id)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    accounts.push(leaving.account_id.clone());
    if repo::count_owners(txn, &accounts).await? <= 1 {
        return Err(ApiError::conflict(
            "last_owner",
            "this is the account's last owner; make someone else owner first",
        ));
    }
    Ok(())
}

async fn user_row(db: &impl ConnectionTrait, user_id: &str) -> Result<user::Model, ApiError> {
    user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("member", user_id))
}

/// 404 `user_not_found`: nobody registered with the email given.
pub(crate) fn user_not_found() -> ApiError {
    ApiError::new(
        poem::http::StatusCode::NOT_FOUND,
        "user_not_found",
        "no user has registered with that email; they need to register first (or invite them)",
    )
    .with_details(json!({"field": "email"}))
}

pub struct MembersApi;

#[OpenApi(tag = "ApiTags::Members")]
impl MembersApi {
    /// Lists the account's members (roles held on this account itself; roles inherited from
    /// accounts above are listed there).
    #[oai(
        path = "/v1/accounts/:account_id/members",
        method = "get",
        operation_id = "listMembers"
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
    ) -> ListMembersResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = membership::Entity::find()
                .filter(membership::Column::AccountId.eq(account_id.0.as_str()));
            let rows = page
                .apply(select, membership::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |m| m.id.clone());
            let ids: Vec<String> = page.items.iter().map(|m| m.user_id.clone()).collect();
            let users = user::Entity::find()
                .filter(user::Column::Id.is_in(ids))
                .all(&state.db)
                .await?;
            let items = page
                .items
                .into_iter()
                .filter_map(|m| {
                    let u = users.iter().find(|u| u.id == m.user_id)?;
                    Some(view(m, u))
                })
                .collect();
            Ok(ListMembersResponse::Ok(Json(Page {
                items,
                next_cursor: page.next_cursor,
            })))
        })
        .await
    }

    /// Adds a registered user by email, with a role up to your own. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/members",
        method = "post",
        operation_id = "addMember"
    )]
    async fn add(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<AddMember>,
    ) -> AddMemberResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let granted = Role::from(body.role);
            require_grantable(role, granted)?;
            let email = EmailAddress::parse("email", &body.email)?;
            let Some(user) = repo::find_user_by_email(&state.db, email.as_str()).await? else {
                return Err(user_not_found());
            };
            let txn = state.db.begin().await?;
            let member = repo::add_membership(&txn, &user.id, &account_id, granted)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        ApiError::conflict(
                            "already_member",
                            format!("{} is a member of this account already", user.email),
                        )
                    } else {
                        e.into()
                    }
                })?;
            let details = json!({"user_id": user.id, "role": granted.as_str()});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "member.added",
                ("user", &user.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(AddMemberResponse::Created(Json(view(member, &user))))
        })
        .await
    }

    /// Changes a member's role. Needs admin; changing an owner, or making one, needs owner.
    #[oai(
        path = "/v1/accounts/:account_id/members/:user_id",
        method = "patch",
        operation_id = "updateMember"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        user_id: Path<String>,
        body: Json<UpdateMember>,
    ) -> UpdateMemberResponse {
        respond(async {
            let caller_role = auth.0.require(&account_id, Role::Admin)?;
            let granted = Role::from(body.role);
            let txn = state.db.begin().await?;
            let member = locked_membership(&txn, &account_id, &user_id).await?;
            require_manager(&auth.0, &account_id, member.role)?;
            require_grantable(caller_role, granted)?;
            if granted != Role::Owner {
                require_another_owner(&txn, &member).await?;
            }
            let from = member.role;
            let mut changed = member.into_active_model();
            changed.role = Set(granted);
            let member = changed.update(&txn).await?;
            let details =
                json!({"user_id": member.user_id, "from": from.as_str(), "to": granted.as_str()});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "member.role_changed",
                ("user", &user_id),
                details,
            )
            .await?;
            let user = user_row(&txn, &user_id).await?;
            txn.commit().await?;
            Ok(UpdateMemberResponse::Ok(Json(view(member, &user))))
        })
        .await
    }

    /// Removes a member. Needs admin; removing an owner needs owner.
    #[oai(
        path = "/v1/accounts/:account_id/members/:user_id",
        method = "delete",
        operation_id = "removeMember"
    )]
    async fn remove(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        user_id: Path<String>,
    ) -> RemoveMemberResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let txn = state.db.begin().await?;
            let member = locked_membership(&txn, &account_id, &user_id).await?;
            require_manager(&auth.0, &account_id, member.role)?;
            require_another_owner(&txn, &member).await?;
            membership::Entity::delete_by_id(member.id.as_str())
                .exec(&txn)
                .await?;
            let details = json!({"user_id": member.user_id, "role": member.role.as_str()});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "member.removed",
                ("user", &user_id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(RemoveMemberResponse::Removed)
        })
        .await
    }
}
