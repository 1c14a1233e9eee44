//! The webhook dispatcher: starts one `WebhookDeliveryWorkflow` per delivery row the job
//! transitions wrote (the outbox), then marks the row dispatched.
//!
//! It runs in every worker process. A row is marked only after its start was accepted (or
//! found already made), so a process that dies between a commit and a start loses nothing: the
//! next pass, here or in another worker, starts it. Two dispatchers racing for one row are
//! harmless: the delivery's workflow id admits one run.

use entities::repo;
use sea_orm::DatabaseConnection;
use std::time::Duration;
use temporal::{Client, TemporalError};
use tokio_util::sync::CancellationToken;

/// How often the outbox is read.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// Rows started per pass at most.
const BATCH: u64 = 100;

/// Dispatches until `stop` is cancelled.
pub async fn run(client: Client, db: DatabaseConnection, stop: CancellationToken) {
    tracing::info!("webhook dispatcher running");
    loop {
        match dispatch_pending(&client, &db).await {
            Ok(n) if n > 0 => tracing::debug!(started = n, "webhook deliveries dispatched"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook dispatch pass failed; retrying"),
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(POLL_EVERY) => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DispatchError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Temporal(#[from] TemporalError),
}

/// One pass over the outbox; returns how many rows were marked dispatched.
async fn dispatch_pending(
    client: &Client,
    db: &DatabaseConnection,
) -> Result<usize, DispatchError> {
    let rows = repo::undispatched_deliveries(db, BATCH).await?;
    let mut started = 0;
    for row in rows {
        match temporal::start_webhook_delivery(client, &row.account_id, &row.id, &row.event).await {
            Ok(()) | Err(TemporalError::AlreadyStarted(_)) => {}
            Err(e) => return Err(e.into()),
        }
        repo::mark_dispatched(db, &row.id).await?;
        started += 1;
    }
    Ok(started)
}
