//! A URL of an account's that is told about job outcomes and missed scheduled runs, with the
//! secret its notifications are signed with.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub url: String,
    /// The event names it receives (`["job.succeeded", "job.failed"]`).
    pub events: Json,
    pub description: Option<String>,
    pub enabled: bool,
    /// The signing secret sealed under the master key; shown once, never stored in clear.
    pub secret_sealed: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// True when the webhook is enabled and subscribed to `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.enabled
            && self
                .events
                .as_array()
                .is_some_and(|events| events.iter().any(|e| e.as_str() == Some(event)))
    }
}
