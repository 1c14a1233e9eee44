//! The activity log: every state-changing call records what it did, to which object, and who
//! did it (`user:{id}` or `api_key:{id}`), in the same transaction as the change.

use crate::{access::Caller, error::ApiError};
use entities::repo;
use sea_orm::ConnectionTrait;
use serde_json::Value;

/// Appends `action` (`account.created`, `member.removed`, …) on `target` (`("account", id)`)
/// to `account_id`'s log.
pub async fn record(
    db: &impl ConnectionTrait,
    caller: &Caller,
    account_id: &str,
    action: &str,
    target: (&str, &str),
    details: Value,
) -> Result<(), ApiError> {
    repo::log_activity(db, account_id, &caller.actor(), action, target, details)
        .await
        .map_err(Into::into)
}
