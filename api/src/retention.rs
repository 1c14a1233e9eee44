//! The activity log keeps 90 days. Every API process runs [`run`] in the background: once at
//! start and then hourly it deletes older rows. The pass is one idempotent `DELETE … WHERE
//! created_at < cutoff`, so several replicas running it at once do no harm, and a process that
//! was down catches up on its next pass.

use chrono::{DateTime, Utc};
use entities::repo;
use sea_orm::{DatabaseConnection, DbErr};
use std::time::Duration;

/// How often the pass runs.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Deletes the activity log rows older than the retention period as of `now`; returns how many.
pub async fn purge_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let cutoff = now - chrono::Duration::days(repo::ACTIVITY_RETENTION_DAYS);
    repo::purge_activity_before(db, cutoff).await
}

/// Runs the pass every `every`, for as long as the future is polled.
pub async fn run(db: DatabaseConnection, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match purge_expired(&db, Utc::now()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "activity log rows past retention deleted"),
            Err(e) => tracing::warn!(error = %e, "activity log retention pass failed"),
        }
    }
}
