//! Source names unique per account, source groups, and the `Idempotency-Key` record of job
//! starts. Every uniqueness the API answers 409 (or replays) for is a unique index, so two
//! simultaneous requests cannot both pass a check.

use crate::model::{account, idempotency_key, source, source_group, source_group_member};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(
            Index::create()
                .name("ux_sources_account_name")
                .table(source::Entity)
                .col(source::Column::AccountId)
                .col(source::Column::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        use source_group::Column as G;
        m.create_table(
            Table::create()
                .table(source_group::Entity)
                .col(string_len(G::Id, 64).primary_key())
                .col(string_len(G::AccountId, 64))
                .col(string(G::Name))
                .col(timestamp_with_time_zone(G::CreatedAt))
                .col(timestamp_with_time_zone(G::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(source_group::Entity, G::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_source_groups_account_name")
                .table(source_group::Entity)
                .col(G::AccountId)
                .col(G::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        use source_group_member::Column as M;
        m.create_table(
            Table::create()
                .table(source_group_member::Entity)
                .col(string_len(M::GroupId, 64))
                .col(string_len(M::SourceId, 64))
                .col(timestamp_with_time_zone(M::CreatedAt))
                .primary_key(Index::create().col(M::GroupId).col(M::SourceId))
                .foreign_key(
                    ForeignKey::create()
                        .from(source_group_member::Entity, M::GroupId)
                        .to(source_group::Entity, G::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(source_group_member::Entity, M::SourceId)
                        .to(source::Entity, source::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_source_group_members_source")
                .table(source_group_member::Entity)
                .col(M::SourceId)
                .to_owned(),
        )
        .await?;

        use idempotency_key::Column as K;
        m.create_table(
            Table::create()
                .table(idempotency_key::Entity)
                .col(string_len(K::Id, 64).primary_key())
                .col(string_len(K::Principal, 80))
                .col(string_len(K::Key, 255))
                .col(string_len(K::Fingerprint, 64))
                .col(integer_null(K::StatusCode))
                .col(json_null(K::Response))
                .col(timestamp_with_time_zone(K::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_idempotency_keys_principal_key")
                .table(idempotency_key::Entity)
                .col(K::Principal)
                .col(K::Key)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_idempotency_keys_created_at")
                .table(idempotency_key::Entity)
                .col(K::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(idempotency_key::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(source_group_member::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(source_group::Entity).to_owned())
            .await?;
        m.drop_index(
            Index::drop()
                .name("ux_sources_account_name")
                .table(source::Entity)
                .to_owned(),
        )
        .await
    }
}
