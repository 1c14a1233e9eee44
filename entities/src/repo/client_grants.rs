//! Client grants: creating, accepting and revoking them, and the sources a user reaches through
//! them. A grant's token is stored only as a SHA-256 and used up by one guarded `UPDATE`.

use super::{hash_secret, random_secret};
use crate::model::{client_grant, client_grant_target, source, source_group_member, team_member};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    Set, sea_query::Expr,
};
use std::collections::{BTreeMap, HashMap};

/// The prefix of client-grant tokens.
pub const CLIENT_GRANT_PREFIX: &str = "lbc_";
/// A target that is one source.
pub const TARGET_SOURCE: &str = "source";
/// A target that is a source group: its sources at the time of each request.
pub const TARGET_SOURCE_GROUP: &str = "source_group";
/// Read access: the granted sources, their jobs and snapshots.
pub const ACCESS_READ: &str = "read";
/// Restore access: also the snapshots' contents (records, downloads).
pub const ACCESS_RESTORE: &str = "restore";

/// A grant to create: to a client (`email`, with a token until `token_expires_at`) or to a team.
pub struct NewClientGrant<'a> {
    pub account_id: &'a str,
    pub email: Option<&'a str>,
    pub team_id: Option<&'a str>,
    pub access: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub token_expires_at: Option<DateTime<Utc>>,
    pub created_by: &'a str,
    pub sources: &'a [String],
    pub source_groups: &'a [String],
}

