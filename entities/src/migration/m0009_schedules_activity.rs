//! Schedules: the kind of run, the catch-up window and the last run; indexes for listing jobs
//! per account and for the activity log's retention pass.

use crate::model::{activity_log, job, schedule};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use schedule::Column as Sc;
        // SQLite alters one column per statement.
        for col in [
            string_len(Sc::Kind, 16).default("sync").take(),
            big_integer(Sc::CatchupWindowSecs).default(3600).take(),
            timestamp_with_time_zone_null(Sc::LastRunAt),
            string_len_null(Sc::LastRunOutcome, 16),
            string_len_null(Sc::LastRunJobId, 64),
        ] {
            m.alter_table(
                Table::alter()
                    .table(schedule::Entity)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("ix_schedules_source")
                .table(schedule::Entity)
                .col(Sc::SourceId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_account")
                .table(job::Entity)
                .col(job::Column::AccountId)
                .col(job::Column::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_activity_log_created")
                .table(activity_log::Entity)
                .col(activity_log::Column::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("ix_activity_log_created", activity_log::Entity.into_iden()),
            ("ix_jobs_account", job::Entity.into_iden()),
            ("ix_schedules_source", schedule::Entity.into_iden()),
        ] {
            m.drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        use schedule::Column as Sc;
        for col in [
            Sc::LastRunJobId,
            Sc::LastRunOutcome,
            Sc::LastRunAt,
            Sc::CatchupWindowSecs,
            Sc::Kind,
        ] {
            m.alter_table(
                Table::alter()
                    .table(schedule::Entity)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
