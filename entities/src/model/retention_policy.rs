//! A retention policy: how many snapshots of a source to keep, set on an account (for its own
//! sources) or on one source (overriding its account's).
//!
//! Counts follow restic's `forget --keep-*`: `keep_last` keeps the newest N complete
//! snapshots; each of `keep_daily` … `keep_yearly` keeps the newest complete snapshot of each of
//! the N most recent days (weeks, months, years) that have one. A zero count keeps nothing by
//! that rule; a row always has at least one count above zero (the API refuses the rest).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_policies")]
pub struct Model {
    /// The account's id for an account policy, the source's id for a source policy.
    #[sea_orm(primary_key, auto_increment = false)]
    pub target_id: String,
    pub account_id: String,
    /// Set for a source's policy; `None` for the account's.
    pub source_id: Option<String>,
    pub keep_last: i32,
    pub keep_daily: i32,
    pub keep_weekly: i32,
    pub keep_monthly: i32,
    pub keep_yearly: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
