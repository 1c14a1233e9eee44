//! The Temporal worker: polls task queues and runs ListBackup's workflows and activities, and
//! dispatches webhook deliveries (see [`crate::webhooks`]).

use activities::{BackupActivities, RetentionActivities, WebhookActivities, WorkerContext};
use temporal::Client;
use temporalio_sdk::{Worker, WorkerOptions, runtime::RuntimeOptions};
use tokio_util::sync::CancellationToken;
use workflows::{
    BackupWorkflow, QUEUE_BACKUP, QUEUE_MAINTENANCE, RetentionWorkflow, WebhookDeliveryWorkflow,
};

/// Task queues that have work registered in this version.
pub const SERVED_QUEUES: [&str; 2] = [QUEUE_BACKUP, QUEUE_MAINTENANCE];

/// Runs one worker per queue in this process (see [`run`]) until `stop` is cancelled.
pub async fn run_queues(
    client: Client,
    ctx: WorkerContext,
    queues: &[String],
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(unknown) = queues.iter().find(|q| !SERVED_QUEUES.contains(&q.as_str())) {
        anyhow::bail!(
            "task queue `{unknown}` has no work in this version (known: {})",
            SERVED_QUEUES.join(", ")
        );
    }
    let workers = queues
        .iter()
        .map(|q| run(client.clone(), ctx.clone(), q, stop.clone()));
    futures::future::join_all(workers)
        .await
        .into_iter()
        .collect()
}

/// Runs a worker on `queue` until `stop` is cancelled; in-flight activities are given the
/// chance to finish. Must be awaited on the task that owns it (the SDK's worker is not `Send`).
pub async fn run(
    client: Client,
    ctx: WorkerContext,
    queue: &str,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if !SERVED_QUEUES.contains(&queue) {
        anyhow::bail!(
            "task queue `{queue}` has no work in this version (known: {})",
            SERVED_QUEUES.join(", ")
        );
    }
    let runtime = temporalio_sdk::Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;
    // Webhook deliveries run on the backup queue: they are short, and every worker serves it.
    let dispatcher = (queue == QUEUE_BACKUP).then(|| {
        tokio::spawn(crate::webhooks::run(
            client.clone(),
            ctx.db.clone(),
            stop.clone(),
        ))
    });
    let options = WorkerOptions::new(queue)
        .register_workflow::<BackupWorkflow>()?
        .register_workflow::<WebhookDeliveryWorkflow>()?
        .register_workflow::<RetentionWorkflow>()?
        .register_activities(BackupActivities::new(ctx.clone()))
        .register_activities(RetentionActivities::new(ctx.clone()))
        .register_activities(WebhookActivities::new(ctx))
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    let shutdown = worker.shutdown_handle();
    let stopper = async move {
        stop.cancelled().await;
        tracing::info!("worker shutting down");
        shutdown();
    };
    tracing::info!(queue, "worker polling");
    let (result, ()) = tokio::join!(worker.run(), stopper);
    if let Some(dispatcher) = dispatcher {
        dispatcher.abort();
    }
    result?;
    Ok(())
}
