//! Invitations by email: an admin invites an address with a role (at most their own); the email
//! carries a link with a single-use token that expires in 7 days; the person signs in (or
//! registers) with that address and accepts, and becomes a member. Inviting the same address
//! again replaces the open invitation. Only the token's SHA-256 is stored.

use crate::{
    ApiTags,
    access::{RoleName, require_grantable},
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::EmailAddress,
    pagination::{Page, PageRequest},
    password_reset::invalid_token,
    state::AppState,
};
use chrono::{DateTime, Duration, Utc};
use entities::{Role, account, invitation, membership, repo, team, team_member, user};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set, TransactionTrait,
    sea_query::Expr,
};
use serde_json::json;

/// How long an invitation can be accepted.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// An invitation to join an account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct InvitationView {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub role: RoleName,
    /// `pending`, `accepted`, `revoked` or `expired`.
    pub status: String,
    /// Who invited: `user:{id}` or `api_key:{id}`.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// The user who accepted.
    pub accepted_by: Option<String>,
    /// The team of the account the invitee joins (as `member`) on accepting.
    pub team_id: Option<String>,
}

fn view(i: invitation::Model) -> InvitationView {
    let status = if i.accepted_at.is_some() {
        "accepted"
    } else if i.revoked_at.is_some() {
        "revoked"
    } else if i.expires_at <= Utc::now() {
        "expired"
    } else {
        "pending"
    };
    InvitationView {
        status: status.into(),
        id: i.id,
        account_id: i.account_id,
        email: i.email,
        role: i.role.into(),
        invited_by: i.invited_by,
        created_at: i.created_at,
        expires_at: i.expires_at,
        accepted_at: i.accepted_at,
        accepted_by: i.accepted_by,
        team_id: i.team_id,
    }
}

/// Whom to invite, with which role (at most your own).
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    pub role: RoleName,
    /// A team of the account to join (as `member`) on accepting; you must hold every role the
    /// team holds.
    pub team_id: Option<String>,
}

/// The token from an invitation's link.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct AcceptInvitation {
    pub token: String,
}

/// The membership an accepted invitation gave.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AcceptedInvitation {
    pub account_id: String,
    pub account_name: String,
    pub role: RoleName,
    /// The team joined: the invitation's, if it still exists and holds nothing above the invited
    /// role (its grants may have grown since); otherwise absent, and you joined the account only.
    pub team_id: Option<String>,
}

