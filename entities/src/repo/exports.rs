//! Exports: created by the API, advanced and finished once by the export workflow.

use super::log_activity;
use crate::model::*;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait, sea_query::Expr,
};
use serde_json::{Value, json};

/// The Temporal workflow id of an export.
pub fn export_workflow_id(export_id: &str) -> String {
    format!("export/{export_id}")
}

/// What an export is asked to contain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExport {
    pub account_id: String,
    pub requested_by: String,
    pub format: String,
    pub include_files: bool,
    pub snapshot_ids: Vec<String>,
    pub streams: Option<Vec<String>>,
    pub expires_at: DateTime<Utc>,
}

/// Inserts a `running` export; its archive goes to `object_key(id)`.
pub async fn create_export(
    db: &impl ConnectionTrait,
    new: NewExport,
    object_key: impl FnOnce(&str) -> String,
) -> Result<export::Model, DbErr> {
    let id = crate::new_id();
    export::ActiveModel {
        object_key: Set(object_key(&id)),
        workflow_id: Set(export_workflow_id(&id)),
        id: Set(id),
        account_id: Set(new.account_id),
        requested_by: Set(new.requested_by),
        status: Set(export::RUNNING.to_owned()),
        format: Set(new.format),
        include_files: Set(new.include_files),
        snapshot_ids: Set(json!(new.snapshot_ids)),
        streams: Set(new.streams.map(|s| json!(s))),
        size_bytes: Set(0),
        records: Set(0),
        files: Set(0),
        error: Set(None),
        run_id: Set(None),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
        expires_at: Set(new.expires_at),
    }
    .insert(db)
    .await
}

/// Records the Temporal run of an export.
pub async fn set_export_run(
    db: &impl ConnectionTrait,
    export_id: &str,
    run_id: &str,
) -> Result<(), DbErr> {
    export::Entity::update_many()
        .col_expr(export::Column::RunId, Expr::value(run_id))
        .filter(export::Column::Id.eq(export_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records how far a running export is.
pub async fn set_export_progress(
    db: &impl ConnectionTrait,
    export_id: &str,
    records: u64,
    size_bytes: u64,
    files: u64,
) -> Result<(), DbErr> {
    export::Entity::update_many()
        .col_expr(export::Column::Records, Expr::value(records as i64))
        .col_expr(export::Column::SizeBytes, Expr::value(size_bytes as i64))
        .col_expr(export::Column::Files, Expr::value(files as i64))
        .filter(export::Column::Id.eq(export_id))
        .filter(export::Column::Status.eq(export::RUNNING))
        .exec(db)
        .await?;
    Ok(())
}

/// What a finished export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExportTotals {
    pub size_bytes: u64,
    pub records: u64,
    pub files: u64,
}

/// Ends a running export, once: `succeeded` with its totals, or `failed` with `error`; logs it.
/// Returns whether this call ended it.
pub async fn finish_export(
    db: &DatabaseConnection,
    export_id: &str,
    outcome: Result<ExportTotals, String>,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let (status, totals, error) = match outcome {
        Ok(totals) => (export::SUCCEEDED, totals, None),
        Err(e) => (export::FAILED, ExportTotals::default(), Some(e)),
    };
    let mut update = export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value(status))
        .col_expr(export::Column::Error, Expr::value(error.clone()))
        .col_expr(export::Column::FinishedAt, Expr::value(Utc::now()));
    if error.is_none() {
        update = update
            .col_expr(
                export::Column::SizeBytes,
                Expr::value(totals.size_bytes as i64),
            )
            .col_expr(export::Column::Records, Expr::value(totals.records as i64))
            .col_expr(export::Column::Files, Expr::value(totals.files as i64));
    }
    let res = update
        .filter(export::Column::Id.eq(export_id))
        .filter(export::Column::Status.eq(export::RUNNING))
        .exec(&txn)
        .await?;
    if res.rows_affected == 1
        && let Some(row) = export::Entity::find_by_id(export_id).one(&txn).await?
    {
        log_activity(
            &txn,
            &row.account_id,
            "system",
            &format!("export.{status}"),
            ("export", &row.id),
            json!({"records": row.records, "size_bytes": row.size_bytes, "files": row.files, "error": error}),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(res.rows_affected == 1)
}

/// Marks a finished export's archive gone (`expired` or `deleted`), once; returns the row as
/// it was, or `None` when it was running or already gone.
pub async fn end_export_archive(
    db: &impl ConnectionTrait,
    export_id: &str,
    status: &str,
) -> Result<Option<export::Model>, DbErr> {
    let Some(row) = export::Entity::find_by_id(export_id).one(db).await? else {
        return Ok(None);
    };
    let res = export::Entity::update_many()
        .col_expr(export::Column::Status, Expr::value(status))
        .filter(export::Column::Id.eq(export_id))
        .filter(export::Column::Status.is_in([export::SUCCEEDED, export::FAILED]))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(row))
}

/// The export's list of snapshot ids.
pub fn export_snapshot_ids(row: &export::Model) -> Vec<String> {
    serde_json::from_value::<Vec<String>>(row.snapshot_ids.clone()).unwrap_or_default()
}

/// The export's stream filter, `None` for all streams.
pub fn export_streams(row: &export::Model) -> Option<Vec<String>> {
    row.streams
        .clone()
        .and_then(|v: Value| serde_json::from_value(v).ok())
}
