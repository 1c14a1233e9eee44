//! A point-in-time copy of a source, complete once its manifest is written.

use super::{JobKind, SnapshotStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshots")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    pub job_id: String,
    pub kind: JobKind,
    pub status: SnapshotStatus,
    pub parent_snapshot_id: Option<String>,
    pub manifest_key: Option<String>,
    pub records: i64,
    pub raw_bytes: i64,
    pub stored_bytes: i64,
    pub created_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
