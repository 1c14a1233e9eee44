//! A recurring backup of a source, backed by a Temporal Schedule.

use super::JobKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    /// Five fields: minute, hour, day of month, month, day of week.
    pub cron: String,
    /// IANA time zone the cron expression is read in.
    pub timezone: String,
    pub jitter_secs: i64,
    pub paused: bool,
    pub temporal_schedule_id: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// What each run does: a full backup or an incremental sync.
    pub kind: JobKind,
    /// How late a missed run (Temporal down, schedule paused) may still start.
    pub catchup_window_secs: i64,
    /// When the last scheduled run fired, what became of it and its job.
    pub last_run_at: Option<DateTimeUtc>,
    /// `started` (a job was created) or `skipped` (the source had an active job).
    pub last_run_outcome: Option<String>,
    pub last_run_job_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
