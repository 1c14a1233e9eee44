//! Teams: named groups of users inside an account, and the roles they hold in the account's
//! tree.
//!
//! A team belongs to an account; its admins create, rename and delete it and manage its members,
//! as do the team's own `maintainer`s (members are `maintainer` or `member`). A grant gives the
//! team a role in the team's account or an account below it; every member then holds that role
//! there, exactly as if they were a member of the account (and in the accounts below, like any
//! role). Granting needs admin of the account granted, and a role up to your own there.

use crate::{
    ApiTags,
    access::{Caller, RoleName, require_grantable},
    activity,
    auth::BearerAuth,
    error::{ApiError, is_unique_violation, respond},
    input::{EmailAddress, Name},
    members::user_not_found,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, client_grant, repo, team, team_grant, team_member, user};
use poem::web::Data;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde_json::json;

/// A member's place in a team.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum TeamRole {
    /// Manages the team's members.
    Maintainer,
    Member,
}

impl TeamRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Maintainer => "maintainer",
            Self::Member => "member",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "maintainer" {
            Self::Maintainer
        } else {
            Self::Member
        }
    }
}

/// A user in a team.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TeamMemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub team_role: TeamRole,
    pub created_at: DateTime<Utc>,
}

/// A role the team holds in an account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TeamGrantView {
    pub account_id: String,
    pub role: RoleName,
    pub created_at: DateTime<Utc>,
}

/// A team with its members and grants.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TeamView {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub members: Vec<TeamMemberView>,
    pub grants: Vec<TeamGrantView>,
    pub created_at: DateTime<Utc>,
}

/// A new team, or a new name.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct TeamName {
    /// 1 to 200 characters, unique within the account.
    pub name: String,
}

/// A registered user to add to the team.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct AddTeamMember {
    pub email: String,
    pub team_role: TeamRole,
}

/// A member's new place in the team.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UpdateTeamMember {
    pub team_role: TeamRole,
}

/// The role to grant the team in an account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct GrantTeam {
    pub role: RoleName,
}

crate::operation_response!(CreateTeamResponse, 201, "The team.", Created(TeamView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin of the account.",
    404 => NotFound: "No such account (or not yours).",
    409 => Conflict: "The account has a team of that name (`duplicate_name`).",
    422 => Unprocessable: "The name is empty or too long (`invalid_field`).",
});
crate::operation_response!(ListTeamsResponse, 200, "A page of teams.", Ok(Page<TeamView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    404 => NotFound: "No such account (or not yours).",
});
crate::operation_response!(GetTeamResponse, 200, "The team.", Ok(TeamView), {
    404 => NotFound: "No such team (or not yours).",
});
crate::operation_response!(UpdateTeamResponse, 200, "The team as it is now.", Ok(TeamView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin of the team's account.",
    404 => NotFound: "No such team (or not yours).",
    409 => Conflict: "The account has a team of that name (`duplicate_name`).",
    422 => Unprocessable: "The name is empty or too long (`invalid_field`).",
});
crate::operation_response!(DeleteTeamResponse, 204, "Deleted, with its members and grants.", Deleted, {
    403 => Forbidden: "Needs admin of the team's account, holding every role the team holds (`role_too_high`).",
    404 => NotFound: "No such team (or not yours).",
});
crate::operation_response!(AddTeamMemberResponse, 201, "The team with its new member.", Created(TeamView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin of the team's account or a maintainer of the team, holding every role the team holds (`role_too_high`).",
    404 => NotFound: "No such team, or no user has that email (`user_not_found`).",
    409 => Conflict: "The user is in the team already (`already_member`).",
    422 => Unprocessable: "Not an email address (`invalid_field`).",
});
crate::operation_response!(UpdateTeamMemberResponse, 200, "The team as it is now.", Ok(TeamView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin of the team's account or a maintainer of the team, holding every role the team holds (`role_too_high`).",
    404 => NotFound: "No such team or member.",
});
crate::operation_response!(RemoveTeamMemberResponse, 204, "Removed.", Removed, {
    403 => Forbidden: "Needs admin of the team's account or a maintainer of the team, holding every role the team holds (`role_too_high`).",
    404 => NotFound: "No such team or member.",
});
crate::operation_response!(GrantTeamResponse, 200, "The team with its grants.", Ok(TeamView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin of the account granted, and a role up to your own (`role_too_high`).",
    404 => NotFound: "No such team or account (or not yours).",
    422 => Unprocessable: "The account is neither the team's nor below it (`invalid_field`, `account_id`).",
});
crate::operation_response!(RevokeTeamGrantResponse, 204, "Revoked.", Revoked, {
    403 => Forbidden: "Needs admin of the account.",
    404 => NotFound: "No such team, account or grant.",
});

