//! One run of a backup or sync, tied to its Temporal workflow.

use super::{JobKind, JobStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub workflow_id: String,
    pub run_id: Option<String>,
    pub snapshot_id: String,
    /// Per-stream progress as last committed (`{"customers": {"records": 10, "bytes": 1234, ...}}`).
    pub progress: Json,
    pub records: i64,
    pub bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// The failed or cancelled job this one retries (it continues the same snapshot).
    pub retry_of: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The kind as written in manifests and search attributes.
    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            JobKind::Backup => "backup",
            JobKind::Sync => "sync",
        }
    }
}
