//! One export: chosen snapshots and streams written into a downloadable archive.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "exports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    /// `user:{id}` or `api_key:{id}`.
    pub requested_by: String,
    /// `running`, then `succeeded` or `failed`; later `expired` or `deleted` (the archive is
    /// gone).
    pub status: String,
    /// `jsonl` or `csv`.
    pub format: String,
    pub include_files: bool,
    /// The snapshots exported, in archive order (`["…", …]`).
    pub snapshot_ids: Json,
    /// The streams exported (`["customers", …]`), or null for all.
    pub streams: Option<Json>,
    /// Where the archive is (or will be) stored.
    pub object_key: String,
    /// Compressed bytes uploaded (so far, while running).
    pub size_bytes: i64,
    /// Records written (so far, while running).
    pub records: i64,
    /// Files written.
    pub files: i64,
    pub error: Option<String>,
    pub workflow_id: String,
    pub run_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// When the archive is deleted.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Being written.
pub const RUNNING: &str = "running";
/// Written; downloadable until it expires.
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
/// Deleted when it expired.
pub const EXPIRED: &str = "expired";
/// Deleted on request.
pub const DELETED: &str = "deleted";
