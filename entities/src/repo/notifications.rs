//! Job-outcome emails as an outbox: [`enqueue_job_notifications`] writes one row per recipient
//! inside the transaction that ends the job; the API process's sender claims due rows with a
//! lease, sends, and records the outcome. A row is claimed by one guarded `UPDATE`, so two
//! senders never both send it; a sender that dies mid-send leaves the row to be sent again when
//! its lease ends (at least once).

use super::{JOB_FAILED, JOB_SUCCEEDED};
use crate::model::{account, job, membership, notification, team_grant, team_member, user};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, ExprTrait},
};
use serde_json::Value;
use std::collections::BTreeSet;

/// Waiting to be sent (or retried).
pub const NOTIFICATION_PENDING: &str = "pending";
pub const NOTIFICATION_SENT: &str = "sent";
/// Given up after the last attempt.
pub const NOTIFICATION_FAILED: &str = "failed";
/// Never sent: older than worth sending (no mail server for a day, say).
pub const NOTIFICATION_SKIPPED: &str = "skipped";

/// Whether a user's stored notification preferences (`users.notifications`) want `event`:
/// failures by default, successes only when turned on.
pub fn wants_job_email(preferences: Option<&Value>, event: &str) -> bool {
    let (key, default) = match event {
        JOB_FAILED => ("job_failed", true),
        JOB_SUCCEEDED => ("job_succeeded", false),
        _ => return false,
    };
    preferences
        .and_then(|p| p.get(key))
        .and_then(Value::as_bool)
        .unwrap_or(default)
}

