//! Client grants: an account gives an external client, or a team, access to chosen sources
//! (directly or through source groups) — and nothing else of the account — through the client
//! portal (`/v1/portal/...`).
//!
//! A grant to a client names an email address; the email carries a single-use link (7 days)
//! that the client, signed in (or registered) with that address, accepts. A grant to a team
//! (of the account or an account above it) holds for its members at once. Either can end at
//! `expires_at` and be revoked; every change here and every portal call of its holders is in the
//! account's activity log. Managing grants needs admin.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, respond},
    input::EmailAddress,
    invitations::{INVITATION_TTL, email_unavailable},
    mail::MailError,
    operation_response,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, account, client_grant, repo, source, source_group, team, user};
use poem::web::Data;
use poem_openapi::{
    Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

/// How many sources and source groups one grant may name (each).
const MAX_TARGETS: usize = 100;

/// What a grant lets its holder do with the granted sources.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[oai(rename_all = "lowercase")]
pub enum PortalAccess {
    /// The sources, their jobs and snapshots (status and totals), read-only.
    Read,
    /// Also the snapshots' contents: records and whole-stream downloads.
    Restore,
}

impl PortalAccess {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Read => repo::ACCESS_READ,
            Self::Restore => repo::ACCESS_RESTORE,
        }
    }

    pub(crate) fn parse(text: &str) -> Self {
        if text == repo::ACCESS_RESTORE {
            Self::Restore
        } else {
            Self::Read
        }
    }
}

/// A grant of sources to a client or a team.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ClientGrantView {
    pub id: String,
    pub account_id: String,
    /// The client's email address (a grant to a client).
    pub email: Option<String>,
    /// The team it is granted to (a grant to a team).
    pub team_id: Option<String>,
    pub access: PortalAccess,
    pub source_ids: Vec<String>,
    pub source_group_ids: Vec<String>,
    /// `pending` (a client has not accepted yet), `active`, `expired` or `revoked`.
    pub status: String,
    /// When the grant ends, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// Until when a client can accept it.
    pub accept_by: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// The user who accepted.
    pub accepted_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Who granted: `user:{id}` or `api_key:{id}`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// A new grant: to a client's `email` or to a `team_id` (one of the two), of sources and
/// source groups of the account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct CreateClientGrant {
    /// The client's email address; they are emailed a link to accept.
    pub email: Option<String>,
    /// A team of this account (or of an account above it); its members hold the grant at once.
    pub team_id: Option<String>,
    pub access: PortalAccess,
    /// Sources of the account (up to 100).
    #[oai(default)]
    pub source_ids: Vec<String>,
    /// Source groups of the account (up to 100): their sources at the time of each request.
    #[oai(default)]
    pub source_group_ids: Vec<String>,
    /// When the grant ends (in the future); absent: until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

pub(crate) fn grant_status(g: &client_grant::Model, now: DateTime<Utc>) -> &'static str {
    if g.revoked_at.is_some() {
        "revoked"
    } else if g.expires_at.is_some_and(|t| t <= now) {
        "expired"
    } else if g.email.is_some() && g.accepted_at.is_none() {
        if g.token_expires_at.is_some_and(|t| t <= now) {
            "expired"
        } else {
            "pending"
        }
    } else {
        "active"
    }
}

/// The views of `grants`, with their targets (one query).
async fn views(
    db: &impl ConnectionTrait,
    grants: Vec<client_grant::Model>,
) -> Result<Vec<ClientGrantView>, ApiError> {
    let ids: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
    let mut targets = repo::client_grant_targets(db, &ids).await?;
    let now = Utc::now();
    Ok(grants
        .into_iter()
        .map(|g| {
            let (mut sources, mut groups) = (Vec::new(), Vec::new());
            for t in targets.remove(&g.id).unwrap_or_default() {
                if t.kind == repo::TARGET_SOURCE {
                    sources.push(t.target_id);
                } else {
                    groups.push(t.target_id);
                }
            }
            sources.sort();
            groups.sort();
            ClientGrantView {
                status: grant_status(&g, now).into(),
                access: PortalAccess::parse(&g.access),
                source_ids: sources,
                source_group_ids: groups,
                accept_by: g.token_expires_at.filter(|_| g.accepted_at.is_none()),
                id: g.id,
                account_id: g.account_id,
                email: g.email,
                team_id: g.team_id,
                expires_at: g.expires_at,
                accepted_at: g.accepted_at,
                accepted_by: g.user_id,
                revoked_at: g.revoked_at,
                created_by: g.created_by,
                created_at: g.created_at,
            }
        })
        .collect())
}

