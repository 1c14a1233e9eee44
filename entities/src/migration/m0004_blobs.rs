//! The blob store's index: `blobs` (one row per stored file contents per account),
//! `file_fingerprints` (platform fingerprint -> blob, per connection) and the blobs each part
//! refers to (`snapshot_parts.blobs`), which retention's mark phase reads.

use crate::model::{blob, file_fingerprint, snapshot_part};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use blob::Column as B;
        m.create_table(
            Table::create()
                .table(blob::Entity)
                .col(string_len(B::AccountId, 64))
                .col(string_len(B::Sha256, 64))
                .col(text(B::Key))
                .col(big_integer(B::Size))
                .col(big_integer(B::StoredBytes))
                .col(string_len(B::StoredSha256, 64))
                .col(timestamp_with_time_zone(B::CreatedAt))
                .primary_key(Index::create().col(B::AccountId).col(B::Sha256))
                .to_owned(),
        )
        .await?;
        use file_fingerprint::Column as F;
        m.create_table(
            Table::create()
                .table(file_fingerprint::Entity)
                .col(string_len(F::ConnectionId, 64))
                .col(string(F::Fingerprint))
                .col(string_len(F::AccountId, 64))
                .col(string_len(F::Sha256, 64))
                .col(big_integer(F::Size))
                .col(timestamp_with_time_zone(F::CreatedAt))
                .primary_key(Index::create().col(F::ConnectionId).col(F::Fingerprint))
                .to_owned(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(snapshot_part::Entity)
                .add_column(json_null(snapshot_part::Column::Blobs))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(snapshot_part::Entity)
                .drop_column(snapshot_part::Column::Blobs)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(file_fingerprint::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(blob::Entity).to_owned())
            .await
    }
}
