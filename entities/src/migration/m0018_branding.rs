//! Account branding: display name, logo, colours, support email and a verified custom domain.

use crate::model::{account, account_branding};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use account_branding::Column as B;
        m.create_table(
            Table::create()
                .table(account_branding::Entity)
                .col(string_len(B::AccountId, 64).primary_key())
                .col(string_len_null(B::DisplayName, 200))
                .col(text_null(B::LogoUrl))
                .col(string_len_null(B::PrimaryColor, 7))
                .col(string_len_null(B::AccentColor, 7))
                .col(string_len_null(B::SupportEmail, 320))
                .col(string_len_null(B::CustomDomain, 253))
                .col(string_len_null(B::DomainToken, 64))
                .col(timestamp_with_time_zone_null(B::DomainVerifiedAt))
                .col(timestamp_with_time_zone(B::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(account_branding::Entity, B::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_account_brandings_domain")
                .table(account_branding::Entity)
                .col(B::CustomDomain)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(account_branding::Entity).to_owned())
            .await
    }
}
