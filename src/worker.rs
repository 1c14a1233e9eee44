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

/// A task queue of this process alone, on which it builds the exports and runs the decrypting
/// checks of verifications of accounts that hold their own key: the API process that took the
/// request holds the key in memory ([`api::KeyHolder`]) and those activities are scheduled
/// here, so the key never enters a workflow's history, the database or another process.
pub fn key_holder_queue() -> String {
    format!("{KEY_HOLDER_QUEUE_PREFIX}{}", uuid::Uuid::now_v7())
}

/// What every key-holder queue's name starts with.
pub const KEY_HOLDER_QUEUE_PREFIX: &str = "listbackup-keys-";

/// The activities' context of a key holder: what an export's build needs, and the held keys.
pub fn key_holder_context(
    db: sea_orm::DatabaseConnection,
    store: storage::object_store::ObjectStore,
    master: std::sync::Arc<storage::keys::MasterKey>,
    holder: &api::KeyHolder,
) -> WorkerContext {
    WorkerContext {
        budgets: activities::RateBudgets::new(db.clone()),
        db,
        store,
        master,
        http: Default::default(),
        extract: Default::default(),
        webhooks: Default::default(),
        held: holder.held.clone(),
    }
}

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
///
/// `key_holder` names this process's key-holder queue ([`key_holder_queue`]), served with the
/// export and verification activities, which find the keys in `ctx.held`.
pub async fn run(
    client: Client,
    ctx: WorkerContext,
    queues: &[&str],
    key_holder: Option<&str>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if queues.is_empty() && key_holder.is_none() {
        anyhow::bail!(
            "--queues: name at least one of {}",
            SERVED_QUEUES.join(", ")
        );
    }
    let mut options = queues
        .iter()
        .map(|queue| queue_options(queue, &ctx))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(queue) = key_holder {
        options.push(
            WorkerOptions::new(queue)
                .register_activities(ExportActivities::new(ctx.clone()))
                .register_activities(VerifyActivities::new(ctx.clone()))
                .build(),
        );
    }
    let runtime = temporalio_sdk::Runtime::from_current_tokio(
        RuntimeOptions::builder()
            .build()
            .map_err(anyhow::Error::msg)?,
    )?;
    // Webhook deliveries are dispatched by the processes that serve the task queues.
    let dispatcher = (!queues.is_empty()).then(|| {
        tokio::spawn(crate::webhooks::run(
            client.clone(),
            ctx.db.clone(),
            stop.clone(),
        ))
    });
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
    tracing::info!(queues = %queues.join(","), key_holder = key_holder.unwrap_or("-"), "worker polling");
    let runs = futures::future::join_all(workers.iter_mut().map(|w| w.run()));
    let (results, ()) = tokio::join!(runs, stopper);
    if let Some(dispatcher) = dispatcher {
        dispatcher.abort();
    }
    for result in results {
        result?;
    }
    Ok(())
}
