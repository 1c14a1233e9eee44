//! Retention: policies per account and per source, the runs of `RetentionWorkflow`, the blob
//! store's sweep state (`blobs.state`, `uses`, `deleting_since`) and `blob_refs`, the blobs each
//! snapshot uses, recorded before its parts are committed. Existing parts' blob lists are copied
//! into `blob_refs`, so every snapshot written before this version is protected the same way.

use crate::model::{
    account, blob, blob_ref, retention_policy, retention_run, snapshot, snapshot_part,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use sea_orm_migration::{prelude::*, schema::*};
use std::collections::{BTreeSet, HashMap};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        use retention_policy::Column as P;
        m.create_table(
            Table::create()
                .table(retention_policy::Entity)
                .col(string_len(P::TargetId, 64).primary_key())
                .col(string_len(P::AccountId, 64))
                .col(string_len_null(P::SourceId, 64))
                .col(integer(P::KeepLast))
                .col(integer(P::KeepDaily))
                .col(integer(P::KeepWeekly))
                .col(integer(P::KeepMonthly))
                .col(integer(P::KeepYearly))
                .col(timestamp_with_time_zone(P::CreatedAt))
                .col(timestamp_with_time_zone(P::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(retention_policy::Entity, P::AccountId)
                        .to(account::Entity, account::Column::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_retention_policies_account")
                .table(retention_policy::Entity)
                .col(P::AccountId)
                .to_owned(),
        )
        .await?;

        use retention_run::Column as R;
        m.create_table(
            Table::create()
                .table(retention_run::Entity)
                .col(string_len(R::Id, 64).primary_key())
                .col(string_len(R::AccountId, 64))
                .col(string_len_null(R::SourceId, 64))
                .col(string_len(R::Trigger, 16))
                .col(string_len(R::Status, 16))
                .col(string_len(R::RequestedBy, 128))
                .col(string_len(R::WorkflowId, 255))
                .col(json_null(R::Result))
                .col(text_null(R::Error))
                .col(timestamp_with_time_zone(R::CreatedAt))
                .col(timestamp_with_time_zone_null(R::FinishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(retention_run::Entity, R::AccountId)
                        .to(account::Entity, account::Column::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_retention_runs_account")
                .table(retention_run::Entity)
                .col(R::AccountId)
                .col(R::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_retention_runs_workflow")
                .table(retention_run::Entity)
                .col(R::WorkflowId)
                .unique()
                .to_owned(),
        )
        .await?;

        use blob::Column as B;
        for column in [
            ColumnDef::new(B::State)
                .string_len(16)
                .not_null()
                .default("stored")
                .to_owned(),
            ColumnDef::new(B::Uses)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(B::DeletingSince)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            // SQLite adds one column per ALTER TABLE.
            m.alter_table(
                Table::alter()
                    .table(blob::Entity)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
        }

        use blob_ref::Column as F;
        m.create_table(
            Table::create()
                .table(blob_ref::Entity)
                .col(string_len(F::SnapshotId, 64))
                .col(string_len(F::Sha256, 64))
                .col(string_len(F::AccountId, 64))
                .col(timestamp_with_time_zone(F::CreatedAt))
                .primary_key(Index::create().col(F::SnapshotId).col(F::Sha256))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_blob_refs_blob")
                .table(blob_ref::Entity)
                .col(F::AccountId)
                .col(F::Sha256)
                .to_owned(),
        )
        .await?;
        backfill_blob_refs(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(blob_ref::Entity).to_owned())
            .await?;
        for column in [
            blob::Column::DeletingSince,
            blob::Column::Uses,
            blob::Column::State,
        ] {
            m.alter_table(
                Table::alter()
                    .table(blob::Entity)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(retention_run::Entity).to_owned())
            .await?;
        m.drop_table(Table::drop().table(retention_policy::Entity).to_owned())
            .await
    }
}

/// Copies the blob lists of the parts committed so far into `blob_refs`.
async fn backfill_blob_refs(db: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    // Only the columns this migration knows: later migrations add columns to the entity that a
    // database at this point does not have yet.
    let parts: Vec<(String, Option<serde_json::Value>)> = snapshot_part::Entity::find()
        .select_only()
        .columns([
            snapshot_part::Column::SnapshotId,
            snapshot_part::Column::Blobs,
        ])
        .filter(snapshot_part::Column::Blobs.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    if parts.is_empty() {
        return Ok(());
    }
    let accounts: HashMap<String, String> = snapshot::Entity::find()
        .select_only()
        .columns([snapshot::Column::Id, snapshot::Column::AccountId])
        .into_tuple()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut refs = BTreeSet::new();
    for (snapshot_id, blobs) in parts {
        let Some(account_id) = accounts.get(&snapshot_id) else {
            continue;
        };
        let blobs: Vec<String> = blobs
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default();
        for sha256 in blobs {
            refs.insert((snapshot_id.clone(), sha256, account_id.clone()));
        }
    }
    let now = chrono::Utc::now();
    let rows: Vec<blob_ref::ActiveModel> = refs
        .into_iter()
        .map(|(snapshot_id, sha256, account_id)| {
            blob_ref::ActiveModel::from(blob_ref::Model {
                snapshot_id,
                sha256,
                account_id,
                created_at: now,
            })
        })
        .collect();
    for chunk in rows.chunks(500) {
        blob_ref::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}
