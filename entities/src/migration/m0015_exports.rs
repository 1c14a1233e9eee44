//! Exports, with the index for an account's list.

use crate::model::{account, export};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use export::Column as E;
        m.create_table(
            Table::create()
                .table(export::Entity)
                .col(string_len(E::Id, 64).primary_key())
                .col(string_len(E::AccountId, 64))
                .col(string_len(E::RequestedBy, 128))
                .col(string_len(E::Status, 16))
                .col(string_len(E::Format, 16))
                .col(boolean(E::IncludeFiles))
                .col(json(E::SnapshotIds))
                .col(json_null(E::Streams))
                .col(text(E::ObjectKey))
                .col(big_integer(E::SizeBytes))
                .col(big_integer(E::Records))
                .col(big_integer(E::Files))
                .col(text_null(E::Error))
                .col(text(E::WorkflowId))
                .col(text_null(E::RunId))
                .col(timestamp_with_time_zone(E::CreatedAt))
                .col(timestamp_with_time_zone_null(E::FinishedAt))
                .col(timestamp_with_time_zone(E::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(export::Entity, E::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_exports_account")
                .table(export::Entity)
                .col(E::AccountId)
                .col(E::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(export::Entity).to_owned())
            .await
    }
}
