//! What every activity needs, built once per worker process.

use crate::budgets::RateBudgets;
use connectors::{http::HttpClient, webhook::WebhookPolicy};
use sea_orm::DatabaseConnection;
use std::{sync::Arc, time::Duration};
use storage::{
    keys::{HeldIdentities, MasterKey},
    object_store::ObjectStore,
};

/// Tuning of the extraction loop.
#[derive(Debug, Clone)]
pub struct ExtractSettings {
    /// A part is closed at the first page boundary after this many uncompressed bytes. It bounds
    /// the worker's memory per running stream (one compressed part is held until stored).
    pub part_target_bytes: u64,
    /// An extraction activity returns its checkpoint to the workflow after about this long, so
    /// progress is visible and each attempt's work is bounded.
    pub chunk_duration: Duration,
    /// How often a running extraction heartbeats, also while waiting on a slow page.
    pub heartbeat_every: Duration,
    /// How many jobs of one account run at once; the others wait `queued` for a slot.
    pub account_max_jobs: u32,
}

/// The default of [`ExtractSettings::account_max_jobs`].
pub const DEFAULT_ACCOUNT_MAX_JOBS: u32 = 4;

impl Default for ExtractSettings {
    fn default() -> Self {
        Self {
            part_target_bytes: 32 * 1024 * 1024,
            chunk_duration: Duration::from_secs(60),
            heartbeat_every: Duration::from_secs(5),
            account_max_jobs: DEFAULT_ACCOUNT_MAX_JOBS,
        }
    }
}

/// Shared handles for all activities of a worker.
#[derive(Clone)]
pub struct WorkerContext {
    pub db: DatabaseConnection,
    pub store: ObjectStore,
    pub master: Arc<MasterKey>,
    /// The base client; each connector paces it with its connection's [`RateBudgets`].
    pub http: HttpClient,
    /// Request budgets held for every worker process together.
    pub budgets: Arc<RateBudgets>,
    pub extract: ExtractSettings,
    /// Which webhook URLs notifications may be sent to.
    pub webhooks: WebhookPolicy,
    /// Keys accounts that hold their own key handed to this process for an export (only the
    /// API process's key-holder queue has any).
    pub held: HeldIdentities,
}
