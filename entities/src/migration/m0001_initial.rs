//! The initial schema: tenants, credentials, sources, jobs, snapshots and the activity log.
//!
//! Column names come from the entities' `Column` enums so a typo cannot drift between the two;
//! the column *types* are spelled out here, so later entity changes need a new migration.

use crate::model::*;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 64).primary_key().take()
}
fn ts<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
}
fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone_null(col)
}
fn short<T: IntoIden>(col: T) -> ColumnDef {
    string_len(col, 16)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use user::Column as U;
        m.create_table(
            Table::create()
                .table(user::Entity)
                .col(id(U::Id))
                .col(string_uniq(U::Email))
                .col(string(U::Name))
                .col(text_null(U::PasswordHash))
                .col(ts(U::CreatedAt))
                .to_owned(),
        )
        .await?;

        use account::Column as A;
        m.create_table(
            Table::create()
                .table(account::Entity)
                .col(id(A::Id))
                .col(string(A::Name))
                .col(string_len_null(A::ParentId, 64))
                .col(text(A::EncryptionRecipient))
                .col(text_null(A::EncryptionIdentitySealed))
                .col(ts(A::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(account::Entity, A::ParentId)
                        .to(account::Entity, A::Id),
                )
                .to_owned(),
        )
        .await?;

        use membership::Column as M;
        m.create_table(
            Table::create()
                .table(membership::Entity)
                .col(id(M::Id))
                .col(string_len(M::UserId, 64))
                .col(string_len(M::AccountId, 64))
                .col(short(M::Role))
                .col(ts(M::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(membership::Entity, M::UserId)
                        .to(user::Entity, U::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(membership::Entity, M::AccountId)
                        .to(account::Entity, A::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_memberships_user_account")
                .table(membership::Entity)
                .col(M::UserId)
                .col(M::AccountId)
                .unique()
                .to_owned(),
        )
        .await?;

        use api_key::Column as K;
        m.create_table(
            Table::create()
                .table(api_key::Entity)
                .col(id(K::Id))
                .col(string_len(K::AccountId, 64))
                .col(string_len_null(K::UserId, 64))
                .col(string(K::Name))
                .col(short(K::Role))
                .col(string_len(K::Prefix, 32))
                .col(string_len_uniq(K::KeyHash, 64))
                .col(ts(K::CreatedAt))
                .col(ts_null(K::LastUsedAt))
                .col(ts_null(K::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(api_key::Entity, K::AccountId)
                        .to(account::Entity, A::Id),
                )
                .to_owned(),
        )
        .await?;

        use connection::Column as C;
        m.create_table(
            Table::create()
                .table(connection::Entity)
                .col(id(C::Id))
                .col(string_len(C::AccountId, 64))
                .col(string_len(C::Platform, 32))
                .col(string(C::Name))
                .col(text(C::CredentialsSealed))
                .col(json(C::Config))
                .col(short(C::Status))
                .col(ts(C::CreatedAt))
                .col(ts(C::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(connection::Entity, C::AccountId)
                        .to(account::Entity, A::Id),
                )
                .to_owned(),
        )
        .await?;

        use source::Column as S;
        m.create_table(
            Table::create()
                .table(source::Entity)
                .col(id(S::Id))
                .col(string_len(S::AccountId, 64))
                .col(string_len(S::ConnectionId, 64))
                .col(string_len(S::Platform, 32))
                .col(string(S::Name))
                .col(json(S::Streams))
                .col(json(S::Options))
                .col(json(S::StreamState))
                .col(string_len_null(S::LastSnapshotId, 64))
                .col(ts(S::CreatedAt))
                .col(ts(S::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(source::Entity, S::AccountId)
                        .to(account::Entity, A::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(source::Entity, S::ConnectionId)
                        .to(connection::Entity, C::Id),
                )
                .to_owned(),
        )
        .await?;

        use schedule::Column as Sc;
        m.create_table(
            Table::create()
                .table(schedule::Entity)
                .col(id(Sc::Id))
                .col(string_len(Sc::AccountId, 64))
                .col(string_len(Sc::SourceId, 64))
                .col(string(Sc::Cron))
                .col(string(Sc::Timezone))
                .col(big_integer(Sc::JitterSecs))
                .col(boolean(Sc::Paused))
                .col(string(Sc::TemporalScheduleId))
                .col(ts(Sc::CreatedAt))
                .col(ts(Sc::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(schedule::Entity, Sc::SourceId)
                        .to(source::Entity, S::Id),
                )
                .to_owned(),
        )
        .await?;

        use job::Column as J;
        m.create_table(
            Table::create()
                .table(job::Entity)
                .col(id(J::Id))
                .col(string_len(J::AccountId, 64))
                .col(string_len(J::SourceId, 64))
                .col(short(J::Kind))
                .col(short(J::Status))
                .col(string(J::WorkflowId))
                .col(string_null(J::RunId))
                .col(string_len(J::SnapshotId, 64))
                .col(json(J::Progress))
                .col(big_integer(J::Records))
                .col(big_integer(J::Bytes))
                .col(text_null(J::Error))
                .col(ts(J::CreatedAt))
                .col(ts_null(J::StartedAt))
                .col(ts_null(J::FinishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(job::Entity, J::SourceId)
                        .to(source::Entity, S::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_source_created")
                .table(job::Entity)
                .col(J::SourceId)
                .col(J::CreatedAt)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_jobs_account_status")
                .table(job::Entity)
                .col(J::AccountId)
                .col(J::Status)
                .to_owned(),
        )
        .await?;

        use snapshot::Column as Sn;
        m.create_table(
            Table::create()
                .table(snapshot::Entity)
                .col(id(Sn::Id))
                .col(string_len(Sn::AccountId, 64))
                .col(string_len(Sn::SourceId, 64))
                .col(string_len(Sn::JobId, 64))
                .col(short(Sn::Kind))
                .col(short(Sn::Status))
                .col(string_len_null(Sn::ParentSnapshotId, 64))
                .col(text_null(Sn::ManifestKey))
                .col(big_integer(Sn::Records))
                .col(big_integer(Sn::RawBytes))
                .col(big_integer(Sn::StoredBytes))
                .col(ts(Sn::CreatedAt))
                .col(ts_null(Sn::CompletedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(snapshot::Entity, Sn::SourceId)
                        .to(source::Entity, S::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_snapshots_source_created")
                .table(snapshot::Entity)
                .col(Sn::SourceId)
                .col(Sn::CreatedAt)
                .to_owned(),
        )
        .await?;

        use snapshot_part::Column as P;
        m.create_table(
            Table::create()
                .table(snapshot_part::Entity)
                .col(id(P::Id))
                .col(string_len(P::SnapshotId, 64))
                .col(string_len(P::Stream, 64))
                .col(integer(P::PartNo))
                .col(text(P::Key))
                .col(big_integer(P::Records))
                .col(big_integer(P::RawBytes))
                .col(big_integer(P::StoredBytes))
                .col(string_len(P::Sha256, 64))
                .col(json(P::CursorAfter))
                .col(json(P::StreamCursor))
                .col(ts(P::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(snapshot_part::Entity, P::SnapshotId)
                        .to(snapshot::Entity, Sn::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_snapshot_parts_stream_part")
                .table(snapshot_part::Entity)
                .col(P::SnapshotId)
                .col(P::Stream)
                .col(P::PartNo)
                .unique()
                .to_owned(),
        )
        .await?;

        use activity_log::Column as L;
        m.create_table(
            Table::create()
                .table(activity_log::Entity)
                .col(id(L::Id))
                .col(string_len(L::AccountId, 64))
                .col(string(L::Actor))
                .col(string(L::Action))
                .col(string(L::TargetType))
                .col(string_len(L::TargetId, 64))
                .col(json(L::Details))
                .col(ts(L::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_activity_log_account_created")
                .table(activity_log::Entity)
                .col(L::AccountId)
                .col(L::CreatedAt)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Children first, so foreign keys never block a drop.
        m.drop_table(Table::drop().table(activity_log::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(snapshot_part::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(snapshot::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(job::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(schedule::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(source::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(connection::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(api_key::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(membership::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(account::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(user::Entity).to_owned())
            .await?;
        Ok(())
    }
}
