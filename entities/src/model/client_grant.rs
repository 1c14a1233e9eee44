//! A grant of chosen sources (directly or through source groups) of one account to someone who
//! is not a member: an external client, by email, who accepts it with a single-use token from
//! the email; or a team of the account, whose members hold it at once. Holders reach the
//! granted sources through the client portal only, with `read` (status: jobs and snapshots)
//! or `restore` (also the contents: records and downloads) access, until it expires or is
//! revoked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    /// The client's address (normalised), for a grant to a client.
    pub email: Option<String>,
    /// The client who accepted it.
    pub user_id: Option<String>,
    /// The team it is granted to, for a grant to a team.
    pub team_id: Option<String>,
    /// `read` or `restore`.
    pub access: String,
    /// SHA-256 of the acceptance token (a client grant not yet accepted).
    #[sea_orm(unique)]
    pub token_hash: Option<String>,
    /// Until when the token can be accepted.
    pub token_expires_at: Option<DateTimeUtc>,
    /// When the grant ends, if it does.
    pub expires_at: Option<DateTimeUtc>,
    pub accepted_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    /// Who granted: `user:{id}` or `api_key:{id}`.
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
