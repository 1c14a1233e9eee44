//! Connections through the API: connection names unique per account (the API's 409
//! `duplicate_name`), and the OAuth authorizations in progress (`oauth_states`).

use crate::model::{account, connection, oauth_state};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ux_connections_account_name")
                .table(connection::Entity)
                .col(connection::Column::AccountId)
                .col(connection::Column::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        use oauth_state::Column as O;
        m.create_table(
            Table::create()
                .table(oauth_state::Entity)
                .col(string_len(O::Id, 64).primary_key())
                .col(string_len_uniq(O::StateHash, 64))
                .col(string_len(O::AccountId, 64))
                .col(string_len(O::Actor, 128))
                .col(string_len(O::Platform, 32))
                .col(string(O::Name))
                .col(json(O::Config))
                .col(string_len_null(O::ConnectionId, 64))
                .col(text_null(O::RedirectAfter))
                .col(text(O::VerifierSealed))
                .col(timestamp_with_time_zone(O::CreatedAt))
                .col(timestamp_with_time_zone(O::ExpiresAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(oauth_state::Entity, O::AccountId)
                        .to(account::Entity, account::Column::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_oauth_states_expires_at")
                .table(oauth_state::Entity)
                .col(O::ExpiresAt)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(oauth_state::Entity).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ux_connections_account_name")
                .table(connection::Entity)
                .to_owned(),
        )
        .await
    }
}
