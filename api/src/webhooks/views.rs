//! What the webhook operations read and answer.

use crate::{error::ErrorEnvelope, error_responses, pagination::Page};
use chrono::{DateTime, Utc};
use entities::{repo, webhook, webhook_delivery};
use poem_openapi::{ApiResponse, Enum, Object, payload::Json, types::Example};
use serde_json::Value;

/// An event a webhook can subscribe to. `verification.failed` is reserved: it may be
/// subscribed to, and is sent once snapshot verification reports failures.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "WebhookEvent")]
pub enum WebhookEvent {
    /// A job finished with a complete snapshot.
    #[oai(rename = "job.succeeded")]
    JobSucceeded,
    /// A job failed (cancelled jobs are not reported).
    #[oai(rename = "job.failed")]
    JobFailed,
    /// A job stopped because the platform refused its connection; it waits for a reconnection.
    #[oai(rename = "job.needs_reauth")]
    JobNeedsReauth,
    /// A scheduled run did not start because the source had an active job.
    #[oai(rename = "schedule.missed")]
    ScheduleMissed,
    /// Reserved for snapshot verification.
    #[oai(rename = "verification.failed")]
    VerificationFailed,
}

impl WebhookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JobSucceeded => repo::JOB_SUCCEEDED,
            Self::JobFailed => repo::JOB_FAILED,
            Self::JobNeedsReauth => repo::JOB_NEEDS_REAUTH,
            Self::ScheduleMissed => repo::SCHEDULE_MISSED,
            Self::VerificationFailed => repo::VERIFICATION_FAILED,
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Self::JobSucceeded,
            Self::JobFailed,
            Self::JobNeedsReauth,
            Self::ScheduleMissed,
            Self::VerificationFailed,
        ]
        .into_iter()
        .find(|e| e.as_str() == name)
    }
}

/// A webhook, without its secret.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct WebhookView {
    pub id: String,
    pub account_id: String,
    /// Where notifications are POSTed.
    pub url: String,
    /// The events it receives.
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    /// A disabled webhook receives nothing; deliveries still retrying stop.
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for WebhookView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-b1c2-7d3e-8f40-5a6b7c8d9e0f".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            url: "https://hooks.example.com/listbackup".into(),
            events: vec![WebhookEvent::JobSucceeded, WebhookEvent::JobFailed],
            description: Some("ops channel".into()),
            enabled: true,
            created_at: at,
            updated_at: at,
        }
    }
}

pub fn view(w: webhook::Model) -> WebhookView {
    let events = w
        .events
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().and_then(WebhookEvent::parse))
        .collect();
    WebhookView {
        id: w.id,
        account_id: w.account_id,
        url: w.url,
        events,
        description: w.description,
        enabled: w.enabled,
        created_at: w.created_at,
        updated_at: w.updated_at,
    }
}

/// A webhook with its signing secret: answered on creation and on rotation, and never again.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookWithSecret {
    #[oai(flatten)]
    pub webhook: WebhookView,
    /// The key of the `X-Listbackup-Signature` HMAC. Store it now: it cannot be shown again.
    pub secret: String,
}

/// A new webhook.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateWebhook {
    /// An https URL without credentials, on a public address (see `docs/api.md` for private
    /// receivers); at most 2048 characters.
    pub url: String,
    /// One or more events to receive.
    pub events: Vec<WebhookEvent>,
    /// Up to 500 characters, for people.
    pub description: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
}

impl Example for CreateWebhook {
    fn example() -> Self {
        Self {
            url: "https://hooks.example.com/listbackup".into(),
            events: vec![WebhookEvent::JobSucceeded, WebhookEvent::JobFailed],
            description: Some("ops channel".into()),
            enabled: None,
        }
    }
}

/// Changes to a webhook; fields left out stay as they are. An empty `description` removes it.
#[derive(Object, Debug, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct UpdateWebhook {
    pub url: Option<String>,
    pub events: Option<Vec<WebhookEvent>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl Example for UpdateWebhook {
    fn example() -> Self {
        Self {
            enabled: Some(false),
            ..Self::default()
        }
    }
}

/// One attempt at a delivery.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryAttempt {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why the attempt did not count as delivered.
    pub error: Option<String>,
}

/// A notification to a webhook and what became of it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct WebhookDelivery {
    /// Sent as `X-Listbackup-Delivery` (and `delivery_id` in the payload).
    pub id: String,
    pub webhook_id: String,
    /// The event (`job.succeeded`, …, or `webhook.test`).
    pub event: String,
    /// `pending` (being tried), `delivered` (a 2xx answered) or `failed` (given up).
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// The last attempts, oldest first (up to 100).
    pub attempt_log: Vec<DeliveryAttempt>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    /// The JSON body, exactly as sent.
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

pub fn delivery_view(d: webhook_delivery::Model) -> WebhookDelivery {
    let attempt_log = d
        .attempt_log
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| {
            Some(DeliveryAttempt {
                attempt: u32::try_from(a["attempt"].as_u64()?).ok()?,
                at: DateTime::parse_from_rfc3339(a["at"].as_str()?)
                    .ok()?
                    .with_timezone(&Utc),
                status_code: a["status_code"]
                    .as_u64()
                    .and_then(|c| u16::try_from(c).ok()),
                error: a["error"].as_str().map(str::to_owned),
            })
        })
        .collect();
    WebhookDelivery {
        payload: serde_json::from_str(&d.payload).unwrap_or(Value::Null),
        id: d.id,
        webhook_id: d.webhook_id,
        event: d.event,
        status: d.status,
        attempts: d.attempts.max(0) as u32,
        attempt_log,
        last_status_code: d.last_status_code.and_then(|c| u16::try_from(c).ok()),
        last_error: d.last_error,
        created_at: d.created_at,
        delivered_at: d.delivered_at,
    }
}

#[derive(ApiResponse)]
pub enum CreateWebhookResponse {
    /// The webhook, with its signing secret: the only time it is shown.
    #[oai(status = 201)]
    Created(Json<WebhookWithSecret>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// `url`, `events` or `description` is not acceptable (`invalid_field`; `details.field`
    /// names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateWebhookResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListWebhooksResponse {
    /// A page of the account's webhooks, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<WebhookView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListWebhooksResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetWebhookResponse {
    #[oai(status = 200)]
    Ok(Json<WebhookView>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetWebhookResponse { 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum UpdateWebhookResponse {
    /// Updated.
    #[oai(status = 200)]
    Ok(Json<WebhookView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateWebhookResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum DeleteWebhookResponse {
    /// Deleted, with its delivery log; deliveries still retrying stop.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(DeleteWebhookResponse { 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum ListDeliveriesResponse {
    /// A page of the webhook's deliveries, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<WebhookDelivery>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListDeliveriesResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum TestWebhookResponse {
    /// A `webhook.test` delivery was queued; follow it in the delivery log.
    #[oai(status = 202)]
    Accepted(Json<WebhookDelivery>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The webhook is disabled (`webhook_disabled`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(TestWebhookResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

#[derive(ApiResponse)]
pub enum RotateSecretResponse {
    /// The webhook with its new secret, shown this once; attempts from now on are signed with it.
    #[oai(status = 200)]
    Ok(Json<WebhookWithSecret>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such webhook (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RotateSecretResponse { 403 => Forbidden, 404 => NotFound });
