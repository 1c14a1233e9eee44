//! Signing in and managing access: refresh tokens (rotated, in families), and the unique names
//! the API answers 409 for — sub-account names among siblings, active API key names per account.
//!
//! Both unique indexes are written in the syntax Postgres and SQLite share. Top-level accounts
//! (`parent_id IS NULL`) are not constrained: both databases treat NULLs as distinct.

use crate::model::{account, refresh_token, user};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use refresh_token::Column as R;
        m.create_table(
            Table::create()
                .table(refresh_token::Entity)
                .col(string_len(R::Id, 64).primary_key())
                .col(string_len(R::FamilyId, 64))
                .col(string_len(R::UserId, 64))
                .col(string_len_uniq(R::TokenHash, 64))
                .col(timestamp_with_time_zone(R::CreatedAt))
                .col(timestamp_with_time_zone(R::ExpiresAt))
                .col(timestamp_with_time_zone_null(R::RotatedAt))
                .col(timestamp_with_time_zone_null(R::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(refresh_token::Entity, R::UserId)
                        .to(user::Entity, user::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_refresh_tokens_family")
                .table(refresh_token::Entity)
                .col(R::FamilyId)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_accounts_parent_name")
                .table(account::Entity)
                .col(account::Column::ParentId)
                .col(account::Column::Name)
                .unique()
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_api_keys_active_name ON api_keys (account_id, name) \
                 WHERE revoked_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX ux_api_keys_active_name")
            .await?;
        m.drop_index(
            Index::drop()
                .name("ux_accounts_parent_name")
                .table(account::Entity)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(refresh_token::Entity).to_owned())
            .await
    }
}
