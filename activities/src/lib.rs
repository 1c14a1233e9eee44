//! Activity implementations: everything that touches the outside world on behalf of a workflow.
//!
//! [`BackupActivities`], [`VerifyActivities`] and [`WebhookActivities`] hold the worker's shared handles (database,
//! object store, master key, HTTP client, webhook URL policy) as fields and implement the
//! contracts declared in `workflows::contracts`. Each activity is idempotent: running it again
//! after a crash or a retry converges on the same state.

mod backup;
pub mod budgets;
mod context;
mod export;
mod failure;
mod retention;
pub mod tokens;
mod verify;
mod webhooks;

pub use backup::BackupActivities;
pub use budgets::RateBudgets;
pub use context::{ExtractSettings, WorkerContext};
pub use export::ExportActivities;
pub use retention::RetentionActivities;
pub use verify::VerifyActivities;
pub use webhooks::WebhookActivities;
