//! The blob store's mark and sweep, and a backup's use of a blob, as guarded statements.
//!
//! The protocol (argued in `docs/retention.md`):
//! - a backup that is about to name a blob in a record first calls [`use_blob`]: one
//!   transaction that records the use in `blob_refs` and bumps the blob's `uses` if it is
//!   `stored`. Only then may it reuse the object; a `deleting` blob is never reused;
//! - the sweep marks every blob named by a `blob_refs` row or a part, and turns an unmarked blob
//!   into a tombstone only with [`tombstone_blob`], whose `UPDATE` requires the `uses` it read
//!   and no `blob_refs` row: a use recorded before or during the update makes it fail;
//! - the object is deleted under the tombstone, then the row ([`forget_blob`]); a backup waits
//!   for the row to go before it uploads the same contents again, so no upload can be deleted;
//! - a sweeper deletes an object only within [`TOMBSTONE_WINDOW`] of setting its tombstone; a
//!   tombstone older than [`TOMBSTONE_STALE_AFTER`] (its sweeper died) may be taken over.

use crate::model::*;
use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sea_query::{Expr, ExprTrait, OnConflict, Query},
};
use std::{collections::HashSet, time::Duration};

/// A blob whose object is stored and may be reused.
pub const BLOB_STORED: &str = "stored";
/// A blob the sweep is deleting: never reused; a backup stores the contents again once the row
/// is gone.
pub const BLOB_DELETING: &str = "deleting";

/// How long after setting a tombstone its sweeper may still send the object's DELETE.
pub const TOMBSTONE_WINDOW: Duration = Duration::from_secs(60);
/// A tombstone older than this was left by a sweeper that stopped; another sweep takes it over,
/// and a backup waiting for it clears it. Far longer than [`TOMBSTONE_WINDOW`], so the sweeper
/// that set it can no longer send a DELETE, even with the hosts' clocks minutes apart.
pub const TOMBSTONE_STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// What [`use_blob`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum BlobUse {
    /// The blob is stored and now counted as used by the snapshot: reuse it.
    Reused(blob::Model),
    /// No such blob: store it (then [`super::record_blob`]).
    Absent,
    /// The sweep is deleting it: wait for the row to go, then store it again.
    Deleting(blob::Model),
}

/// A transaction that holds SQLite's write lock from its start (Postgres relies on row locks).
async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Timestamps compared for equality are kept to the millisecond, which both databases store
/// exactly.
fn now_ms() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// Records that `snapshot_id` uses the blob `sha256` of `account_id`, and reuses the blob if it
/// is stored; one transaction, so a sweep either sees the use or makes the reuse fail.
pub async fn use_blob(
    db: &DatabaseConnection,
    snapshot_id: &str,
    account_id: &str,
    sha256: &str,
) -> Result<BlobUse, DbErr> {
    let txn = begin(db).await?;
    let found = use_blob_in(&txn, snapshot_id, account_id, sha256).await?;
    txn.commit().await?;
    Ok(found)
}