/// The users who reach `account_id` as members: memberships on it or an account above it, and
/// members of teams granted a role there. Users without a second factor are left out where the
/// account (or one above it) requires one.
pub async fn member_recipients(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<Vec<user::Model>, DbErr> {
    let mut accounts = vec![account_id.to_owned()];
    let ancestors = super::account_ancestors(db, account_id).await?;
    let require_mfa = ancestors.iter().any(|a| a.require_mfa)
        || account::Entity::find_by_id(account_id)
            .one(db)
            .await?
            .is_some_and(|a| a.require_mfa);
    accounts.extend(ancestors.into_iter().map(|a| a.id));
    let mut user_ids: BTreeSet<String> = membership::Entity::find()
        .filter(membership::Column::AccountId.is_in(accounts.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    let teams: Vec<String> = team_grant::Entity::find()
        .filter(team_grant::Column::AccountId.is_in(accounts))
        .all(db)
        .await?
        .into_iter()
        .map(|g| g.team_id)
        .collect();
    if !teams.is_empty() {
        user_ids.extend(
            team_member::Entity::find()
                .filter(team_member::Column::TeamId.is_in(teams))
                .all(db)
                .await?
                .into_iter()
                .map(|m| m.user_id),
        );
    }
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(user_ids))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?;
    Ok(users
        .into_iter()
        .filter(|u| !require_mfa || u.mfa_enabled_at.is_some())
        .collect())
}

/// Writes the emails `event` about `job` calls for: one per member of its account who wants it.
/// Run it in the transaction that moves the job. Returns how many.
pub async fn enqueue_job_notifications(
    db: &impl ConnectionTrait,
    job: &job::Model,
    event: &str,
) -> Result<usize, DbErr> {
    if event != JOB_FAILED && event != JOB_SUCCEEDED {
        return Ok(0);
    }
    let now = Utc::now();
    let mut written = 0;
    for u in member_recipients(db, &job.account_id).await? {
        if !wants_job_email(u.notifications.as_ref(), event) {
            continue;
        }
        notification::ActiveModel {
            id: Set(crate::new_id()),
            user_id: Set(u.id),
            account_id: Set(job.account_id.clone()),
            job_id: Set(job.id.clone()),
            event: Set(event.to_owned()),
            status: Set(NOTIFICATION_PENDING.to_owned()),
            attempts: Set(0),
            last_error: Set(None),
            not_before: Set(now),
            created_at: Set(now),
            sent_at: Set(None),
        }
        .insert(db)
        .await?;
        written += 1;
    }
    Ok(written)
}

/// Claims up to `limit` due emails for `lease`: each is returned to one caller only (with
/// `not_before` set to the lease's end, which its outcome must name), and comes due again when
/// the lease ends without an outcome recorded.
pub async fn claim_due_notifications(
    db: &impl ConnectionTrait,
    limit: u64,
    lease: Duration,
) -> Result<Vec<notification::Model>, DbErr> {
    // Whole milliseconds: stored and compared exactly by every database.
    let now = Utc::now().trunc_subsecs(3);
    let due = notification::Entity::find()
        .filter(notification::Column::Status.eq(NOTIFICATION_PENDING))
        .filter(notification::Column::NotBefore.lte(now))
        .order_by_asc(notification::Column::NotBefore)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::new();
    for n in due {
        let res = notification::Entity::update_many()
            .col_expr(notification::Column::NotBefore, Expr::value(now + lease))
            .filter(notification::Column::Id.eq(n.id.as_str()))
            .filter(notification::Column::Status.eq(NOTIFICATION_PENDING))
            .filter(notification::Column::NotBefore.eq(n.not_before))
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            claimed.push(notification::Model {
                not_before: now + lease,
                ..n
            });
        }
    }
    Ok(claimed)
}

/// Records a claimed email as sent: true when the claim was still the caller's (its lease had not
/// ended and been taken by another sender).
pub async fn notification_sent(
    db: &impl ConnectionTrait,
    claimed: &notification::Model,
) -> Result<bool, DbErr> {
    let res = notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value(NOTIFICATION_SENT))
        .col_expr(notification::Column::SentAt, Expr::value(Utc::now()))
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .filter(notification::Column::Id.eq(claimed.id.as_str()))
        .filter(notification::Column::Status.eq(NOTIFICATION_PENDING))
        .filter(notification::Column::NotBefore.eq(claimed.not_before))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Records a failed attempt: tried again at `retry_at`, or given up (`failed`) without one.
/// `status` overrides the outcome (e.g. [`NOTIFICATION_SKIPPED`] for an email with nothing left
/// to say).
pub async fn notification_not_sent(
    db: &impl ConnectionTrait,
    claimed: &notification::Model,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    status: Option<&str>,
) -> Result<(), DbErr> {
    let mut update = notification::Entity::update_many()
        .col_expr(notification::Column::LastError, Expr::value(error))
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        );
    update = match (retry_at, status) {
        (Some(at), None) => update.col_expr(notification::Column::NotBefore, Expr::value(at)),
        (_, status) => update.col_expr(
            notification::Column::Status,
            Expr::value(status.unwrap_or(NOTIFICATION_FAILED)),
        ),
    };
    update
        .filter(notification::Column::Id.eq(claimed.id.as_str()))
        .filter(notification::Column::Status.eq(NOTIFICATION_PENDING))
        .filter(notification::Column::NotBefore.eq(claimed.not_before))
        .exec(db)
        .await?;
    Ok(())
}

/// How many emails `user_id` was sent since `since`.
pub async fn notifications_sent_since(
    db: &impl ConnectionTrait,
    user_id: &str,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::Status.eq(NOTIFICATION_SENT))
        .filter(notification::Column::SentAt.gt(since))
        .count(db)
        .await
}

/// Deletes emails that were sent, given up or skipped before `cutoff`. Returns how many.
pub async fn purge_notifications_before(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = notification::Entity::delete_many()
        .filter(notification::Column::Status.ne(NOTIFICATION_PENDING))
        .filter(notification::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Marks pending emails written before `cutoff` as skipped: news that old is no longer worth
/// an email. Returns how many.
pub async fn skip_stale_notifications(
    db: &impl ConnectionTrait,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let res = notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(NOTIFICATION_SKIPPED),
        )
        .filter(notification::Column::Status.eq(NOTIFICATION_PENDING))
        .filter(notification::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
