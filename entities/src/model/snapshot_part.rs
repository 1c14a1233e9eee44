//! A committed part of a stream in a snapshot: the checkpoint that extraction resumes from.
//!
//! A row is written only after its object is stored, so the last row of a stream says exactly
//! where a retried or restarted extraction continues (`cursor_after`) and what is already safe.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "snapshot_parts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub snapshot_id: String,
    pub stream: String,
    pub part_no: i32,
    pub key: String,
    pub records: i64,
    pub raw_bytes: i64,
    pub stored_bytes: i64,
    pub sha256: String,
    /// The page cursor to continue from after this part (`null` when the stream ended with it).
    pub cursor_after: Json,
    /// The stream's incremental cursor as reached after this part.
    pub stream_cursor: Json,
    /// The blobs (sha256 of their contents) this part's records refer to; `null` for a part
    /// without file contents.
    pub blobs: Option<Json>,
    /// The part's record index as the manifest lists it (`storage::manifest::PartIndex`:
    /// key, sha256, size, entries, first and last id); `null` for parts written before indexes.
    pub record_index: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
