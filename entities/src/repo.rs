//! Queries and state transitions shared by the API and the activities.
//!
//! Every transition that must happen once (a job leaving `running`, a part being committed) is a
//! single guarded statement, so a retried activity or a second worker cannot apply it twice.

use crate::model::*;
use chrono::Utc;
use rand::{Rng, distributions::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
    sea_query::{Expr, OnConflict},
};
use serde_json::Value;
use sha2::{Digest, Sha256};

mod access;
mod blob_sweep;
mod client_grants;
mod connections;
mod exports;
mod notifications;
mod rate_budgets;
mod retention;
mod schedules;
mod sessions;
mod slots;
mod teams;
mod users;
mod verifications;
mod webhooks;

pub use access::*;
pub use blob_sweep::*;
pub use client_grants::*;
pub use connections::*;
pub use exports::*;
pub use notifications::*;
pub use rate_budgets::*;
pub use retention::*;
pub use schedules::*;
pub use sessions::*;
pub use slots::*;
pub use teams::*;
pub use users::*;
pub use verifications::*;
pub use webhooks::*;

/// The prefix every API key secret starts with, so leaked keys are recognisable by scanners.
pub const API_KEY_PREFIX: &str = "lbk_";

/// SHA-256 of a generated secret (an API key or a refresh token), as stored. These are random
/// strings of over 250 bits, so a fast hash is enough; passwords use argon2id instead.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new secret: `prefix` and 43 random alphanumeric characters (256 bits).
fn random_secret(prefix: &str) -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("{prefix}{random}")
}

