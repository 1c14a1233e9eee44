//! Teams: named groups of users in an account, their members, and the roles they hold in the
//! account's tree.

use crate::model::{account, team, team_grant, team_member, user};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use team::Column as T;
        m.create_table(
            Table::create()
                .table(team::Entity)
                .col(string_len(T::Id, 64).primary_key())
                .col(string_len(T::AccountId, 64))
                .col(string_len(T::Name, 200))
                .col(timestamp_with_time_zone(T::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(team::Entity, T::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_teams_account_name")
                .table(team::Entity)
                .col(T::AccountId)
                .col(T::Name)
                .unique()
                .to_owned(),
        )
        .await?;

        use team_member::Column as M;
        m.create_table(
            Table::create()
                .table(team_member::Entity)
                .col(string_len(M::Id, 64).primary_key())
                .col(string_len(M::TeamId, 64))
                .col(string_len(M::UserId, 64))
                .col(string_len(M::TeamRole, 16))
                .col(timestamp_with_time_zone(M::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(team_member::Entity, M::TeamId)
                        .to(team::Entity, T::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(team_member::Entity, M::UserId)
                        .to(user::Entity, user::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_team_members_team_user")
                .table(team_member::Entity)
                .col(M::TeamId)
                .col(M::UserId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_team_members_user")
                .table(team_member::Entity)
                .col(M::UserId)
                .to_owned(),
        )
        .await?;

        use team_grant::Column as G;
        m.create_table(
            Table::create()
                .table(team_grant::Entity)
                .col(string_len(G::Id, 64).primary_key())
                .col(string_len(G::TeamId, 64))
                .col(string_len(G::AccountId, 64))
                .col(string_len(G::Role, 16))
                .col(timestamp_with_time_zone(G::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(team_grant::Entity, G::TeamId)
                        .to(team::Entity, T::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(team_grant::Entity, G::AccountId)
                        .to(account::Entity, account::Column::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_team_grants_team_account")
                .table(team_grant::Entity)
                .col(G::TeamId)
                .col(G::AccountId)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(team_grant::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(team_member::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(team::Entity).to_owned())
            .await
    }
}
