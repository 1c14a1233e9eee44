//! Record indexes: each part row records its index object (`snapshot_parts.record_index`),
//! written with the part, so the manifest can list it and finalize keeps it.

use crate::model::snapshot_part;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(snapshot_part::Entity)
                .add_column(json_null(snapshot_part::Column::RecordIndex))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(snapshot_part::Entity)
                .drop_column(snapshot_part::Column::RecordIndex)
                .to_owned(),
        )
        .await
    }
}
