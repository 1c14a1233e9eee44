//! A job waiting in `needs_reauth` is still the source's one active job: the partial unique
//! index covers it too, so no second job starts while one waits for its connection.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn replace_index(m: &SchemaManager<'_>, statuses: &str) -> Result<(), DbErr> {
    let db = m.get_connection();
    db.execute_unprepared("DROP INDEX ux_jobs_one_active_per_source")
        .await?;
    db.execute_unprepared(&format!(
        "CREATE UNIQUE INDEX ux_jobs_one_active_per_source ON jobs (source_id) \
         WHERE status IN ({statuses})"
    ))
    .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        replace_index(m, "'queued', 'running', 'needs_reauth'").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        replace_index(m, "'queued', 'running'").await
    }
}
