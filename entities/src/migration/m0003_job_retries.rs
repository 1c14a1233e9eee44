//! `jobs.retry_of`: the job a retry continues (same snapshot, from its committed parts).

use crate::model::job;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(job::Entity)
                .add_column(string_len_null(job::Column::RetryOf, 64))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(job::Entity)
                .drop_column(job::Column::RetryOf)
                .to_owned(),
        )
        .await
    }
}
