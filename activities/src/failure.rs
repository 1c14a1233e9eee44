//! Turning errors into Temporal failures with a type name the retry policy understands.
//!
//! The SDK converts any error into a *retryable* failure. Errors that retrying cannot fix are
//! marked non-retryable here, explicitly, with the type names listed in
//! `workflows::backup::NON_RETRYABLE`.

use temporalio_sdk::{ApplicationFailure, activities::ActivityError};
use workflows::contracts::{QUOTA_EXHAUSTED, QuotaExhausted};

/// A failure that retrying cannot fix.
pub fn permanent(type_name: &str, message: impl Into<String>) -> ActivityError {
    let message: String = message.into();
    tracing::error!(error_type = type_name, error = %message, "activity failed permanently");
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(type_name.to_owned())
            .non_retryable(true)
            .build(),
    )
}

/// A failure worth retrying with backoff.
pub fn temporary(type_name: &str, message: impl Into<String>) -> ActivityError {
    let message: String = message.into();
    tracing::warn!(error_type = type_name, error = %message, "activity attempt failed; it will be retried");
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(type_name.to_owned())
            .build(),
    )
}

/// An extraction stopped by a platform quota that resets in `wait`: the workflow waits for the
/// reset on a durable timer instead of retrying (see `workflows::queue`).
pub fn quota_exhausted(wait: std::time::Duration, message: impl Into<String>) -> ActivityError {
    let message: String = message.into();
    let wait_secs = wait.as_secs_f64().ceil() as u64;
    tracing::warn!(error = %message, wait_secs, "platform quota exhausted; the run waits for it to reset");
    ActivityError::application(
        ApplicationFailure::builder(message)
            .type_name(QUOTA_EXHAUSTED.to_owned())
            .non_retryable(true)
            .details(QuotaExhausted { wait_secs })
            .build(),
    )
}

pub fn db(e: sea_orm::DbErr) -> ActivityError {
    temporary("DatabaseError", format!("database: {e}"))
}

pub fn storage(e: storage::StorageError) -> ActivityError {
    temporary("StorageError", e.to_string())
}

pub fn connector(e: connectors::ConnectorError) -> ActivityError {
    if e.is_temporary() || e.kind == connectors::ErrorKind::Decode {
        temporary(e.type_name(), e.to_string())
    } else {
        permanent(e.type_name(), e.to_string())
    }
}

pub fn not_found(what: &str, id: &str) -> ActivityError {
    permanent("NotFound", format!("{what} {id} not found"))
}