/// [`use_blob`] inside the caller's transaction: the use counts once it commits.
pub async fn use_blob_in(
    txn: &DatabaseTransaction,
    snapshot_id: &str,
    account_id: &str,
    sha256: &str,
) -> Result<BlobUse, DbErr> {
    blob_ref::Entity::insert(blob_ref::ActiveModel::from(blob_ref::Model {
        snapshot_id: snapshot_id.to_owned(),
        sha256: sha256.to_owned(),
        account_id: account_id.to_owned(),
        created_at: Utc::now(),
    }))
    .on_conflict(
        OnConflict::columns([blob_ref::Column::SnapshotId, blob_ref::Column::Sha256])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    // The bump takes the row's lock: a tombstone set meanwhile makes it match nothing, and a
    // tombstone attempted after it finds `uses` moved. A row that appears between the bump and
    // the read (another backup just stored the same contents) is bumped on the second pass.
    for _ in 0..2 {
        let bumped = blob::Entity::update_many()
            .col_expr(blob::Column::Uses, Expr::col(blob::Column::Uses).add(1))
            .filter(blob::Column::AccountId.eq(account_id))
            .filter(blob::Column::Sha256.eq(sha256))
            .filter(blob::Column::State.eq(BLOB_STORED))
            .exec(txn)
            .await?
            .rows_affected
            == 1;
        return Ok(match super::find_blob(txn, account_id, sha256).await? {
            Some(row) if bumped => BlobUse::Reused(row),
            Some(row) if row.state == BLOB_DELETING => BlobUse::Deleting(row),
            Some(_) => continue,
            None => BlobUse::Absent,
        });
    }
    Ok(BlobUse::Absent)
}

/// Removes a tombstone whose sweeper stopped more than [`TOMBSTONE_STALE_AFTER`] ago, so a
/// backup waiting for it can store the contents again; false when it is not (or no longer)
/// such a tombstone.
pub async fn clear_stale_tombstone(
    db: &impl ConnectionTrait,
    account_id: &str,
    sha256: &str,
) -> Result<bool, DbErr> {
    let cutoff = Utc::now() - TOMBSTONE_STALE_AFTER;
    let res = blob::Entity::delete_many()
        .filter(blob::Column::AccountId.eq(account_id))
        .filter(blob::Column::Sha256.eq(sha256))
        .filter(blob::Column::State.eq(BLOB_DELETING))
        .filter(blob::Column::DeletingSince.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Every blob of `account_id` that a snapshot other than those in `except` uses: named by a
/// `blob_refs` row (recorded before the backup wrote the record) or by a committed part.
pub async fn referenced_blobs(
    db: &impl ConnectionTrait,
    account_id: &str,
    except: &HashSet<String>,
) -> Result<HashSet<String>, DbErr> {
    let mut used = HashSet::new();
    for r in blob_ref::Entity::find()
        .filter(blob_ref::Column::AccountId.eq(account_id))
        .all(db)
        .await?
    {
        if !except.contains(&r.snapshot_id) {
            used.insert(r.sha256);
        }
    }
    let snapshots = Query::select()
        .column(snapshot::Column::Id)
        .from(snapshot::Entity)
        .and_where(Expr::col(snapshot::Column::AccountId).eq(account_id))
        .to_owned();
    for part in snapshot_part::Entity::find()
        .filter(snapshot_part::Column::SnapshotId.in_subquery(snapshots))
        .filter(snapshot_part::Column::Blobs.is_not_null())
        .all(db)
        .await?
    {
        if except.contains(&part.snapshot_id) {
            continue;
        }
        let blobs: Vec<String> = part
            .blobs
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default();
        used.extend(blobs);
    }
    Ok(used)
}

/// The mark: the stored blobs of `account_id` that no snapshot uses, as read now (each with the
/// `uses` its tombstone will require).
pub async fn sweep_candidates(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<blob::Model>, DbErr> {
    let stored = blob::Entity::find()
        .filter(blob::Column::AccountId.eq(account_id))
        .filter(blob::Column::State.eq(BLOB_STORED))
        .all(db)
        .await?;
    let used = referenced_blobs(db, account_id, &HashSet::new()).await?;
    Ok(stored
        .into_iter()
        .filter(|b| !used.contains(&b.sha256))
        .collect())
}

/// Turns a marked blob into a tombstone, unless it was used since it was read (`uses` moved) or
/// a snapshot records a use of it; also forgets the file fingerprints that resolve to it. The
/// tombstone's time, or `None` when the blob must stay.
pub async fn tombstone_blob(
    db: &DatabaseConnection,
    marked: &blob::Model,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let since = now_ms();
    let in_use = Query::select()
        .expr(Expr::val(1))
        .from(blob_ref::Entity)
        .and_where(Expr::col(blob_ref::Column::AccountId).eq(marked.account_id.as_str()))
        .and_where(Expr::col(blob_ref::Column::Sha256).eq(marked.sha256.as_str()))
        .to_owned();
    let txn = begin(db).await?;
    let res = blob::Entity::update_many()
        .col_expr(blob::Column::State, Expr::value(BLOB_DELETING))
        .col_expr(blob::Column::DeletingSince, Expr::value(since))
        .filter(blob::Column::AccountId.eq(marked.account_id.as_str()))
        .filter(blob::Column::Sha256.eq(marked.sha256.as_str()))
        .filter(blob::Column::State.eq(BLOB_STORED))
        .filter(blob::Column::Uses.eq(marked.uses))
        .filter(Expr::exists(in_use).not())
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(None);
    }
    file_fingerprint::Entity::delete_many()
        .filter(file_fingerprint::Column::AccountId.eq(marked.account_id.as_str()))
        .filter(file_fingerprint::Column::Sha256.eq(marked.sha256.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Some(since))
}

/// Deletes a tombstone's row once its object is deleted; false when the tombstone is no longer
/// the one set at `since` (taken over by another sweep).
pub async fn forget_blob(
    db: &impl ConnectionTrait,
    account_id: &str,
    sha256: &str,
    since: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = blob::Entity::delete_many()
        .filter(blob::Column::AccountId.eq(account_id))
        .filter(blob::Column::Sha256.eq(sha256))
        .filter(blob::Column::State.eq(BLOB_DELETING))
        .filter(blob::Column::DeletingSince.eq(since))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Tombstones of `account_id` older than [`TOMBSTONE_STALE_AFTER`]: left by a sweep that stopped.
pub async fn stale_tombstones(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<blob::Model>, DbErr> {
    blob::Entity::find()
        .filter(blob::Column::AccountId.eq(account_id))
        .filter(blob::Column::State.eq(BLOB_DELETING))
        .filter(blob::Column::DeletingSince.lt(Utc::now() - TOMBSTONE_STALE_AFTER))
        .all(db)
        .await
}

/// Takes over a stale tombstone: it becomes this sweep's, set now. `None` when another sweep
/// (or a backup) got to it first.
pub async fn take_over_tombstone(
    db: &impl ConnectionTrait,
    stale: &blob::Model,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let since = now_ms();
    let res = blob::Entity::update_many()
        .col_expr(blob::Column::DeletingSince, Expr::value(since))
        .filter(blob::Column::AccountId.eq(stale.account_id.as_str()))
        .filter(blob::Column::Sha256.eq(stale.sha256.as_str()))
        .filter(blob::Column::State.eq(BLOB_DELETING))
        .filter(blob::Column::DeletingSince.eq(stale.deleting_since))
        .exec(db)
        .await?;
    Ok((res.rows_affected == 1).then_some(since))
}