/// `ids` without repeats, when all of them are in the account (`found` of them are).
fn check_targets(field: &str, ids: &[String], found: u64) -> Result<Vec<String>, ApiError> {
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if found != unique.len() as u64 {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` names something that is not in this account"),
        ));
    }
    Ok(unique)
}

/// The team `team_id` if it belongs to `acct` or an account above it.
async fn grantable_team(
    db: &impl ConnectionTrait,
    acct: &account::Model,
    team_id: &str,
) -> Result<team::Model, ApiError> {
    let not_here = || {
        ApiError::invalid_field(
            "team_id",
            "`team_id` is not a team of this account or of an account above it",
        )
    };
    let t = team::Entity::find_by_id(team_id)
        .one(db)
        .await?
        .ok_or_else(not_here)?;
    if t.account_id == acct.id
        || repo::account_ancestors(db, &acct.id)
            .await?
            .iter()
            .any(|a| a.id == t.account_id)
    {
        Ok(t)
    } else {
        Err(not_here())
    }
}

operation_response!(CreateClientGrantResponse, 201, "Granted: a client is emailed the link to accept; a team's members hold it now.", Created(ClientGrantView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
    422 => Unprocessable: "Neither or both of `email` and `team_id`, no source or group, one not in this account, a bad email, or `expires_at` not in the future (`invalid_field`).",
    503 => Unavailable: "The client's email cannot be sent (`email_unavailable`); nothing was granted.",
});

operation_response!(ListClientGrantsResponse, 200, "A page of the account's grants, newest first.", Ok(Page<ClientGrantView>), {
    400 => BadRequest: "A bad `limit` or `cursor`.",
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
});

operation_response!(GetClientGrantResponse, 200, "The grant.", Ok(ClientGrantView), {
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account or grant.",
});

operation_response!(RevokeClientGrantResponse, 204, "Revoked: its holders lose the sources on their next request, and an unaccepted link stops working.", Revoked, {
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account or grant.",
    409 => Conflict: "It was revoked already (`grant_revoked`).",
});

async fn find_grant(
    db: &impl ConnectionTrait,
    account_id: &str,
    grant_id: &str,
) -> Result<client_grant::Model, ApiError> {
    client_grant::Entity::find_by_id(grant_id)
        .one(db)
        .await?
        .filter(|g| g.account_id == account_id)
        .ok_or_else(|| ApiError::not_found("client grant", grant_id))
}

pub struct ClientGrantsApi;

#[OpenApi(tag = "ApiTags::Portal")]
impl ClientGrantsApi {
    /// Grants sources and source groups of the account to a client (by email: they are sent
    /// a link, valid 7 days, to accept signed in with that address) or to a team. Holders see
    /// them — and nothing else of the account — in the client portal. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/client-grants",
        method = "post",
        operation_id = "createClientGrant"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateClientGrant>,
    ) -> CreateClientGrantResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let db = &state.db;
            let acct = account::Entity::find_by_id(account_id.as_str())
                .one(db)
                .await?
                .ok_or_else(|| ApiError::not_found("account", &account_id))?;
            let email = match (&body.email, &body.team_id) {
                (Some(e), None) => Some(EmailAddress::parse("email", e)?),
                (None, Some(_)) => None,
                _ => {
                    return Err(ApiError::invalid_field(
                        "email",
                        "give either `email` (a client) or `team_id` (a team), not both",
                    ));
                }
            };
            let team = match &body.team_id {
                Some(t) => Some(grantable_team(db, &acct, t).await?),
                None => None,
            };
            if body.source_ids.is_empty() && body.source_group_ids.is_empty() {
                return Err(ApiError::invalid_field(
                    "source_ids",
                    "name at least one source or source group",
                ));
            }
            if body.expires_at.is_some_and(|t| t <= Utc::now()) {
                return Err(ApiError::invalid_field(
                    "expires_at",
                    "`expires_at` must be in the future",
                ));
            }
            for (field, ids) in [
                ("source_ids", &body.source_ids),
                ("source_group_ids", &body.source_group_ids),
            ] {
                if ids.len() > MAX_TARGETS {
                    return Err(ApiError::invalid_field(
                        field,
                        format!("`{field}` may name at most {MAX_TARGETS}"),
                    ));
                }
            }
            let sources = body.source_ids.iter().cloned();
            let found = source::Entity::find()
                .filter(source::Column::AccountId.eq(acct.id.as_str()))
                .filter(source::Column::Id.is_in(sources))
                .count(db)
                .await?;
            let source_ids = check_targets("source_ids", &body.source_ids, found)?;
            let groups = body.source_group_ids.iter().cloned();
            let found = source_group::Entity::find()
                .filter(source_group::Column::AccountId.eq(acct.id.as_str()))
                .filter(source_group::Column::Id.is_in(groups))
                .count(db)
                .await?;
            let group_ids = check_targets("source_group_ids", &body.source_group_ids, found)?;
            let mail = match &email {
                Some(_) => Some(
                    state
                        .auth
                        .mail
                        .clone()
                        .ok_or_else(|| email_unavailable("no SMTP server is configured"))?,
                ),
                None => None,
            };
            let access = body.access;
            let txn = sea_orm::TransactionTrait::begin(db).await?;
            let (grant, token) = repo::create_client_grant(
                &txn,
                repo::NewClientGrant {
                    account_id: &acct.id,
                    email: email.as_ref().map(|e| e.as_str()),
                    team_id: team.as_ref().map(|t| t.id.as_str()),
                    access: access.as_str(),
                    expires_at: body.expires_at,
                    token_expires_at: Some(Utc::now() + INVITATION_TTL),
                    created_by: &auth.0.actor(),
                    sources: &source_ids,
                    source_groups: &group_ids,
                },
            )
            .await?;
            crate::activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "client_grant.created",
                ("client_grant", &grant.id),
                json!({
                    "email": grant.email,
                    "team_id": grant.team_id,
                    "access": grant.access,
                    "source_ids": source_ids,
                    "source_group_ids": group_ids,
                }),
            )
            .await?;
            txn.commit().await?;
            if let (Some(mail), Some(token)) = (mail, token) {
                let granter = match auth.0.user_id() {
                    Some(id) => user::Entity::find_by_id(id).one(db).await?.map(|u| u.name),
                    None => None,
                };
                let sent = send_grant_email(&state, &mail, &acct, &grant, &token, granter).await?;
                if let Err(e) = sent {
                    // Nobody received the token: the grant must not stay open.
                    repo::revoke_client_grant(db, &grant.id).await?;
                    tracing::warn!(grant_id = %grant.id, error = %e, "client grant not sent");
                    return Err(email_unavailable(e));
                }
            }
            let view = views(db, vec![grant]).await?.remove(0);
            Ok(CreateClientGrantResponse::Created(Json(view)))
        })
        .await
    }

    /// Lists the account's client and team grants, newest first. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/client-grants",
        method = "get",
        operation_id = "listClientGrants"
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
    ) -> ListClientGrantsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let rows = page
                .apply_desc(
                    client_grant::Entity::find()
                        .filter(client_grant::Column::AccountId.eq(account_id.as_str())),
                    client_grant::Column::Id,
                )
                .all(&state.db)
                .await?;
            let rows = page.finish(rows, |g| g.id.clone());
            Ok(ListClientGrantsResponse::Ok(Json(Page {
                items: views(&state.db, rows.items).await?,
                next_cursor: rows.next_cursor,
            })))
        })
        .await
    }

    /// Gets one of the account's grants. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/client-grants/:grant_id",
        method = "get",
        operation_id = "getClientGrant"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        grant_id: Path<String>,
    ) -> GetClientGrantResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let grant = find_grant(&state.db, &account_id, &grant_id).await?;
            let view = views(&state.db, vec![grant]).await?.remove(0);
            Ok(GetClientGrantResponse::Ok(Json(view)))
        })
        .await
    }

    /// Revokes a grant: its holders lose the sources on their next request; an unaccepted link
    /// stops working. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/client-grants/:grant_id",
        method = "delete",
        operation_id = "revokeClientGrant"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        grant_id: Path<String>,
    ) -> RevokeClientGrantResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let grant = find_grant(&state.db, &account_id, &grant_id).await?;
            let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
            if !repo::revoke_client_grant(&txn, &grant.id).await? {
                return Err(ApiError::conflict(
                    "grant_revoked",
                    "this grant was revoked already",
                ));
            }
            crate::activity::record(
                &txn,
                &auth.0,
                &grant.account_id,
                "client_grant.revoked",
                ("client_grant", &grant.id),
                json!({"email": grant.email, "team_id": grant.team_id}),
            )
            .await?;
            txn.commit().await?;
            Ok(RevokeClientGrantResponse::Revoked)
        })
        .await
    }
}

/// Emails a client the link to accept `grant`, in the account's branding; the inner error is
/// the mail server's.
async fn send_grant_email(
    state: &AppState,
    mail: &crate::mail::MailSettings,
    acct: &account::Model,
    grant: &client_grant::Model,
    token: &str,
    granter: Option<String>,
) -> Result<Result<(), MailError>, ApiError> {
    let brand = crate::branding::effective(&state.db, acct).await?;
    let link = mail.link_for(
        crate::branding::verified_domain(&brand),
        "client-access",
        token,
    );
    let to = grant.email.as_deref().unwrap_or_default();
    let who = granter.unwrap_or_else(|| brand.display_name.clone());
    let what = match PortalAccess::parse(&grant.access) {
        PortalAccess::Read => "see the status of your backups",
        PortalAccess::Restore => "see your backups and get your data back",
    };
    let until = grant
        .expires_at
        .map(|t| format!(" until {}", t.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    let accept_by = grant
        .token_expires_at
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let body = format!(
        "Hello,\n\n\
         {who} gave you access to {what}{until}, in {account}'s portal on ListBackup.\n\n\
         Sign in (or register) as {to} and accept here:\n\n{link}\n\n\
         The link works once and expires on {accept_by}.\n",
        account = brand.display_name,
    );
    let subject = format!("Your backups at {}", brand.display_name);
    Ok(mail
        .send(to, Some(&brand.display_name), &subject, body)
        .await)
}
