//! The outbox of job-outcome emails.

use crate::model::notification;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use notification::Column as N;
        m.create_table(
            Table::create()
                .table(notification::Entity)
                .col(string_len(N::Id, 64).primary_key())
                .col(string_len(N::UserId, 64))
                .col(string_len(N::AccountId, 64))
                .col(string_len(N::JobId, 64))
                .col(string_len(N::Event, 32))
                .col(string_len(N::Status, 16))
                .col(integer(N::Attempts).default(0))
                .col(text_null(N::LastError))
                .col(timestamp_with_time_zone(N::NotBefore))
                .col(timestamp_with_time_zone(N::CreatedAt))
                .col(timestamp_with_time_zone_null(N::SentAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_notifications_due")
                .table(notification::Entity)
                .col(N::Status)
                .col(N::NotBefore)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(notification::Entity).to_owned())
            .await
    }
}
