//! An invitation by email to join an account with a role. The token the email carries is
//! single use and expires; only its SHA-256 is stored.

use super::Role;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invitations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    /// The address invited (normalised); only a user signed in with it may accept.
    pub email: String,
    pub role: Role,
    /// Who invited: `user:{id}` or `api_key:{id}`.
    pub invited_by: String,
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub accepted_at: Option<DateTimeUtc>,
    pub accepted_by: Option<String>,
    pub revoked_at: Option<DateTimeUtc>,
    /// A team of the account the invitee joins (as `member`) on accepting.
    pub team_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