#[derive(ApiResponse)]
pub enum CreateInvitationResponse {
    /// Invited: the email is sent.
    #[oai(status = 201)]
    Created(Json<InvitationView>),
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin; the role (or one the team holds) is above yours (`role_too_high`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A user with this email is a member already (`already_member`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// Not an email address, or `team_id` is not a team of the account (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// No email can be sent (`email_unavailable`: no SMTP server is set, or it refused the
    /// message); nothing was created.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(CreateInvitationResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum ListInvitationsResponse {
    /// A page of invitations, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<InvitationView>>),
    /// A bad `limit` or `cursor`.
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
error_responses!(ListInvitationsResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum RevokeInvitationResponse {
    /// Revoked: its link no longer works.
    #[oai(status = 204)]
    Revoked,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account or invitation.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// It was accepted or revoked already (`invitation_closed`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RevokeInvitationResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

#[derive(ApiResponse)]
pub enum AcceptInvitationResponse {
    /// You are a member now.
    #[oai(status = 200)]
    Ok(Json<AcceptedInvitation>),
    /// The body could not be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The invitation is for another email (`invitation_for_another_email`), its sender may no
    /// longer give its role (`inviter_lacks_role`), or an API key (`user_required`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// You are a member of the account already (`already_member`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The token is unknown, used, revoked or expired (`invalid_token`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(AcceptInvitationResponse { 400 => BadRequest, 403 => Forbidden, 409 => Conflict, 422 => Unprocessable });

/// `503 email_unavailable`: the message with its link could not be sent, so nothing is left
/// open.
pub(crate) fn email_unavailable(reason: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "email_unavailable",
        format!("the email could not be sent ({reason}); nothing was created; try again"),
    )
}

async fn is_member(
    db: &impl sea_orm::ConnectionTrait,
    account_id: &str,
    email: &str,
) -> Result<bool, ApiError> {
    let Some(u) = repo::find_user_by_email(db, email).await? else {
        return Ok(false);
    };
    Ok(membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .filter(membership::Column::UserId.eq(u.id))
        .count(db)
        .await?
        > 0)
}

pub struct InvitationsApi;

#[OpenApi(tag = "ApiTags::Members")]
impl InvitationsApi {
    /// Invites an email address to the account with a role of at most your own, and emails the
    /// link. Inviting an address again replaces its open invitation. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/invitations",
        method = "post",
        operation_id = "createInvitation"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateInvitation>,
    ) -> CreateInvitationResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let invited: Role = body.role.into();
            require_grantable(role, invited)?;
            let email = EmailAddress::parse("email", &body.email)?;
            let acct = account::Entity::find_by_id(account_id.as_str())
                .one(&state.db)
                .await?
                .ok_or_else(|| ApiError::not_found("account", &account_id))?;
            let team = match &body.team_id {
                Some(id) => {
                    let t = team::Entity::find_by_id(id.as_str())
                        .one(&state.db)
                        .await?
                        .filter(|t| t.account_id == acct.id)
                        .ok_or_else(|| {
                            ApiError::invalid_field(
                                "team_id",
                                "`team_id` is not a team of this account",
                            )
                        })?;
                    crate::teams::require_grants_grantable(&state.db, &auth.0, &t).await?;
                    Some(t)
                }
                None => None,
            };
            if is_member(&state.db, &acct.id, email.as_str()).await? {
                return Err(ApiError::conflict(
                    "already_member",
                    format!("{} is a member of this account already", email.as_str()),
                ));
            }
            let mail = state
                .auth
                .mail
                .clone()
                .ok_or_else(|| email_unavailable("no SMTP server is configured"))?;
            let inviter = match auth.0.user_id() {
                Some(id) => user::Entity::find_by_id(id)
                    .one(&state.db)
                    .await?
                    .map(|u| u.name),
                None => None,
            };
            let txn = state.db.begin().await?;
            // The address's open invitation is replaced.
            invitation::Entity::update_many()
                .col_expr(invitation::Column::RevokedAt, Expr::value(Utc::now()))
                .filter(invitation::Column::AccountId.eq(acct.id.as_str()))
                .filter(invitation::Column::Email.eq(email.as_str()))
                .filter(invitation::Column::AcceptedAt.is_null())
                .filter(invitation::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            let (inv, token) = repo::create_invitation(
                &txn,
                repo::NewInvitation {
                    account_id: &acct.id,
                    email: email.as_str(),
                    role: invited,
                    invited_by: &auth.0.actor(),
                    expires_at: Utc::now() + INVITATION_TTL,
                    team_id: team.as_ref().map(|t| t.id.as_str()),
                },
            )
            .await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "invitation.created",
                ("invitation", &inv.id),
                json!({"email": inv.email, "role": invited.as_str(), "team_id": inv.team_id}),
            )
            .await?;
            txn.commit().await?;
            // Sent in the account's branding: its display name, links at its verified domain.
            let brand = crate::branding::effective(&state.db, &acct).await?;
            let link = mail.link_for(
                crate::branding::verified_domain(&brand),
                "accept-invitation",
                &token,
            );
            let who = inviter.unwrap_or_else(|| "An administrator".into());
            let team_line = team
                .as_ref()
                .map(|t| format!(", in the team \"{}\"", t.name))
                .unwrap_or_default();
            let body = format!(
                "Hello,\n\n\
                 {who} invited you to the account \"{account}\" on ListBackup, as {role}{team_line}.\n\n\
                 Sign in (or register) as {email} and accept here:\n\n{link}\n\n\
                 The link works once and expires on {expires}.\n",
                account = brand.display_name,
                role = invited.as_str(),
                email = inv.email,
                expires = inv.expires_at.format("%Y-%m-%d %H:%M UTC"),
            );
            let subject = format!("You are invited to {} on ListBackup", brand.display_name);
            if let Err(e) = mail
                .send(&inv.email, Some(&brand.display_name), &subject, body)
                .await
            {
                // Nobody received the token: the invitation must not stay open.
                repo::revoke_invitation(&state.db, &inv.id).await?;
                tracing::warn!(invitation_id = %inv.id, error = %e, "invitation not sent");
                return Err(email_unavailable(e));
            }
            tracing::info!(invitation_id = %inv.id, account_id = %acct.id, "invitation sent");
            Ok(CreateInvitationResponse::Created(Json(view(inv))))
        })
        .await
    }

    /// Lists the account's invitations, newest first. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/invitations",
        method = "get",
        operation_id = "listInvitations"
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
    ) -> ListInvitationsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let rows = page
                .apply_desc(
                    invitation::Entity::find()
                        .filter(invitation::Column::AccountId.eq(account_id.as_str())),
                    invitation::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |i| i.id.clone()).map(view);
            Ok(ListInvitationsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Revokes an open invitation: its link stops working. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/invitations/:invitation_id",
        method = "delete",
        operation_id = "revokeInvitation"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        invitation_id: Path<String>,
    ) -> RevokeInvitationResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let inv = invitation::Entity::find_by_id(invitation_id.as_str())
                .one(&state.db)
                .await?
                .filter(|i| i.account_id == *account_id)
                .ok_or_else(|| ApiError::not_found("invitation", &invitation_id))?;
            let txn = state.db.begin().await?;
            if !repo::revoke_invitation(&txn, &inv.id).await? {
                return Err(ApiError::conflict(
                    "invitation_closed",
                    "this invitation was accepted or revoked already",
                ));
            }
            activity::record(
                &txn,
                &auth.0,
                &inv.account_id,
                "invitation.revoked",
                ("invitation", &inv.id),
                json!({"email": inv.email}),
            )
            .await?;
            txn.commit().await?;
            Ok(RevokeInvitationResponse::Revoked)
        })
        .await
    }
}

