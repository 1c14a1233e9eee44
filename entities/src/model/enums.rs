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

impl Role {
    /// Every role, highest first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Operator, Role::Viewer];

    /// The role's rank: owner > admin > operator > viewer. A role includes everything the
    /// roles below it may do.
    pub fn rank(self) -> u8 {
        match self {
            Role::Owner => 4,
            Role::Admin => 3,
            Role::Operator => 2,
            Role::Viewer => 1,
        }
    }

    /// The role as stored and shown (`owner`, `admin`, `operator`, `viewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

/// Roles compare by rank, so `role >= Role::Operator` reads as "operator or above".
impl Ord for Role {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank().cmp(&other.rank())
    }
}

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
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
