//! One pass of `RetentionWorkflow` over an account: started from the API or by the account's
//! retention schedule, with what it deleted once it ends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "retention_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    /// Only this source's snapshots were considered; `None` for every source of the account.
    pub source_id: Option<String>,
    /// `api` or `schedule`.
    pub trigger: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Who asked for it (`user:{id}`, `api_key:{id}`, `system`).
    pub requested_by: String,
    /// The Temporal workflow id of the run (unique: a scheduled run claims its row once).
    pub workflow_id: String,
    /// What the run deleted (`workflows::contracts::RetentionResult`), once it has ended.
    pub result: Option<Json>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
