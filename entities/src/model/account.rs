//! A tenant. Accounts form a tree (`parent_id`): access to a parent reaches its sub-accounts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "accounts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    /// The account's age recipient (`age1…`): every part of its snapshots is encrypted to it.
    pub encryption_recipient: String,
    /// The matching age identity, sealed under the server's master key. `None` when the
    /// customer holds the identity and the service can no longer decrypt.
    pub encryption_identity_sealed: Option<String>,
    pub created_at: DateTimeUtc,
    /// Members reach this account and those below it only once they have a second factor.
    pub require_mfa: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
