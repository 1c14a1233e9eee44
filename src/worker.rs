//! The Temporal worker: polls task queues and runs ListBackup's workflows and activities, and
//! dispatches webhook deliveries (see [`crate::webhooks`]).
//!
//! One process can serve several queues (by default all of them): each queue gets its own SDK
//! worker, with the workflows and activities of that kind of work, all on one runtime and one
//! client. Deployments that want backups isolated from maintenance run processes with
//! different `--queues`.

use activities::{
    BackupActivities, ExportActivities, RetentionActivities, VerifyActivities, WebhookActivities,
    WorkerContext,
};
use temporal::Client;
use temporalio_sdk::{Worker, WorkerOptions, runtime::RuntimeOptions};
use tokio_util::sync::CancellationToken;
use workflows::{
    BackupWorkflow, ExportWorkflow, QUEUE_BACKUP, QUEUE_EXPORT, QUEUE_MAINTENANCE,
    RetentionWorkflow, VerifyAccountWorkflow, VerifyWorkflow, WebhookDeliveryWorkflow,
};

/// Task queues that have work registered in this version.
pub const SERVED_QUEUES: [&str; 3] = [QUEUE_BACKUP, QUEUE_EXPORT, QUEUE_MAINTENANCE];

/// The options of the SDK worker for one queue: what runs there.
fn queue_options(queue: &str, ctx: &WorkerContext) -> anyhow::Result<WorkerOptions> {
    let options = WorkerOptions::new(queue);
    Ok(match queue {
        QUEUE_BACKUP => options
            .register_workflow::<BackupWorkflow>()?
            // Webhook deliveries run on the backup queue: they are short, and every
            // deployment serves it.
            .register_workflow::<WebhookDeliveryWorkflow>()?
            .register_activities(BackupActivities::new(ctx.clone()))
            .register_activities(WebhookActivities::new(ctx.clone()))
            .build(),
        QUEUE_EXPORT => options
            .register_workflow::<ExportWorkflow>()?
            .register_activities(ExportActivities::new(ctx.clone()))
            .build(),
        QUEUE_MAINTENANCE => options
            .register_workflow::<VerifyWorkflow>()?
            .register_workflow::<VerifyAccountWorkflow>()?
            .register_workflow::<RetentionWorkflow>()?
            .register_activities(VerifyActivities::new(ctx.clone()))
            .register_activities(RetentionActivities::new(ctx.clone()))
            .build(),
        other => anyhow::bail!(
            "task queue `{other}` has no work in this version (known: {})",
            SERVED_QUEUES.join(", ")
        ),
    })
}

/// Runs a worker on each of `queues` until `stop` is cancelled; in-flight activities are given
/// the chance to finish. Must be awaited on the task that owns it (the SDK's worker is not
/// `Send`).
pub async fn run(
    client: Client,
    ctx: WorkerContext,
    queues: &[&str],
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if queues.is_empty() {
        anyhow::bail!(
            "--queues: name at least one of {}",
            SERVED_QUEUES.join(", ")
        );
    }
    let options = queues
        .iter()
        .map(|queue| queue_options(queue, &ctx))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime = temporalio_sdk::Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;
    let dispatcher = tokio::spawn(crate::webhooks::run(
        client.clone(),
        ctx.db.clone(),
        stop.clone(),
    ));
    let mut workers = Vec::with_capacity(options.len());
    for options in options {
        workers.push(Worker::new(&runtime, client.clone(), options)?);
    }
    let shutdowns: Vec<_> = workers.iter().map(|w| w.shutdown_handle()).collect();
    let stopper = async move {
        stop.cancelled().await;
        tracing::info!("worker shutting down");
        for shutdown in shutdowns {
            shutdown();
        }
    };
    tracing::info!(queues = %queues.join(","), "worker polling");
    let runs = futures::future::join_all(workers.iter_mut().map(|w| w.run()));
    let (results, ()) = tokio::join!(runs, stopper);
    dispatcher.abort();
    for result in results {
        result?;
    }
    Ok(())
}
