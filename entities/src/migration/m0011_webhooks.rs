//! Webhooks and their deliveries (the outbox of notifications), with the indexes for listing
//! an account's webhooks, a webhook's delivery log, and the dispatcher's undispatched rows.

use crate::model::{account, webhook, webhook_delivery};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use webhook::Column as W;
        m.create_table(
            Table::create()
                .table(webhook::Entity)
                .col(string_len(W::Id, 64).primary_key())
                .col(string_len(W::AccountId, 64))
                .col(text(W::Url))
                .col(json(W::Events))
                .col(text_null(W::Description))
                .col(boolean(W::Enabled))
                .col(text(W::SecretSealed))
                .col(timestamp_with_time_zone(W::CreatedAt))
                .col(timestamp_with_time_zone(W::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(webhook::Entity, W::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhooks_account")
                .table(webhook::Entity)
                .col(W::AccountId)
                .col(W::Id)
                .to_owned(),
        )
        .await?;

        use webhook_delivery::Column as D;
        m.create_table(
            Table::create()
                .table(webhook_delivery::Entity)
                .col(string_len(D::Id, 64).primary_key())
                .col(string_len(D::WebhookId, 64))
                .col(string_len(D::AccountId, 64))
                .col(string_len(D::Event, 64))
                .col(text(D::Payload))
                .col(string_len(D::Status, 16))
                .col(integer(D::Attempts))
                .col(json(D::AttemptLog))
                .col(integer_null(D::LastStatusCode))
                .col(text_null(D::LastError))
                .col(timestamp_with_time_zone_null(D::DispatchedAt))
                .col(timestamp_with_time_zone_null(D::DeliveredAt))
                .col(timestamp_with_time_zone(D::CreatedAt))
                .col(timestamp_with_time_zone(D::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(webhook_delivery::Entity, D::WebhookId)
                        .to(webhook::Entity, W::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_webhook")
                .table(webhook_delivery::Entity)
                .col(D::WebhookId)
                .col(D::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_webhook_deliveries_dispatched")
                .table(webhook_delivery::Entity)
                .col(D::DispatchedAt)
                .col(D::Id)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(webhook_delivery::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(webhook::Entity).to_owned())
            .await?;
        Ok(())
    }
}