/// The key row for `secret`, if it exists and is not revoked.
pub async fn find_api_key(
    db: &impl ConnectionTrait,
    secret: &str,
) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(hash_secret(secret)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// `account_id` and every account below it, breadth first.
pub async fn account_subtree(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<String>, DbErr> {
    Ok(accounts_below(db, &[account_id.to_owned()])
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect())
}

/// Creates a user who has no password yet.
pub async fn create_user(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
) -> Result<user::Model, DbErr> {
    insert_user(db, email, name, None).await
}

/// Creates a user who signs in with a password (`password_hash`: an argon2id PHC string).
/// `email` must already be normalised (trimmed, lower case): it is unique as stored.
pub async fn create_user_with_password(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
    password_hash: &str,
) -> Result<user::Model, DbErr> {
    insert_user(db, email, name, Some(password_hash.to_owned())).await
}

async fn insert_user(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
    password_hash: Option<String>,
) -> Result<user::Model, DbErr> {
    user::ActiveModel {
        id: Set(crate::new_id()),
        email: Set(email.to_owned()),
        name: Set(name.to_owned()),
        password_hash: Set(password_hash),
        created_at: Set(Utc::now()),
        time_zone: Set("UTC".into()),
        notifications: Set(None),
        totp_secret_sealed: Set(None),
        mfa_enabled_at: Set(None),
        totp_last_step: Set(None),
    }
    .insert(db)
    .await
}

/// Creates an account whose snapshots are encrypted to `recipient`.
pub async fn create_account(
    db: &impl ConnectionTrait,
    name: &str,
    parent_id: Option<&str>,
    recipient: &str,
    identity_sealed: Option<String>,
) -> Result<account::Model, DbErr> {
    account::ActiveModel {
        id: Set(crate::new_id()),
        name: Set(name.to_owned()),
        parent_id: Set(parent_id.map(str::to_owned)),
        encryption_recipient: Set(recipient.to_owned()),
        encryption_identity_sealed: Set(identity_sealed),
        created_at: Set(Utc::now()),
        require_mfa: Set(false),
    }
    .insert(db)
    .await
}

/// Gives `user_id` a role in `account_id`.
pub async fn add_membership(
    db: &impl ConnectionTrait,
    user_id: &str,
    account_id: &str,
    role: Role,
) -> Result<membership::Model, DbErr> {
    membership::ActiveModel {
        id: Set(crate::new_id()),
        user_id: Set(user_id.to_owned()),
        account_id: Set(account_id.to_owned()),
        role: Set(role),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
}

/// Creates an API key and returns it with its secret, which is not stored and cannot be shown again.
pub async fn create_api_key(
    db: &impl ConnectionTrait,
    account_id: &str,
    user_id: Option<&str>,
    name: &str,
    role: Role,
) -> Result<(api_key::Model, String), DbErr> {
    let secret = random_secret(API_KEY_PREFIX);
    let key = api_key::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(account_id.to_owned()),
        user_id: Set(user_id.map(str::to_owned)),
        name: Set(name.to_owned()),
        role: Set(role),
        prefix: Set(secret[..API_KEY_PREFIX.len() + 6].to_owned()),
        key_hash: Set(hash_secret(&secret)),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok((key, secret))
}

/// Creates a connection with already sealed credentials.
pub async fn create_connection(
    db: &impl ConnectionTrait,
    account_id: &str,
    platform: &str,
    name: &str,
    credentials_sealed: String,
    config: Value,
) -> Result<connection::Model, DbErr> {
    let now = Utc::now();
    connection::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(account_id.to_owned()),
        platform: Set(platform.to_owned()),
        name: Set(name.to_owned()),
        credentials_sealed: Set(credentials_sealed),
        config: Set(config),
        status: Set("active".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// Creates a source over `connection` backing up `streams` (empty: all of them).
pub async fn create_source(
    db: &impl ConnectionTrait,
    connection: &connection::Model,
    name: &str,
    streams: &[String],
) -> Result<source::Model, DbErr> {
    let now = Utc::now();
    source::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(connection.account_id.clone()),
        connection_id: Set(connection.id.clone()),
        platform: Set(connection.platform.clone()),
        name: Set(name.to_owned()),
        streams: Set(serde_json::json!(streams)),
        options: Set(serde_json::json!({})),
        stream_state: Set(serde_json::json!({})),
        last_snapshot_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
}

/// The Temporal workflow id of a job: readable, and unique per job.
pub fn workflow_id(kind: JobKind, source_id: &str, job_id: &str) -> String {
    let word = match kind {
        JobKind::Backup => "backup",
        JobKind::Sync => "sync",
    };
    format!("{word}/{source_id}/{job_id}")
}

/// Why a job could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateJobError {
    /// The source already has a queued or running job (its id).
    #[error("source already has an active job {0}")]
    Active(String),
    /// Only failed or cancelled jobs can be retried.
    #[error("job {0} did not fail")]
    NotRetryable(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The queued or running job of a source, if any.
pub async fn active_job(
    db: &impl ConnectionTrait,
    source_id: &str,
) -> Result<Option<job::Model>, DbErr> {
    job::Entity::find()
        .filter(job::Column::SourceId.eq(source_id))
        .filter(job::Column::Status.is_in(JobStatus::ACTIVE))
        .one(db)
        .await
}

/// Creates a queued job (and reserves its snapshot id) for `source`, unless one is active: the
/// database's unique index decides, so two simultaneous requests cannot both succeed.
pub async fn start_job(
    db: &impl ConnectionTrait,
    source: &source::Model,
    kind: JobKind,
) -> Result<job::Model, CreateJobError> {
    if let Some(active) = active_job(db, &source.id).await? {
        return Err(CreateJobError::Active(active.id));
    }
    match create_job(db, source, kind).await {
        Ok(job) => Ok(job),
        Err(e) => match active_job(db, &source.id).await? {
            Some(active) => Err(CreateJobError::Active(active.id)),
            None => Err(e.into()),
        },
    }
}

/// Creates a queued job (and reserves its snapshot id) for `source`.
pub async fn create_job(
    db: &impl ConnectionTrait,
    source: &source::Model,
    kind: JobKind,
) -> Result<job::Model, DbErr> {
    let id = crate::new_id();
    job::ActiveModel {
        workflow_id: Set(workflow_id(kind, &source.id, &id)),
        id: Set(id),
        account_id: Set(source.account_id.clone()),
        source_id: Set(source.id.clone()),
        kind: Set(kind),
        status: Set(JobStatus::Queued),
        run_id: Set(None),
        snapshot_id: Set(crate::new_id()),
        progress: Set(serde_json::json!({})),
        records: Set(0),
        bytes: Set(0),
        error: Set(None),
        created_at: Set(Utc::now()),
        started_at: Set(None),
        finished_at: Set(None),
        retry_of: Set(None),
    }
    .insert(db)
    .await
}

/// Creates a job that continues `failed`'s snapshot from its committed parts. Only a failed or
/// cancelled job can be retried, and only while the source has no other active job.
pub async fn retry_job(
    db: &impl ConnectionTrait,
    failed: &job::Model,
) -> Result<job::Model, CreateJobError> {
    if !matches!(failed.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(CreateJobError::NotRetryable(failed.id.clone()));
    }
    if let Some(active) = active_job(db, &failed.source_id).await? {
        return Err(CreateJobError::Active(active.id));
    }
    let id = crate::new_id();
    let inserted = job::ActiveModel {
        workflow_id: Set(workflow_id(failed.kind, &failed.source_id, &id)),
        id: Set(id),
        account_id: Set(failed.account_id.clone()),
        source_id: Set(failed.source_id.clone()),
        kind: Set(failed.kind),
        status: Set(JobStatus::Queued),
        run_id: Set(None),
        snapshot_id: Set(failed.snapshot_id.clone()),
        progress: Set(failed.progress.clone()),
        records: Set(failed.records),
        bytes: Set(failed.bytes),
        error: Set(None),
        created_at: Set(Utc::now()),
        started_at: Set(None),
        finished_at: Set(None),
        retry_of: Set(Some(failed.id.clone())),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(job) => Ok(job),
        Err(e) => match active_job(db, &failed.source_id).await? {
            Some(active) => Err(CreateJobError::Active(active.id)),
            None => Err(e.into()),
        },
    }
}

/// Moves a job to `running` unless it already finished. Returns whether a row changed.
pub async fn mark_job_running(db: &impl ConnectionTrait, job_id: &str) -> Result<bool, DbErr> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
        .col_expr(job::Column::StartedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.eq(JobStatus::Queued))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records progress of a running job.
pub async fn set_job_progress(
    db: &impl ConnectionTrait,
    job_id: &str,
    progress: Value,
    records: i64,
    bytes: i64,
) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::Progress, Expr::value(progress))
        .col_expr(job::Column::Records, Expr::value(records))
        .col_expr(job::Column::Bytes, Expr::value(bytes))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.is_in(JobStatus::ACTIVE))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves a job to a final status, once: a job that already finished keeps its first outcome.
pub async fn finish_job(
    db: &impl ConnectionTrait,
    job_id: &str,
    status: JobStatus,
    error: Option<String>,
) -> Result<bool, DbErr> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(status))
        .col_expr(job::Column::Error, Expr::value(error))
        .col_expr(job::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.is_in(JobStatus::ACTIVE))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Ends a job that did not succeed: `failed`, or `cancelled` when `cancelled`, with its snapshot
/// if that is still being written (never one with a manifest), and logs it as `actor`. Once: a
/// job that already finished keeps its first outcome. A failure notifies the account's webhooks
/// (`job.failed`, written to the outbox in the same transaction). Returns whether this call ended
/// the job.
pub async fn end_job_unsuccessfully(
    db: &sea_orm::DatabaseConnection,
    job: &job::Model,
    snapshot_id: Option<&str>,
    cancelled: bool,
    error: &str,
    actor: &str,
) -> Result<bool, DbErr> {
    use sea_orm::TransactionTrait;
    let (status, snapshot_status, action) = if cancelled {
        (
            JobStatus::Cancelled,
            SnapshotStatus::Cancelled,
            "job.cancelled",
        )
    } else {
        (JobStatus::Failed, SnapshotStatus::Failed, "job.failed")
    };
    if let Some(snapshot_id) = snapshot_id {
        snapshot::Entity::update_many()
            .col_expr(snapshot::Column::Status, Expr::value(snapshot_status))
            .filter(snapshot::Column::Id.eq(snapshot_id))
            .filter(snapshot::Column::Status.eq(SnapshotStatus::Writing))
            .exec(db)
            .await?;
    }
    let txn = db.begin().await?;
    let ended = finish_job(&txn, &job.id, status, Some(error.to_owned())).await?;
    if ended {
        let details = serde_json::json!({ "error": error });
        log_activity(
            &txn,
            &job.account_id,
            actor,
            action,
            ("job", &job.id),
            details,
        )
        .await?;
        if !cancelled {
            enqueue_job_event(&txn, &job.id, JOB_FAILED).await?;
        }
    }
    txn.commit().await?;
    Ok(ended)
}

/// The committed parts of one stream of a snapshot, in order.
pub async fn stream_parts(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
    stream: &str,
) -> Result<Vec<snapshot_part::Model>, DbErr> {
    snapshot_part::Entity::find()
        .filter(snapshot_part::Column::SnapshotId.eq(snapshot_id))
        .filter(snapshot_part::Column::Stream.eq(stream))
        .order_by_asc(snapshot_part::Column::PartNo)
        .all(db)
        .await
}

/// Records a stored part. A part number committed before (by an attempt that died after storing
/// it) is replaced, because its object was just overwritten under the same key.
pub async fn commit_part(
    db: &impl ConnectionTrait,
    part: snapshot_part::Model,
) -> Result<(), DbErr> {
    snapshot_part::Entity::delete_many()
        .filter(snapshot_part::Column::SnapshotId.eq(part.snapshot_id.as_str()))
        .filter(snapshot_part::Column::Stream.eq(part.stream.as_str()))
        .filter(snapshot_part::Column::PartNo.gte(part.part_no))
        .exec(db)
        .await?;
    snapshot_part::ActiveModel::from(part).insert(db).await?;
    Ok(())
}

/// Appends an entry to the activity log.
pub async fn log_activity(
    db: &impl ConnectionTrait,
    account_id: &str,
    actor: &str,
    action: &str,
    target: (&str, &str),
    details: Value,
) -> Result<(), DbErr> {
    activity_log::ActiveModel {
        id: Set(crate::new_id()),
        account_id: Set(account_id.to_owned()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target_type: Set(target.0.to_owned()),
        target_id: Set(target.1.to_owned()),
        details: Set(details),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The stored blob of `account_id` with these contents, if the account has it.
pub async fn find_blob(
    db: &impl ConnectionTrait,
    account_id: &str,
    sha256: &str,
) -> Result<Option<blob::Model>, DbErr> {
    blob::Entity::find_by_id((account_id.to_owned(), sha256.to_owned()))
        .one(db)
        .await
}

/// Records a stored blob; recording the same contents twice (two jobs storing one file at once)
/// keeps the first row, since both wrote the same object.
pub async fn record_blob(db: &impl ConnectionTrait, row: blob::Model) -> Result<(), DbErr> {
    blob::Entity::insert(blob::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([blob::Column::AccountId, blob::Column::Sha256])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The blob a connection's file with this platform fingerprint was stored as, provided that
/// blob is still in the store.
pub async fn blob_for_fingerprint(
    db: &impl ConnectionTrait,
    connection_id: &str,
    fingerprint: &str,
) -> Result<Option<blob::Model>, DbErr> {
    let Some(seen) =
        file_fingerprint::Entity::find_by_id((connection_id.to_owned(), fingerprint.to_owned()))
            .one(db)
            .await?
    else {
        return Ok(None);
    };
    find_blob(db, &seen.account_id, &seen.sha256).await
}

/// Remembers which blob a connection's file fingerprint resolved to.
pub async fn remember_fingerprint(
    db: &impl ConnectionTrait,
    row: file_fingerprint::Model,
) -> Result<(), DbErr> {
    file_fingerprint::Entity::insert(file_fingerprint::ActiveModel::from(row))
        .on_conflict(
            OnConflict::columns([
                file_fingerprint::Column::ConnectionId,
                file_fingerprint::Column::Fingerprint,
            ])
            .update_columns([
                file_fingerprint::Column::Sha256,
                file_fingerprint::Column::Size,
                file_fingerprint::Column::AccountId,
            ])
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Moves a job between `running` and `needs_reauth` (`waiting` says which way); false when the
/// job was not in the expected status (finished, or already moved by an earlier attempt).
pub async fn set_job_waiting_for_reauth(
    db: &impl ConnectionTrait,
    job_id: &str,
    waiting: bool,
    error: Option<&str>,
) -> Result<bool, DbErr> {
    let (from, to) = if waiting {
        (JobStatus::Running, JobStatus::NeedsReauth)
    } else {
        (JobStatus::NeedsReauth, JobStatus::Running)
    };
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(to))
        .col_expr(job::Column::Error, Expr::value(error.map(str::to_owned)))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::Status.eq(from))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// The jobs waiting in `needs_reauth` on sources of `connection_id`: what reconnecting it
/// resumes.
pub async fn jobs_waiting_for_connection(
    db: &impl ConnectionTrait,
    connection_id: &str,
) -> Result<Vec<job::Model>, DbErr> {
    let sources: Vec<String> = source::Entity::find()
        .filter(source::Column::ConnectionId.eq(connection_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    job::Entity::find()
        .filter(job::Column::SourceId.is_in(sources))
        .filter(job::Column::Status.eq(JobStatus::NeedsReauth))
        .all(db)
        .await
}
