//! At most one queued or running job per source, enforced by the database: two simultaneous
//! requests cannot both start one. A partial unique index, in the syntax Postgres and SQLite share.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_jobs_one_active_per_source ON jobs (source_id) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX ux_jobs_one_active_per_source")
            .await?;
        Ok(())
    }
}
