//! An account's scheduled verification pass, backed by a Temporal Schedule.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "verification_schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    /// Five fields: minute, hour, day of month, month, day of week.
    pub cron: String,
    /// IANA time zone the cron expression is read in.
    pub timezone: String,
    pub paused: bool,
    pub temporal_schedule_id: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
