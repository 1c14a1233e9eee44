//! The activities of `WebhookDeliveryWorkflow`: one signed attempt at a delivery, recorded on
//! its row, and giving up once the retries ran out.

use crate::{
    context::WorkerContext,
    failure::{db, permanent, temporary},
};
use connectors::webhook::{self, Notification, WebhookError};
use entities::{repo, webhook as hook, webhook_delivery};
use sea_orm::EntityTrait;
use std::sync::Arc;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use workflows::contracts::{self, DeliveryInput, DeliveryResult, GiveUpInput};

/// Implements the webhook contracts in `workflows::contracts`.
pub struct WebhookActivities {
    pub ctx: WorkerContext,
}

impl WebhookActivities {
    pub fn new(ctx: WorkerContext) -> Self {
        Self { ctx }
    }
}

#[activities]
impl WebhookActivities {
    #[activity(definition = contracts::DeliverWebhook)]
    pub async fn deliver(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: DeliveryInput,
    ) -> Result<DeliveryResult, ActivityError> {
        deliver(&self.ctx, input).await
    }

    #[activity(definition = contracts::GiveUpDelivery)]
    pub async fn give_up(
        self: Arc<Self>,
        _ctx: ActivityContext,
        input: GiveUpInput,
    ) -> Result<(), ActivityError> {
        tracing::warn!(delivery_id = %input.delivery_id, error = %input.error, "webhook delivery given up");
        repo::give_up_delivery(&self.ctx.db, &input.delivery_id, &input.error)
            .await
            .map_err(db)
    }
}

fn result_of(row: &webhook_delivery::Model) -> DeliveryResult {
    DeliveryResult {
        status: row.status.clone(),
        attempts: row.attempts.max(0) as u32,
        status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
    }
}

fn abandoned() -> DeliveryResult {
    DeliveryResult {
        status: "abandoned".into(),
        ..DeliveryResult::default()
    }
}

async fn deliver(w: &WorkerContext, input: DeliveryInput) -> Result<DeliveryResult, ActivityError> {
    let Some(row) = webhook_delivery::Entity::find_by_id(&input.delivery_id)
        .one(&w.db)
        .await
        .map_err(db)?
    else {
        // Its webhook was deleted, and the delivery log with it.
        return Ok(abandoned());
    };
    if row.status != repo::DELIVERY_PENDING {
        return Ok(result_of(&row));
    }
    let Some(target) = hook::Entity::find_by_id(&row.webhook_id)
        .one(&w.db)
        .await
        .map_err(db)?
        .filter(|h| h.enabled)
    else {
        let attempt = repo::Attempt {
            status_code: None,
            error: Some("the webhook was disabled or deleted".into()),
            last: true,
        };
        repo::record_attempt(&w.db, &row.id, attempt)
            .await
            .map_err(db)?;
        return Ok(abandoned());
    };
    let secret = w.master.open_string(&target.secret_sealed).map_err(|_| {
        permanent(
            "ConfigError",
            format!(
                "the secret of webhook {} cannot be opened with this master key",
                target.id
            ),
        )
    })?;
    let notification = Notification {
        url: &target.url,
        secret: &secret,
        event: &row.event,
        delivery_id: &row.id,
        body: &row.payload,
    };
    let (attempt, failure) = match webhook::send(&w.webhooks, &notification).await {
        Ok(code) if (200..300).contains(&code) => (
            repo::Attempt {
                status_code: Some(code),
                error: None,
                last: false,
            },
            None,
        ),
        Ok(code) => {
            let error = format!("the receiver answered HTTP {code}");
            let attempt = repo::Attempt {
                status_code: Some(code),
                error: Some(error.clone()),
                last: false,
            };
            (attempt, Some(temporary("WebhookRejected", error)))
        }
        Err(WebhookError::Url(reason)) => {
            let error = format!("webhook URL {reason}");
            let attempt = repo::Attempt {
                status_code: None,
                error: Some(error.clone()),
                last: true,
            };
            (attempt, Some(permanent("InvalidWebhookUrl", error)))
        }
        Err(WebhookError::Network(error)) => {
            let attempt = repo::Attempt {
                status_code: None,
                error: Some(error.clone()),
                last: false,
            };
            (attempt, Some(temporary("WebhookUnreachable", error)))
        }
    };
    let recorded = repo::record_attempt(&w.db, &row.id, attempt)
        .await
        .map_err(db)?;
    if let Some(failure) = failure {
        return Err(failure);
    }
    let Some(row) = recorded else {
        return Ok(abandoned());
    };
    tracing::info!(delivery_id = %row.id, webhook_id = %row.webhook_id, account_id = %row.account_id, event = %row.event, attempts = row.attempts, "webhook delivered");
    Ok(result_of(&row))
}
