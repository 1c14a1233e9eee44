//! `Idempotency-Key` on the POSTs that start jobs: a client that is unsure whether its request
//! arrived (a timeout, a dropped connection) sends it again with the same key and gets the same
//! answer — the same job — instead of starting a second one.
//!
//! A key belongs to its sender (`user:{id}` or `api_key:{id}`) and is remembered for 24 hours
//! with a fingerprint of what was asked: the operation, its target and its body. The first
//! request claims the key by inserting its row — a unique index on (sender, key) decides between
//! simultaneous requests — and a second request with the key waits for the first one's answer
//! and replays it. Only a success is remembered: after an error (a conflict, Temporal
//! unavailable) the row is removed and the same key may try again. The same key with a different
//! operation, target or body is `422 idempotency_key_reused`.

use crate::{access::Caller, error::ApiError};
use chrono::{Duration as Age, Utc};
use entities::idempotency_key;
use poem::http::StatusCode;
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The header's name, as `details.field` names it.
pub const HEADER: &str = "Idempotency-Key";
/// How long a key is remembered.
pub const KEPT_FOR: Age = Age::hours(24);
/// A claim whose request never answered (its process died) is given up after this long.
const ABANDONED_AFTER: Age = Age::minutes(5);
/// How long a repeated request waits for the first one's answer.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What to do with a request that may carry a key.
pub enum Begin<T> {
    /// Do the work, then [`finish`] the claim (`None`: no key was sent).
    Proceed(Option<Claim>),
    /// The key answered this before: send it again.
    Replay(T),
}

/// A key claimed by this request, to be resolved with its answer.
#[must_use = "finish the claim with the answer"]
pub struct Claim {
    id: String,
}

/// Claims `key` for `operation` on `target` with `body`, or finds the answer it already has.
pub async fn begin<T: ParseFromJSON>(
    db: &impl ConnectionTrait,
    caller: &Caller,
    key: Option<&str>,
    operation: &str,
    target: &str,
    body: Option<serde_json::Value>,
) -> Result<Begin<T>, ApiError> {
    let Some(key) = key else {
        return Ok(Begin::Proceed(None));
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_param(
            HEADER,
            format!("`{HEADER}` must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ));
    }
    let principal = caller.actor();
    let fingerprint = fingerprint(operation, target, &body);
    let now = Utc::now();
    idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(now - KEPT_FOR))
        .exec(db)
        .await?;
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let id = entities::new_id();
        let inserted = idempotency_key::ActiveModel {
            id: Set(id.clone()),
            principal: Set(principal.clone()),
            key: Set(key.to_owned()),
            fingerprint: Set(fingerprint.clone()),
            status_code: Set(None),
            response: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(db)
        .await;
        match inserted {
            Ok(_) => return Ok(Begin::Proceed(Some(Claim { id }))),
            Err(e) if !crate::error::is_unique_violation(&e) => return Err(e.into()),
            Err(_) => {}
        }
        let Some(first) = idempotency_key::Entity::find()
            .filter(idempotency_key::Column::Principal.eq(principal.as_str()))
            .filter(idempotency_key::Column::Key.eq(key))
            .one(db)
            .await?
        else {
            continue; // released in between: claim it again
        };
        if first.fingerprint != fingerprint {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                format!(
                    "this `{HEADER}` was used in the last 24 hours for a different request; \
                     use a new key for a new request"
                ),
            )
            .with_details(json!({"field": HEADER})));
        }
        if let Some(answer) = &first.response {
            return T::parse_from_json(Some(answer.clone()))
                .map(Begin::Replay)
                .map_err(|e| {
                    ApiError::internal(format!("stored answer unreadable: {}", e.message()))
                });
        }
        if first.created_at < Utc::now() - ABANDONED_AFTER {
            release_row(db, &first.id).await?;
            continue;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::conflict(
                "idempotency_key_in_use",
                format!("a request with this `{HEADER}` is still being answered; try again"),
            )
            .with_details(json!({"field": HEADER})));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Resolves a claim: a success (`Some`) is stored for replay with its status; an error releases
/// the key so the request can be tried again.
pub async fn finish<T: ToJSON>(
    db: &impl ConnectionTrait,
    claim: Option<Claim>,
    answer: Option<(u16, &T)>,
) {
    let Some(claim) = claim else { return };
    let result = match answer {
        Some((status, body)) => idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::StatusCode,
                Expr::value(i32::from(status)),
            )
            .col_expr(
                idempotency_key::Column::Response,
                Expr::value(body.to_json()),
            )
            .filter(idempotency_key::Column::Id.eq(claim.id.as_str()))
            .exec(db)
            .await
            .map(drop),
        None => release_row(db, &claim.id).await,
    };
    if let Err(e) = result {
        // The claim stays pending; it is given up after ABANDONED_AFTER.
        tracing::warn!(error = %e, "could not resolve an idempotency key");
    }
}

async fn release_row(db: &impl ConnectionTrait, id: &str) -> Result<(), sea_orm::DbErr> {
    idempotency_key::Entity::delete_by_id(id)
        .exec(db)
        .await
        .map(drop)
}

/// SHA-256 over the operation, the target and the body's JSON.
fn fingerprint(operation: &str, target: &str, body: &Option<serde_json::Value>) -> String {
    let mut hash = Sha256::new();
    for part in [
        operation,
        target,
        &body.as_ref().map(|b| b.to_string()).unwrap_or_default(),
    ] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_tell_operations_targets_and_bodies_apart() {
        let body = Some(serde_json::json!({"streams": ["customers"]}));
        let a = super::fingerprint("startBackup", "src_1", &body);
        assert_eq!(a, super::fingerprint("startBackup", "src_1", &body));
        assert_ne!(a, super::fingerprint("startSync", "src_1", &body));
        assert_ne!(a, super::fingerprint("startBackup", "src_2", &body));
        assert_ne!(a, super::fingerprint("startBackup", "src_1", &None));
    }
}