/// Creates a grant with its targets; returns it with its token, for a grant to a client (stored
/// only hashed). Run it in a transaction.
pub async fn create_client_grant(
    db: &impl ConnectionTrait,
    new: NewClientGrant<'_>,
) -> Result<(client_grant::Model, Option<String>), DbErr> {
    let token = new.email.map(|_| random_secret(CLIENT_GRANT_PREFIX));
    let now = Utc::now();
    let grant = client_grant::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(new.account_id.to_owned()),
        email: Set(new.email.map(str::to_owned)),
        user_id: Set(None),
        team_id: Set(new.team_id.map(str::to_owned)),
        access: Set(new.access.to_owned()),
        token_hash: Set(token.as_deref().map(hash_secret)),
        token_expires_at: Set(new.token_expires_at.filter(|_| token.is_some())),
        expires_at: Set(new.expires_at),
        accepted_at: Set(None),
        revoked_at: Set(None),
        created_by: Set(new.created_by.to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    let targets = new
        .sources
        .iter()
        .map(|id| (TARGET_SOURCE, id))
        .chain(new.source_groups.iter().map(|id| (TARGET_SOURCE_GROUP, id)));
    for (kind, id) in targets {
        client_grant_target::ActiveModel {
            grant_id: Set(grant.id.clone()),
            kind: Set(kind.to_owned()),
            target_id: Set(id.clone()),
        }
        .insert(db)
        .await?;
    }
    Ok((grant, token))
}

/// The targets of `grant_ids`, by grant.
pub async fn client_grant_targets(
    db: &impl ConnectionTrait,
    grant_ids: &[String],
) -> Result<HashMap<String, Vec<client_grant_target::Model>>, DbErr> {
    let mut by_grant: HashMap<String, Vec<client_grant_target::Model>> = HashMap::new();
    if grant_ids.is_empty() {
        return Ok(by_grant);
    }
    for t in client_grant_target::Entity::find()
        .filter(client_grant_target::Column::GrantId.is_in(grant_ids.iter().cloned()))
        .all(db)
        .await?
    {
        by_grant.entry(t.grant_id.clone()).or_default().push(t);
    }
    Ok(by_grant)
}

/// The grant a token belongs to, whatever its state.
pub async fn find_client_grant_by_token(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<client_grant::Model>, DbErr> {
    client_grant::Entity::find()
        .filter(client_grant::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await
}

/// Binds an open grant to `user_id`: true when it was still open (not accepted, revoked, or
/// past its token's or its own expiry).
pub async fn accept_client_grant(
    db: &impl ConnectionTrait,
    grant_id: &str,
    user_id: &str,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let res = client_grant::Entity::update_many()
        .col_expr(client_grant::Column::AcceptedAt, Expr::value(now))
        .col_expr(client_grant::Column::UserId, Expr::value(user_id))
        .filter(client_grant::Column::Id.eq(grant_id))
        .filter(client_grant::Column::AcceptedAt.is_null())
        .filter(client_grant::Column::RevokedAt.is_null())
        .filter(client_grant::Column::TokenExpiresAt.gt(now))
        .filter(
            Condition::any()
                .add(client_grant::Column::ExpiresAt.is_null())
                .add(client_grant::Column::ExpiresAt.gt(now)),
        )
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes a grant that is not revoked yet: true when it was live.
pub async fn revoke_client_grant(db: &impl ConnectionTrait, grant_id: &str) -> Result<bool, DbErr> {
    let res = client_grant::Entity::update_many()
        .col_expr(client_grant::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(client_grant::Column::Id.eq(grant_id))
        .filter(client_grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The grants `user_id` holds now: accepted by them, or given to a team they are in; neither
/// revoked nor expired. One query.
pub async fn live_client_grants(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<client_grant::Model>, DbErr> {
    let now = Utc::now();
    let their_teams = sea_orm::sea_query::Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned();
    let holder = Condition::any()
        .add(client_grant::Column::UserId.eq(user_id))
        .add(client_grant::Column::TeamId.in_subquery(their_teams));
    client_grant::Entity::find()
        .filter(holder)
        .filter(client_grant::Column::RevokedAt.is_null())
        .filter(
            Condition::any()
                .add(client_grant::Column::ExpiresAt.is_null())
                .add(client_grant::Column::ExpiresAt.gt(now)),
        )
        .all(db)
        .await
}

/// A source reached through grants: the highest access any of them gives, and which grants.
#[derive(Debug, Clone)]
pub struct GrantedSource {
    pub source: source::Model,
    /// [`ACCESS_RESTORE`] when any grant gives it, else [`ACCESS_READ`].
    pub access: &'static str,
    pub grant_ids: Vec<String>,
}

/// The sources `grants` reach: their sources, and the members of their source groups, that
/// belong to the grant's account. Ordered by source id.
pub async fn granted_sources(
    db: &impl ConnectionTrait,
    grants: &[client_grant::Model],
) -> Result<BTreeMap<String, GrantedSource>, DbErr> {
    let ids: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
    let targets = client_grant_targets(db, &ids).await?;
    let groups: Vec<String> = targets
        .values()
        .flatten()
        .filter(|t| t.kind == TARGET_SOURCE_GROUP)
        .map(|t| t.target_id.clone())
        .collect();
    let mut group_members: HashMap<String, Vec<String>> = HashMap::new();
    if !groups.is_empty() {
        for m in source_group_member::Entity::find()
            .filter(source_group_member::Column::GroupId.is_in(groups))
            .all(db)
            .await?
        {
            group_members
                .entry(m.group_id)
                .or_default()
                .push(m.source_id);
        }
    }
    // (source id, grant) for every source each grant names.
    let mut wanted: Vec<(String, &client_grant::Model)> = Vec::new();
    for g in grants {
        for t in targets.get(&g.id).into_iter().flatten() {
            if t.kind == TARGET_SOURCE {
                wanted.push((t.target_id.clone(), g));
            } else if let Some(members) = group_members.get(&t.target_id) {
                wanted.extend(members.iter().map(|s| (s.clone(), g)));
            }
        }
    }
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return Ok(out);
    }
    let sources: HashMap<String, source::Model> = source::Entity::find()
        .filter(source::Column::Id.is_in(wanted.iter().map(|(s, _)| s.clone())))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id.clone(), s))
        .collect();
    for (source_id, grant) in wanted {
        // A source is reached only within the grant's own account.
        let Some(src) = sources
            .get(&source_id)
            .filter(|s| s.account_id == grant.account_id)
        else {
            continue;
        };
        let entry = out.entry(source_id).or_insert_with(|| GrantedSource {
            source: src.clone(),
            access: ACCESS_READ,
            grant_ids: Vec::new(),
        });
        if grant.access == ACCESS_RESTORE {
            entry.access = ACCESS_RESTORE;
        }
        if !entry.grant_ids.contains(&grant.id) {
            entry.grant_ids.push(grant.id.clone());
        }
    }
    Ok(out)
}

/// Removes a deleted source or source group from every grant. Run it in the deleting
/// transaction.
pub async fn forget_client_grant_target(
    db: &impl ConnectionTrait,
    kind: &str,
    target_id: &str,
) -> Result<(), DbErr> {
    client_grant_target::Entity::delete_many()
        .filter(client_grant_target::Column::Kind.eq(kind))
        .filter(client_grant_target::Column::TargetId.eq(target_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the grants matching `filter` with their targets.
async fn delete_client_grants_where(
    db: &impl ConnectionTrait,
    filter: Condition,
) -> Result<(), DbErr> {
    let ids: Vec<String> = client_grant::Entity::find()
        .filter(filter)
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    client_grant_target::Entity::delete_many()
        .filter(client_grant_target::Column::GrantId.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    client_grant::Entity::delete_many()
        .filter(client_grant::Column::Id.is_in(ids))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes an account's grants (the account is being deleted).
pub async fn delete_account_client_grants(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<(), DbErr> {
    delete_client_grants_where(
        db,
        Condition::all().add(client_grant::Column::AccountId.eq(account_id)),
    )
    .await
}

/// Deletes the grants given to a team (the team is being deleted).
pub async fn delete_team_client_grants(
    db: &impl ConnectionTrait,
    team_id: &str,
) -> Result<(), DbErr> {
    delete_client_grants_where(
        db,
        Condition::all().add(client_grant::Column::TeamId.eq(team_id)),
    )
    .await
}