/// Accepting, addressed by the token alone (the invitee cannot see the account yet).
pub struct AcceptInvitationApi;

#[OpenApi(tag = "ApiTags::Me")]
impl AcceptInvitationApi {
    /// Accepts an invitation with the token from its link: you become a member of the account
    /// with the invited role. You must be signed in with the invited email; the token works once.
    #[oai(
        path = "/v1/invitations/accept",
        method = "post",
        operation_id = "acceptInvitation"
    )]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<AcceptInvitation>,
    ) -> AcceptInvitationResponse {
        respond(async {
            let u = crate::mfa::signed_in_user(&state, &auth).await?;
            let inv = repo::find_invitation_by_token(&state.db, body.token.trim())
                .await?
                .ok_or_else(|| invalid_token("invitation"))?;
            if inv.email != u.email {
                return Err(ApiError::forbidden(
                    "invitation_for_another_email",
                    "this invitation is for another email address; sign in with that one",
                ));
            }
            if is_member(&state.db, &inv.account_id, &u.email).await? {
                return Err(ApiError::conflict(
                    "already_member",
                    "you are a member of this account already",
                ));
            }
            let acct = account::Entity::find_by_id(inv.account_id.as_str())
                .one(&state.db)
                .await?
                .ok_or_else(|| invalid_token("invitation"))?;
            // The invitation gives what its sender may give now, not when it was sent.
            let inviter = crate::auth::actor_caller(&state.db, &inv.invited_by)
                .await?
                .filter(|c| {
                    c.role_in(&inv.account_id).is_some_and(|own| {
                        own >= Role::Admin && require_grantable(own, inv.role).is_ok()
                    })
                })
                .ok_or_else(|| {
                    ApiError::forbidden(
                        "inviter_lacks_role",
                        "whoever sent this invitation may no longer give this role; ask for a new one",
                    )
                })?;
            let txn = state.db.begin().await?;
            if !repo::accept_invitation(&txn, &inv.id, &u.id).await? {
                return Err(invalid_token("invitation"));
            }
            repo::add_membership(&txn, &u.id, &inv.account_id, inv.role).await?;
            // The team, if it still exists and the inviter could still hand out all it holds
            // (its grants may have grown since); otherwise the membership alone.
            let team = match &inv.team_id {
                Some(id) => team::Entity::find_by_id(id.as_str()).one(&txn).await?,
                None => None,
            };
            let team = match team {
                Some(t) if crate::teams::require_grants_grantable(&txn, &inviter, &t).await.is_ok() => {
                    Some(t)
                }
                _ => None,
            };
            if let Some(t) = &team {
                let already = team_member::Entity::find()
                    .filter(team_member::Column::TeamId.eq(t.id.as_str()))
                    .filter(team_member::Column::UserId.eq(u.id.as_str()))
                    .count(&txn)
                    .await?
                    > 0;
                if !already {
                    team_member::ActiveModel {
                        id: Set(entities::new_id()),
                        team_id: Set(t.id.clone()),
                        user_id: Set(u.id.clone()),
                        team_role: Set("member".into()),
                        created_at: Set(Utc::now()),
                    }
                    .insert(&txn)
                    .await?;
                }
            }
            activity::record(
                &txn,
                &auth.0,
                &inv.account_id,
                "member.joined",
                ("user", &u.id),
                json!({"invitation": inv.id, "role": inv.role.as_str(), "team_id": team.as_ref().map(|t| &t.id)}),
            )
            .await?;
            txn.commit().await?;
            Ok(AcceptInvitationResponse::Ok(Json(AcceptedInvitation {
                account_id: acct.id,
                account_name: acct.name,
                role: inv.role.into(),
                team_id: team.map(|t| t.id),
            })))
        })
        .await
    }
}
