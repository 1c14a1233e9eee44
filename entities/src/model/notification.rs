//! An email to send a user about a job's outcome: written in the transaction that ends the job
//! (an outbox, like webhook deliveries), for each user who reaches the job's account as a member
//! and wants that event, and sent by the API process's notification sender.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub account_id: String,
    pub job_id: String,
    /// `job.succeeded` or `job.failed`.
    pub event: String,
    /// `pending`, `sent`, `failed` (gave up) or `skipped` (too old to be worth sending).
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Not to be tried before this time: the next attempt, or the lease of the sender trying.
    pub not_before: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
