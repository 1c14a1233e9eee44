//! Indexes in the order job lists read: a source's jobs newest first (`source_id, id`), and an
//! account's jobs of one status newest first (`account_id, status, id`, which also serves every
//! lookup the `account_id, status` index served, so that one goes).
//!
//! Without them a source's page sorted all of the source's jobs, and a page of an account's
//! failed jobs walked the account's jobs newest first until it had found enough failed ones.

use crate::model::job;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn index(name: &str, cols: &[job::Column]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(job::Entity);
    for col in cols {
        index.col(*col);
    }
    index.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(job::Entity).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use job::Column as J;
        m.create_index(index("ix_jobs_source_id", &[J::SourceId, J::Id]))
            .await?;
        m.create_index(index(
            "ix_jobs_account_status_id",
            &[J::AccountId, J::Status, J::Id],
        ))
        .await?;
        m.drop_index(drop("ix_jobs_account_status")).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use job::Column as J;
        m.create_index(index("ix_jobs_account_status", &[J::AccountId, J::Status]))
            .await?;
        m.drop_index(drop("ix_jobs_account_status_id")).await?;
        m.drop_index(drop("ix_jobs_source_id")).await
    }
}
