//! Sign-in sessions: rotating refresh tokens in families.
//!
//! A sign-in starts a family. Each refresh marks the presented token rotated and issues its
//! successor in the same family, in one guarded `UPDATE`, so two requests racing with one token
//! cannot both succeed. A rotated token presented again means it was copied: the family is
//! revoked, and with it every access token that names the family.

use super::{hash_secret, random_secret};
use crate::model::{refresh_token, user};
use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
    sea_query::Expr,
};

/// The prefix every refresh token starts with.
pub const REFRESH_TOKEN_PREFIX: &str = "lbr_";

/// A refresh token just issued, with its secret (stored only as a hash).
#[derive(Clone)]
pub struct IssuedRefreshToken {
    pub token: refresh_token::Model,
    pub secret: String,
}

impl std::fmt::Debug for IssuedRefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedRefreshToken")
            .field("token", &self.token)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// The token was current: here is its successor.
    Rotated(IssuedRefreshToken),
    /// The token had been rotated already: its family (named) is now revoked.
    Reused { family_id: String, user_id: String },
    /// Unknown, expired, or its family was revoked before.
    Invalid,
}

async fn issue(
    db: &impl ConnectionTrait,
    user_id: &str,
    family_id: String,
    ttl: Duration,
) -> Result<IssuedRefreshToken, DbErr> {
    let secret = random_secret(REFRESH_TOKEN_PREFIX);
    let now = Utc::now();
    let token = refresh_token::ActiveModel {
        id: Set(crate::new_id()),
        family_id: Set(family_id),
        user_id: Set(user_id.to_owned()),
        token_hash: Set(hash_secret(&secret)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        rotated_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(IssuedRefreshToken { token, secret })
}

/// Starts a new family for `user_id` (a sign-in) with its first refresh token.
pub async fn start_session(
    db: &impl ConnectionTrait,
    user_id: &str,
    ttl: Duration,
) -> Result<IssuedRefreshToken, DbErr> {
    issue(db, user_id, crate::new_id(), ttl).await
}

/// Exchanges `secret` for its successor, valid for `ttl`. Run it in a transaction, so a
/// successor is never missing for a token marked rotated.
pub async fn rotate_refresh_token(
    db: &impl ConnectionTrait,
    secret: &str,
    ttl: Duration,
) -> Result<Rotation, DbErr> {
    let Some(current) = find_refresh_token(db, secret).await? else {
        return Ok(Rotation::Invalid);
    };
    let now = Utc::now();
    if current.revoked_at.is_some() {
        return Ok(Rotation::Invalid);
    }
    if current.rotated_at.is_some() {
        revoke_session(db, &current.family_id).await?;
        return Ok(Rotation::Reused {
            family_id: current.family_id,
            user_id: current.user_id,
        });
    }
    if current.expires_at <= now {
        return Ok(Rotation::Invalid);
    }
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(current.id.as_str()))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if claimed.rows_affected != 1 {
        // Another request exchanged the same token a moment ago: that is reuse too.
        revoke_session(db, &current.family_id).await?;
        return Ok(Rotation::Reused {
            family_id: current.family_id,
            user_id: current.user_id,
        });
    }
    // Expired tokens of the family are no longer needed to recognise reuse.
    refresh_token::Entity::delete_many()
        .filter(refresh_token::Column::FamilyId.eq(current.family_id.as_str()))
        .filter(refresh_token::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(Rotation::Rotated(
        issue(db, &current.user_id, current.family_id, ttl).await?,
    ))
}

/// The stored row of a refresh token, whatever its state.
pub async fn find_refresh_token(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<refresh_token::Model>, DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash_secret(secret)))
        .one(db)
        .await
}

/// Revokes every token of a family. Returns how many were still unrevoked.
pub async fn revoke_session(db: &impl ConnectionTrait, family_id: &str) -> Result<u64, DbErr> {
    let res = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// True while a family has not been revoked (access tokens name it and stop with it).
/// The user `user_id`, if their session `family_id` is active: what authenticating an access
/// token needs, in one query.
pub async fn user_of_active_session(
    db: &impl ConnectionTrait,
    user_id: &str,
    family_id: &str,
) -> Result<Option<user::Model>, DbErr> {
    let active = sea_orm::sea_query::Query::select()
        .expr(sea_orm::sea_query::Expr::val(1))
        .from(refresh_token::Entity)
        .and_where(refresh_token::Column::FamilyId.eq(family_id))
        .and_where(refresh_token::Column::RevokedAt.is_null())
        .to_owned();
    user::Entity::find_by_id(user_id)
        .filter(sea_orm::sea_query::Expr::exists(active))
        .one(db)
        .await
}

pub async fn session_is_active(db: &impl ConnectionTrait, family_id: &str) -> Result<bool, DbErr> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .is_some())
}