/// The team `id` if the caller reaches its account or is in the team.
async fn find_team(
    db: &impl ConnectionTrait,
    caller: &Caller,
    id: &str,
) -> Result<team::Model, ApiError> {
    let not_found = || ApiError::not_found("team", id);
    let t = team::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    if caller.reaches(&t.account_id) || team_role_of(db, caller, &t).await?.is_some() {
        Ok(t)
    } else {
        Err(not_found())
    }
}

/// The caller's place in team `t`, if they are a user in it (and not held back from its account
/// for want of a second factor the account requires).
async fn team_role_of(
    db: &impl ConnectionTrait,
    caller: &Caller,
    t: &team::Model,
) -> Result<Option<TeamRole>, ApiError> {
    let Some(user_id) = caller.user_id() else {
        return Ok(None);
    };
    if caller.withheld_role(&t.account_id).is_some() {
        return Ok(None);
    }
    Ok(team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(t.id.as_str()))
        .filter(team_member::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .map(|m| TeamRole::parse(&m.team_role)))
}

/// Admin of the team's account (403 for a team member who does not reach it).
fn require_account_admin(caller: &Caller, t: &team::Model) -> Result<(), ApiError> {
    match caller.role_in(&t.account_id) {
        Some(role) if role >= Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden(
            "forbidden",
            "this needs admin of the team's account",
        )),
    }
}

/// Admin of the team's account, or a maintainer of the team — and, either way, able to grant
/// every role the team holds (adding or removing a member hands out or takes away those roles:
/// nobody does that above their own role).
async fn require_team_manager(
    db: &impl ConnectionTrait,
    caller: &Caller,
    t: &team::Model,
) -> Result<(), ApiError> {
    if require_account_admin(caller, t).is_err()
        && team_role_of(db, caller, t).await? != Some(TeamRole::Maintainer)
    {
        return Err(ApiError::forbidden(
            "forbidden",
            "managing a team's members needs admin of its account, or being the team's maintainer",
        ));
    }
    require_grants_grantable(db, caller, t).await
}

/// 403 `role_too_high` unless the caller holds, in every account the team has a role in, at
/// least that role, and is admin of every account that granted the team sources (the portal):
/// whoever changes who is in the team hands all of it out.
pub(crate) async fn require_grants_grantable(
    db: &impl ConnectionTrait,
    caller: &Caller,
    t: &team::Model,
) -> Result<(), ApiError> {
    let too_high = || {
        ApiError::forbidden(
            "role_too_high",
            "the team holds roles or source grants in accounts where yours is lower",
        )
    };
    let grants = team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.eq(t.id.as_str()))
        .all(db)
        .await?;
    for g in grants {
        let own = caller.role_in(&g.account_id).ok_or_else(too_high)?;
        require_grantable(own, g.role)?;
    }
    let source_grants = client_grant::Entity::find()
        .filter(client_grant::Column::TeamId.eq(t.id.as_str()))
        .filter(client_grant::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    for g in source_grants {
        if caller.role_in(&g.account_id) < Some(Role::Admin) {
            return Err(too_high());
        }
    }
    Ok(())
}

async fn views(
    db: &impl ConnectionTrait,
    teams: Vec<team::Model>,
) -> Result<Vec<TeamView>, ApiError> {
    let ids: Vec<String> = teams.iter().map(|t| t.id.clone()).collect();
    let members = team_member::Entity::find()
        .filter(team_member::Column::TeamId.is_in(ids.clone()))
        .order_by_asc(team_member::Column::Id)
        .all(db)
        .await?;
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(members.iter().map(|m| m.user_id.clone())))
        .all(db)
        .await?;
    let grants = team_grant::Entity::find()
        .filter(team_grant::Column::TeamId.is_in(ids))
        .order_by_asc(team_grant::Column::Id)
        .all(db)
        .await?;
    Ok(teams
        .into_iter()
        .map(|t| TeamView {
            members: members
                .iter()
                .filter(|m| m.team_id == t.id)
                .filter_map(|m| {
                    let u = users.iter().find(|u| u.id == m.user_id)?;
                    Some(TeamMemberView {
                        user_id: m.user_id.clone(),
                        email: u.email.clone(),
                        name: u.name.clone(),
                        team_role: TeamRole::parse(&m.team_role),
                        created_at: m.created_at,
                    })
                })
                .collect(),
            grants: grants
                .iter()
                .filter(|g| g.team_id == t.id)
                .map(|g| TeamGrantView {
                    account_id: g.account_id.clone(),
                    role: g.role.into(),
                    created_at: g.created_at,
                })
                .collect(),
            id: t.id,
            account_id: t.account_id,
            name: t.name,
            created_at: t.created_at,
        })
        .collect())
}

async fn view(db: &impl ConnectionTrait, t: team::Model) -> Result<TeamView, ApiError> {
    views(db, vec![t])
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("a team without its view"))
}

