//! What to back up: a connection, the selected streams, and the cursor each stream reached.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub connection_id: String,
    pub platform: String,
    pub name: String,
    /// Selected stream names (JSON array); empty means every stream the platform offers.
    pub streams: Json,
    pub options: Json,
    /// Per-stream incremental cursor state (`{"customers": {...}}`), advanced by each completed snapshot.
    pub stream_state: Json,
    pub last_snapshot_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
