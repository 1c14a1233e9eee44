//! What a platform's own content fingerprint (Dropbox `content_hash`, Drive `md5Checksum`, a
//! Slack file's id and timestamp) resolved to the last time a connection's file was stored, so
//! unchanged files are neither downloaded nor uploaded again.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "file_fingerprints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub connection_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub fingerprint: String,
    pub account_id: String,
    /// The blob holding the contents (`blobs.sha256` in the same account).
    pub sha256: String,
    pub size: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