fn name_taken(e: sea_orm::DbErr, name: &Name) -> ApiError {
    ApiError::name_taken(
        e,
        format!("this account has a team named `{}` already", name.as_str()),
    )
}

pub struct TeamsApi;

#[OpenApi(tag = "ApiTags::Teams")]
impl TeamsApi {
    /// Creates a team in the account. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/teams",
        method = "post",
        operation_id = "createTeam"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<TeamName>,
    ) -> CreateTeamResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let name = Name::parse("name", &body.name)?;
            let txn = state.db.begin().await?;
            let t = team::ActiveModel {
                id: Set(entities::new_id()),
                account_id: Set(account_id.0.clone()),
                name: Set(name.as_str().to_owned()),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await
            .map_err(|e| name_taken(e, &name))?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.created",
                ("team", &t.id),
                json!({"name": t.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(CreateTeamResponse::Created(Json(view(&state.db, t).await?)))
        })
        .await
    }

    /// Lists the account's teams, by id, with their members and grants.
    #[oai(
        path = "/v1/accounts/:account_id/teams",
        method = "get",
        operation_id = "listTeams"
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
    ) -> ListTeamsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let rows = page
                .apply(
                    team::Entity::find().filter(team::Column::AccountId.eq(account_id.as_str())),
                    team::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |t| t.id.clone());
            let next_cursor = page.next_cursor.clone();
            let items = views(&state.db, page.items).await?;
            Ok(ListTeamsResponse::Ok(Json(Page { items, next_cursor })))
        })
        .await
    }

    /// Gets a team with its members and grants (viewers of its account, and its members).
    #[oai(path = "/v1/teams/:team_id", method = "get", operation_id = "getTeam")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
    ) -> GetTeamResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            Ok(GetTeamResponse::Ok(Json(view(&state.db, t).await?)))
        })
        .await
    }

    /// Renames a team. Needs admin of its account.
    #[oai(
        path = "/v1/teams/:team_id",
        method = "patch",
        operation_id = "renameTeam"
    )]
    async fn rename(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        body: Json<TeamName>,
    ) -> UpdateTeamResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            require_account_admin(&auth.0, &t)?;
            let name = Name::parse("name", &body.name)?;
            let txn = state.db.begin().await?;
            let before = t.name.clone();
            let mut changed = t.into_active_model();
            changed.name = Set(name.as_str().to_owned());
            let t = changed
                .update(&txn)
                .await
                .map_err(|e| name_taken(e, &name))?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.renamed",
                ("team", &t.id),
                json!({"name": {"from": before, "to": t.name}}),
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateTeamResponse::Ok(Json(view(&state.db, t).await?)))
        })
        .await
    }

    /// Deletes a team: its members lose the roles its grants gave them. Needs admin of its
    /// account.
    #[oai(
        path = "/v1/teams/:team_id",
        method = "delete",
        operation_id = "deleteTeam"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
    ) -> DeleteTeamResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            require_account_admin(&auth.0, &t)?;
            require_grants_grantable(&state.db, &auth.0, &t).await?;
            let txn = state.db.begin().await?;
            repo::delete_team(&txn, &t.id).await?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.deleted",
                ("team", &t.id),
                json!({"name": t.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteTeamResponse::Deleted)
        })
        .await
    }

    /// Adds a registered user to the team. Needs admin of the team's account or a maintainer of
    /// the team. (To bring in someone not registered yet, invite them to the account with
    /// `team_id`.)
    #[oai(
        path = "/v1/teams/:team_id/members",
        method = "post",
        operation_id = "addTeamMember"
    )]
    async fn add_member(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        body: Json<AddTeamMember>,
    ) -> AddTeamMemberResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            require_team_manager(&state.db, &auth.0, &t).await?;
            let email = EmailAddress::parse("email", &body.email)?;
            let u = repo::find_user_by_email(&state.db, email.as_str())
                .await?
                .ok_or_else(user_not_found)?;
            let txn = state.db.begin().await?;
            team_member::ActiveModel {
                id: Set(entities::new_id()),
                team_id: Set(t.id.clone()),
                user_id: Set(u.id.clone()),
                team_role: Set(body.team_role.as_str().to_owned()),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict(
                        "already_member",
                        format!("{} is in this team already", u.email),
                    )
                } else {
                    e.into()
                }
            })?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.member_added",
                ("team", &t.id),
                json!({"user_id": u.id, "team_role": body.team_role.as_str()}),
            )
            .await?;
            txn.commit().await?;
            Ok(AddTeamMemberResponse::Created(Json(
                view(&state.db, t).await?,
            )))
        })
        .await
    }

    /// Makes a member a maintainer or a plain member. Needs admin of the team's account or a
    /// maintainer of the team.
    #[oai(
        path = "/v1/teams/:team_id/members/:user_id",
        method = "patch",
        operation_id = "updateTeamMember"
    )]
    async fn update_member(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        user_id: Path<String>,
        body: Json<UpdateTeamMember>,
    ) -> UpdateTeamMemberResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            require_team_manager(&state.db, &auth.0, &t).await?;
            let txn = state.db.begin().await?;
            let m = team_member(&txn, &t.id, &user_id).await?;
            let mut changed = m.into_active_model();
            changed.team_role = Set(body.team_role.as_str().to_owned());
            changed.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.member_changed",
                ("team", &t.id),
                json!({"user_id": user_id.0, "team_role": body.team_role.as_str()}),
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateTeamMemberResponse::Ok(Json(
                view(&state.db, t).await?,
            )))
        })
        .await
    }

    /// Removes a member from the team: they lose the roles its grants gave them at once. Needs
    /// admin of the team's account or a maintainer of the team.
    #[oai(
        path = "/v1/teams/:team_id/members/:user_id",
        method = "delete",
        operation_id = "removeTeamMember"
    )]
    async fn remove_member(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        user_id: Path<String>,
    ) -> RemoveTeamMemberResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            require_team_manager(&state.db, &auth.0, &t).await?;
            let txn = state.db.begin().await?;
            let m = team_member(&txn, &t.id, &user_id).await?;
            team_member::Entity::delete_by_id(m.id.as_str())
                .exec(&txn)
                .await?;
            activity::record(
                &txn,
                &auth.0,
                &t.account_id,
                "team.member_removed",
                ("team", &t.id),
                json!({"user_id": user_id.0}),
            )
            .await?;
            txn.commit().await?;
            Ok(RemoveTeamMemberResponse::Removed)
        })
        .await
    }

    /// Grants the team a role in an account — the team's own or one below it; every member
    /// holds it there. Replaces the team's earlier role in that account. Needs admin of that
    /// account, and a role up to your own.
    #[oai(
        path = "/v1/teams/:team_id/grants/:account_id",
        method = "put",
        operation_id = "grantTeam"
    )]
    async fn grant(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        account_id: Path<String>,
        body: Json<GrantTeam>,
    ) -> GrantTeamResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            let own = auth.0.require(&account_id, Role::Admin)?;
            let role = Role::from(body.role);
            require_grantable(own, role)?;
            let in_tree = *account_id == t.account_id
                || repo::account_ancestors(&state.db, &account_id)
                    .await?
                    .iter()
                    .any(|a| a.id == t.account_id);
            if !in_tree {
                return Err(ApiError::invalid_field(
                    "account_id",
                    "a team is granted roles in its own account or the accounts below it only",
                ));
            }
            let txn = state.db.begin().await?;
            team_grant::Entity::delete_many()
                .filter(team_grant::Column::TeamId.eq(t.id.as_str()))
                .filter(team_grant::Column::AccountId.eq(account_id.as_str()))
                .exec(&txn)
                .await?;
            team_grant::ActiveModel {
                id: Set(entities::new_id()),
                team_id: Set(t.id.clone()),
                account_id: Set(account_id.0.clone()),
                role: Set(role),
                created_at: Set(Utc::now()),
            }
            .insert(&txn)
            .await?;
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "team.granted",
                ("team", &t.id),
                json!({"role": role.as_str()}),
            )
            .await?;
            txn.commit().await?;
            Ok(GrantTeamResponse::Ok(Json(view(&state.db, t).await?)))
        })
        .await
    }

    /// Takes the team's role in an account away. Needs admin of that account.
    #[oai(
        path = "/v1/teams/:team_id/grants/:account_id",
        method = "delete",
        operation_id = "revokeTeamGrant"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        team_id: Path<String>,
        account_id: Path<String>,
    ) -> RevokeTeamGrantResponse {
        respond(async {
            let t = find_team(&state.db, &auth.0, &team_id).await?;
            let own = auth.0.require(&account_id, Role::Admin)?;
            let txn = state.db.begin().await?;
            let g = team_grant::Entity::find()
                .filter(team_grant::Column::TeamId.eq(t.id.as_str()))
                .filter(team_grant::Column::AccountId.eq(account_id.as_str()))
                .one(&txn)
                .await?
                .ok_or_else(|| ApiError::not_found("grant of team", &t.id))?;
            require_grantable(own, g.role)?;
            team_grant::Entity::delete_by_id(g.id.as_str())
                .exec(&txn)
                .await?;
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "team.revoked",
                ("team", &t.id),
                json!({"role": g.role.as_str()}),
            )
            .await?;
            txn.commit().await?;
            Ok(RevokeTeamGrantResponse::Revoked)
        })
        .await
    }
}

async fn team_member(
    db: &impl ConnectionTrait,
    team_id: &str,
    user_id: &str,
) -> Result<team_member::Model, ApiError> {
    team_member::Entity::find()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::not_found("team member", user_id))
}
