//! One notification to one webhook: written in the same transaction as the event it reports
//! (an outbox row), then delivered by a `WebhookDeliveryWorkflow` with retries.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// Also sent as `X-Listbackup-Delivery`, for receivers to drop duplicates.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub webhook_id: String,
    pub account_id: String,
    pub event: String,
    /// The JSON body sent, byte for byte the same on every attempt.
    pub payload: String,
    /// `pending`, `delivered` or `failed` (retries used up, or the URL is no longer allowed).
    pub status: String,
    pub attempts: i32,
    /// Every attempt: `[{"attempt", "at", "status_code"?, "error"?}]`, oldest first.
    pub attempt_log: Json,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    /// When its delivery workflow was started; `None` while it waits for the dispatcher.
    pub dispatched_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
