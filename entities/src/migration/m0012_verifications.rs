//! Snapshot verifications, with the indexes for a snapshot's and an account's history and a
//! scheduled pass's verifications; and each account's verification schedule.

use crate::model::{account, verification, verification_schedule};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use verification::Column as V;
        m.create_table(
            Table::create()
                .table(verification::Entity)
                .col(string_len(V::Id, 64).primary_key())
                .col(string_len(V::AccountId, 64))
                .col(string_len(V::SourceId, 64))
                .col(string_len(V::SnapshotId, 64))
                .col(string_len(V::Status, 16))
                .col(string_len(V::RequestedBy, 128))
                .col(text(V::WorkflowId))
                .col(text_null(V::RunId))
                .col(string_len_null(V::PassId, 64))
                .col(boolean(V::Decrypted))
                .col(big_integer(V::ObjectsChecked))
                .col(big_integer(V::BytesChecked))
                .col(big_integer(V::RecordsCounted))
                .col(json(V::Problems))
                .col(big_integer(V::ProblemCount))
                .col(text_null(V::Error))
                .col(timestamp_with_time_zone(V::CreatedAt))
                .col(timestamp_with_time_zone_null(V::FinishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(verification::Entity, V::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_verifications_snapshot", V::SnapshotId),
            ("ix_verifications_account", V::AccountId),
            ("ix_verifications_pass", V::PassId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(verification::Entity)
                    .col(col)
                    .col(V::Id)
                    .to_owned(),
            )
            .await?;
        }
        use verification_schedule::Column as S;
        m.create_table(
            Table::create()
                .table(verification_schedule::Entity)
                .col(string_len(S::AccountId, 64).primary_key())
                .col(string_len(S::Cron, 128))
                .col(string_len(S::Timezone, 64))
                .col(boolean(S::Paused))
                .col(text(S::TemporalScheduleId))
                .col(timestamp_with_time_zone(S::CreatedAt))
                .col(timestamp_with_time_zone(S::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(verification_schedule::Entity, S::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(verification_schedule::Entity)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(verification::Entity).to_owned())
            .await
    }
}
