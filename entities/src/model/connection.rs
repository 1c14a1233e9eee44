//! Credentials for one platform account (an API key or OAuth tokens), sealed at rest.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub platform: String,
    pub name: String,
    /// JSON credentials sealed under the master key; never returned by the API or logged.
    pub credentials_sealed: String,
    /// Non-secret settings (base URL, region, …).
    pub config: Json,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
