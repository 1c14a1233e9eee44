//! User settings (time zone, notification preferences), a second factor (TOTP with recovery
//! codes, and accounts that require it), password resets and invitations by email.

use crate::model::{account, invitation, password_reset, recovery_code, user};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use user::Column as U;
        // SQLite alters one column per statement.
        for col in [
            string_len(U::TimeZone, 64).default("UTC").take(),
            json_null(U::Notifications),
            text_null(U::TotpSecretSealed),
            timestamp_with_time_zone_null(U::MfaEnabledAt),
            big_integer_null(U::TotpLastStep),
        ] {
            m.alter_table(
                Table::alter()
                    .table(user::Entity)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(account::Entity)
                .add_column(boolean(account::Column::RequireMfa).default(false).take())
                .to_owned(),
        )
        .await?;

        use recovery_code::Column as R;
        m.create_table(
            Table::create()
                .table(recovery_code::Entity)
                .col(string_len(R::Id, 64).primary_key())
                .col(string_len(R::UserId, 64))
                .col(string_len(R::CodeHash, 64).unique_key())
                .col(timestamp_with_time_zone(R::CreatedAt))
                .col(timestamp_with_time_zone_null(R::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(recovery_code::Entity, R::UserId)
                        .to(user::Entity, U::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_recovery_codes_user")
                .table(recovery_code::Entity)
                .col(R::UserId)
                .to_owned(),
        )
        .await?;

        use password_reset::Column as P;
        m.create_table(
            Table::create()
                .table(password_reset::Entity)
                .col(string_len(P::Id, 64).primary_key())
                .col(string_len(P::UserId, 64))
                .col(string_len(P::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone(P::CreatedAt))
                .col(timestamp_with_time_zone(P::ExpiresAt))
                .col(timestamp_with_time_zone_null(P::UsedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(password_reset::Entity, P::UserId)
                        .to(user::Entity, U::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_password_resets_user")
                .table(password_reset::Entity)
                .col(P::UserId)
                .to_owned(),
        )
        .await?;

        use invitation::Column as I;
        m.create_table(
            Table::create()
                .table(invitation::Entity)
                .col(string_len(I::Id, 64).primary_key())
                .col(string_len(I::AccountId, 64))
                .col(string_len(I::Email, 320))
                .col(string_len(I::Role, 16))
                .col(string_len(I::InvitedBy, 128))
                .col(string_len(I::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone(I::CreatedAt))
                .col(timestamp_with_time_zone(I::ExpiresAt))
                .col(timestamp_with_time_zone_null(I::AcceptedAt))
                .col(string_len_null(I::AcceptedBy, 64))
                .col(timestamp_with_time_zone_null(I::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(invitation::Entity, I::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_invitations_account")
                .table(invitation::Entity)
                .col(I::AccountId)
                .col(I::Id)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(invitation::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(password_reset::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(recovery_code::Entity).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(account::Entity)
                .drop_column(account::Column::RequireMfa)
                .to_owned(),
        )
        .await?;
        use user::Column as U;
        for col in [
            U::TimeZone,
            U::Notifications,
            U::TotpSecretSealed,
            U::MfaEnabledAt,
            U::TotpLastStep,
        ] {
            m.alter_table(
                Table::alter()
                    .table(user::Entity)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
