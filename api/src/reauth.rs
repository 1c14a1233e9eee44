//! Resuming runs that wait for a connection to be re-authorized.
//!
//! A backup whose connection the platform refused waits in `needs_reauth` (a durable wait in its
//! workflow). Whatever replaces the connection's credentials — reconnecting it through the API —
//! calls [`resume_jobs_waiting_for`] afterwards, and each waiting run continues where it stopped.

use entities::repo;
use sea_orm::DatabaseConnection;

/// Signals every job waiting on `connection_id` to continue; returns how many were signalled.
/// A run that cannot be reached now is logged and keeps waiting (reconnecting again retries).
pub async fn resume_jobs_waiting_for(
    db: &DatabaseConnection,
    client: &temporal::Client,
    connection_id: &str,
) -> Result<usize, sea_orm::DbErr> {
    let waiting = repo::jobs_waiting_for_connection(db, connection_id).await?;
    let mut signalled = 0;
    for job in waiting {
        match temporal::signal_reauthorized(client, &job.workflow_id).await {
            Ok(()) => signalled += 1,
            Err(e) => {
                tracing::warn!(job_id = %job.id, error = %e, "could not resume a job waiting for re-authorization")
            }
        }
    }
    Ok(signalled)
}
