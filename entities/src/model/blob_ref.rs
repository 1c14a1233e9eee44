//! A snapshot's use of a blob, recorded by the backup *before* the record that names the blob is
//! written into a part. Retention's sweep never deletes a blob that has a row here, so a blob a
//! running backup has decided to use is protected from that moment, not only once its part is
//! committed (see `docs/retention.md`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "blob_refs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub snapshot_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    pub account_id: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
