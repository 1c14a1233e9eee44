//! The client portal: grants of chosen sources or source groups to external clients or teams,
//! and invitations straight into a team.

use crate::model::{account, client_grant, client_grant_target, invitation};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use client_grant::Column as G;
        m.create_table(
            Table::create()
                .table(client_grant::Entity)
                .col(string_len(G::Id, 64).primary_key())
                .col(string_len(G::AccountId, 64))
                .col(string_len_null(G::Email, 320))
                .col(string_len_null(G::UserId, 64))
                .col(string_len_null(G::TeamId, 64))
                .col(string_len(G::Access, 16))
                .col(string_len_null(G::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone_null(G::TokenExpiresAt))
                .col(timestamp_with_time_zone_null(G::ExpiresAt))
                .col(timestamp_with_time_zone_null(G::AcceptedAt))
                .col(timestamp_with_time_zone_null(G::RevokedAt))
                .col(string_len(G::CreatedBy, 128))
                .col(timestamp_with_time_zone(G::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(client_grant::Entity, G::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("ix_client_grants_account", G::AccountId),
            ("ix_client_grants_user", G::UserId),
            ("ix_client_grants_team", G::TeamId),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(client_grant::Entity)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }

        use client_grant_target::Column as T;
        m.create_table(
            Table::create()
                .table(client_grant_target::Entity)
                .col(string_len(T::GrantId, 64))
                .col(string_len(T::Kind, 16))
                .col(string_len(T::TargetId, 64))
                .primary_key(
                    Index::create()
                        .col(T::GrantId)
                        .col(T::Kind)
                        .col(T::TargetId),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(client_grant_target::Entity, T::GrantId)
                        .to(client_grant::Entity, G::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_client_grant_targets_target")
                .table(client_grant_target::Entity)
                .col(T::Kind)
                .col(T::TargetId)
                .to_owned(),
        )
        .await?;

        m.alter_table(
            Table::alter()
                .table(invitation::Entity)
                .add_column(string_len_null(invitation::Column::TeamId, 64))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(invitation::Entity)
                .drop_column(invitation::Column::TeamId)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(client_grant_target::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(client_grant::Entity).to_owned())
            .await
    }
}
