//! Who may reach which account: the account tree, memberships and API keys.

use crate::model::*;
use chrono::Utc;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr,
};
use std::collections::HashSet;

/// The accounts `roots` and every account below them, each once, breadth first (roots first).
/// Unknown roots are left out.
pub async fn accounts_below(
    db: &impl ConnectionTrait,
    roots: &[String],
) -> Result<Vec<account::Model>, DbErr> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    // The roots and their children in one query: most callers reach a top-level account
    // without sub-accounts, and that is then all it takes.
    let first = account::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(account::Column::Id.is_in(roots.iter().cloned()))
                .add(account::Column::ParentId.is_in(roots.iter().cloned())),
        )
        .all(db)
        .await?;
    let (mut all, children): (Vec<account::Model>, Vec<account::Model>) =
        first.into_iter().partition(|a| roots.contains(&a.id));
    let mut seen: HashSet<String> = all.iter().map(|a| a.id.clone()).collect();
    let children: Vec<account::Model> = children
        .into_iter()
        .filter(|a| seen.insert(a.id.clone()))
        .collect();
    let mut frontier: Vec<String> = children.iter().map(|a| a.id.clone()).collect();
    all.extend(children);
    // Then one query per further level of the tree, however many roots there are.
    while !frontier.is_empty() {
        let children: Vec<account::Model> = account::Entity::find()
            .filter(account::Column::ParentId.is_in(frontier))
            .all(db)
            .await?
            .into_iter()
            .filter(|a| seen.insert(a.id.clone()))
            .collect();
        frontier = children.iter().map(|a| a.id.clone()).collect();
        all.extend(children);
    }
    Ok(all)
}

/// Whether `account_id` or an account above it requires a second factor of its members.
pub async fn requires_second_factor(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<bool, DbErr> {
    let own = account::Entity::find_by_id(account_id)
        .one(db)
        .await?
        .is_some_and(|a| a.require_mfa);
    Ok(own
        || account_ancestors(db, account_id)
            .await?
            .iter()
            .any(|a| a.require_mfa))
}

/// The accounts above `account_id`, nearest first (empty for a top-level account).
pub async fn account_ancestors(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<account::Model>, DbErr> {
    let mut chain: Vec<account::Model> = Vec::new();
    let mut next = account::Entity::find_by_id(account_id)
        .one(db)
        .await?
        .and_then(|a| a.parent_id);
    while let Some(id) = next {
        // Parents are set once, at creation, so the chain cannot loop; the check keeps a
        // hand-edited database from hanging a request.
        if chain.iter().any(|a| a.id == id) {
            break;
        }
        let Some(parent) = account::Entity::find_by_id(id).one(db).await? else {
            break;
        };
        next = parent.parent_id.clone();
        chain.push(parent);
    }
    Ok(chain)
}

/// A user's memberships (their direct roles).
pub async fn memberships_of(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<membership::Model>, DbErr> {
    membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .all(db)
        .await
}

/// `user_id`'s membership of `account_id`, if they have one.
pub async fn find_membership(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: &str,
) -> Result<Option<membership::Model>, DbErr> {
    membership::Entity::find()
        .filter(membership::Column::AccountId.eq(account_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// How many owner memberships `accounts` have together.
pub async fn count_owners(db: &impl ConnectionTrait, accounts: &[String]) -> Result<u64, DbErr> {
    membership::Entity::find()
        .filter(membership::Column::AccountId.is_in(accounts.iter().cloned()))
        .filter(membership::Column::Role.eq(Role::Owner))
        .count(db)
        .await
}

/// The user with this (normalised) email, if any.
pub async fn find_user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await
}

/// Revokes an active key once. Returns whether it was active.
pub async fn revoke_api_key(db: &impl ConnectionTrait, key_id: &str) -> Result<bool, DbErr> {
    let res = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_key::Column::Id.eq(key_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records that a key was just used.
pub async fn touch_api_key(db: &impl ConnectionTrait, key_id: &str) -> Result<(), DbErr> {
    api_key::Entity::update_many()
        .col_expr(api_key::Column::LastUsedAt, Expr::value(Utc::now()))
        .filter(api_key::Column::Id.eq(key_id))
        .exec(db)
        .await?;
    Ok(())
}

/// What stops an account from being deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountInUse {
    SubAccounts,
    Sources,
}

/// Deletes an account that has no sub-accounts and no sources, with its memberships, API keys,
/// connections and webhooks. The activity log is kept. Run it in a transaction.
pub async fn delete_account(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Result<(), AccountInUse>, DbErr> {
    let children = account::Entity::find()
        .filter(account::Column::ParentId.eq(account_id))
        .count(db)
        .await?;
    if children > 0 {
        return Ok(Err(AccountInUse::SubAccounts));
    }
    let sources = source::Entity::find()
        .filter(source::Column::AccountId.eq(account_id))
        .count(db)
        .await?;
    if sources > 0 {
        return Ok(Err(AccountInUse::Sources));
    }
    membership::Entity::delete_many()
        .filter(membership::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    api_key::Entity::delete_many()
        .filter(api_key::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    invitation::Entity::delete_many()
        .filter(invitation::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    super::delete_account_client_grants(db, account_id).await?;
    super::delete_account_teams(db, account_id).await?;
    account_branding::Entity::delete_by_id(account_id)
        .exec(db)
        .await?;
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    connection::Entity::delete_many()
        .filter(connection::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    super::delete_account_webhooks(db, account_id).await?;
    verification::Entity::delete_many()
        .filter(verification::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    export::Entity::delete_many()
        .filter(export::Column::AccountId.eq(account_id))
        .exec(db)
        .await?;
    verification_schedule::Entity::delete_by_id(account_id)
        .exec(db)
        .await?;
    account::Entity::delete_by_id(account_id).exec(db).await?;
    Ok(Ok(()))
}

/// The access version (see the `m0021_access_version` migration): raised by the database with
/// every change to what callers' access is derived from, so access resolved at one version
/// holds while it is current.
pub async fn access_version(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM access_version WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the access version row".into()))?;
    row.try_get("", "version")
}
