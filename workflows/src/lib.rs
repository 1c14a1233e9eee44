//! ListBackup's Temporal workflows and the contracts they call activities through.
//!
//! This crate depends on no I/O crate: workflows name their activities only through the
//! definitions in [`contracts`], and the `activities` crate implements those definitions. That
//! keeps workflow code deterministic by construction, whatever the activities do.

pub mod backup;
pub mod contracts;
pub mod export;
pub mod queue;
pub mod retention;
pub mod search;
pub mod verify;
pub mod webhooks;

pub use backup::BackupWorkflow;
pub use export::ExportWorkflow;
pub use retention::RetentionWorkflow;
pub use verify::{VerifyAccountWorkflow, VerifyWorkflow};
pub use webhooks::WebhookDeliveryWorkflow;

/// Task queue for backups and syncs.
pub const QUEUE_BACKUP: &str = "listbackup-backup";
/// Task queue for restores and exports, so a long export never starves a scheduled backup.
pub const QUEUE_EXPORT: &str = "listbackup-export";
/// Task queue for retention and verification.
pub const QUEUE_MAINTENANCE: &str = "listbackup-maintenance";
/// Every task queue, in the order a worker subscribes to them by default.
pub const ALL_QUEUES: [&str; 3] = [QUEUE_BACKUP, QUEUE_EXPORT, QUEUE_MAINTENANCE];
