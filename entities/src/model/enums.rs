//! Status and kind enums, stored as short strings so both databases and humans read them.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A member's role in an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "owner")]
    Owner,
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "operator")]
    Operator,
    #[sea_orm(string_value = "viewer")]
    Viewer,
}

/// What a job does: a full backup or an incremental sync from the saved cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    #[sea_orm(string_value = "backup")]
    Backup,
    #[sea_orm(string_value = "sync")]
    Sync,
}

/// Where a job is in its life: queued -> running -> succeeded | failed | cancelled; a running
/// job whose connection the platform refused waits in `needs_reauth` until it is reconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    #[sea_orm(string_value = "queued")]
    Queued,
    #[sea_orm(string_value = "running")]
    Running,
    #[sea_orm(string_value = "succeeded")]
    Succeeded,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
    #[sea_orm(string_value = "needs_reauth")]
    NeedsReauth,
}

impl JobStatus {
    /// The statuses of a job that is still in progress: at most one per source.
    pub const ACTIVE: [JobStatus; 3] = [Self::Queued, Self::Running, Self::NeedsReauth];

    /// True once the job can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A snapshot is `writing` until its manifest is stored, then `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    #[sea_orm(string_value = "writing")]
    Writing,
    #[sea_orm(string_value = "complete")]
    Complete,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "cancelled")]
    Cancelled,
}
