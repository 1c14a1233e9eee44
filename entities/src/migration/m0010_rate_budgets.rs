//! `rate_budgets`: one row per request budget, so every worker paces against one schedule.

use crate::model::rate_budget;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use rate_budget::Column as R;
        m.create_table(
            Table::create()
                .table(rate_budget::Entity)
                .col(text(R::Key).primary_key())
                .col(big_integer(R::NextAt))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(rate_budget::Entity).to_owned())
            .await
    }
}
