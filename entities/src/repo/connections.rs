//! Connections and the OAuth authorizations that create or renew them.

use crate::model::*;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, Set, sea_query::Expr,
};
use serde_json::Value;

/// What [`take_oauth_state`] found for a `state`.
#[derive(Debug, Clone, PartialEq)]
pub enum TakenOAuthState {
    /// The authorization, now used up: this caller is the only one that got it.
    Taken(Box<oauth_state::Model>),
    /// It existed but its ten minutes were over; it is deleted now.
    Expired,
    /// No such state: never issued, already used, or deleted.
    Unknown,
}

/// A new OAuth authorization in progress.
#[derive(Debug, Clone)]
pub struct NewOAuthState<'a> {
    pub state_hash: &'a str,
    pub account_id: &'a str,
    pub actor: &'a str,
    pub platform: &'a str,
    pub name: &'a str,
    pub config: Value,
    pub connection_id: Option<&'a str>,
    pub redirect_after: Option<&'a str>,
    pub verifier_sealed: String,
    pub expires_at: DateTime<Utc>,
}

/// Records an authorization in progress.
pub async fn create_oauth_state(
    db: &impl ConnectionTrait,
    new: NewOAuthState<'_>,
) -> Result<oauth_state::Model, DbErr> {
    oauth_state::ActiveModel {
        id: Set(crate::new_id()),
        state_hash: Set(new.state_hash.to_owned()),
        account_id: Set(new.account_id.to_owned()),
        actor: Set(new.actor.to_owned()),
        platform: Set(new.platform.to_owned()),
        name: Set(new.name.to_owned()),
        config: Set(new.config),
        connection_id: Set(new.connection_id.map(str::to_owned)),
        redirect_after: Set(new.redirect_after.map(str::to_owned)),
        verifier_sealed: Set(new.verifier_sealed),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
    }
    .insert(db)
    .await
}

/// Uses up the authorization whose state hashes to `state_hash`. The row is deleted by one
/// guarded statement, so of two callbacks racing with the same state exactly one gets it.
pub async fn take_oauth_state(
    db: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<TakenOAuthState, DbErr> {
    let Some(row) = oauth_state::Entity::find()
        .filter(oauth_state::Column::StateHash.eq(state_hash))
        .one(db)
        .await?
    else {
        return Ok(TakenOAuthState::Unknown);
    };
    let deleted = oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::Id.eq(row.id.as_str()))
        .exec(db)
        .await?;
    Ok(if deleted.rows_affected != 1 {
        TakenOAuthState::Unknown
    } else if row.expires_at <= Utc::now() {
        TakenOAuthState::Expired
    } else {
        TakenOAuthState::Taken(Box::new(row))
    })
}

/// Deletes authorizations that expired before `now` (they can never be used); returns how many.
pub async fn delete_expired_oauth_states(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Replaces a connection's sealed credentials and marks it `active`; false when it is gone.
pub async fn replace_connection_credentials(
    db: &impl ConnectionTrait,
    connection_id: &str,
    credentials_sealed: String,
) -> Result<bool, DbErr> {
    let res = connection::Entity::update_many()
        .col_expr(
            connection::Column::CredentialsSealed,
            Expr::value(credentials_sealed),
        )
        .col_expr(connection::Column::Status, Expr::value("active"))
        .col_expr(connection::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(connection::Column::Id.eq(connection_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// How many sources back up through `connection_id`.
pub async fn sources_using_connection(
    db: &impl ConnectionTrait,
    connection_id: &str,
) -> Result<u64, DbErr> {
    source::Entity::find()
        .filter(source::Column::ConnectionId.eq(connection_id))
        .count(db)
        .await
}

/// Deletes a connection that no source uses, with the file fingerprints remembered for it.
/// Returns false when a source uses it (nothing is deleted) or it is gone. Run it in a
/// transaction.
pub async fn delete_unused_connection(
    db: &impl ConnectionTrait,
    connection_id: &str,
) -> Result<bool, DbErr> {
    if sources_using_connection(db, connection_id).await? > 0 {
        return Ok(false);
    }
    file_fingerprint::Entity::delete_many()
        .filter(file_fingerprint::Column::ConnectionId.eq(connection_id))
        .exec(db)
        .await?;
    let res = connection::Entity::delete_many()
        .filter(connection::Column::Id.eq(connection_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
