//! A refresh token of a signed-in user. Only its SHA-256 is stored.
//!
//! Every refresh exchanges a token for a new one in the same family (one family per sign-in).
//! A token that was already exchanged (`rotated_at`) and is presented again was copied by
//! someone: the whole family is revoked, which also ends the access tokens issued to it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The sign-in this token descends from; access tokens carry it as their `sid` claim.
    pub family_id: String,
    pub user_id: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    /// When it was exchanged for its successor.
    pub rotated_at: Option<DateTimeUtc>,
    /// When its family was revoked (sign-out, or a rotated token used again).
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
