//! Webhooks: URLs of an account that are told, with a signed POST, when its jobs succeed, fail
//! or wait for a reconnection, and when a scheduled run is missed.
//!
//! Events are recorded as delivery rows in the same transaction as the transition they report;
//! the worker delivers each with retries for a day (`WebhookDeliveryWorkflow`). The signing
//! secret is generated here, sealed under the master key (the worker needs it to sign), and
//! shown once: on creation and on rotation. Webhooks are an admin's to read and manage: their
//! URLs often carry a receiver's token (chat incoming-webhook URLs do).

mod views;

use crate::{
    ApiTags, activity,
    auth::BearerAuth,
    error::{ApiError, respond},
    pagination::PageRequest,
    state::AppState,
};
use chrono::Utc;
use entities::{Role, repo, webhook, webhook_delivery};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use serde_json::json;
use views::*;

/// The longest URL accepted.
const MAX_URL_LEN: usize = 2048;
/// The longest description accepted.
const MAX_DESCRIPTION_LEN: usize = 500;

/// The webhook `id` if the caller is an admin of its account (404 when it does not reach it).
async fn find(
    state: &AppState,
    caller: &crate::access::Caller,
    id: &str,
) -> Result<webhook::Model, ApiError> {
    let hook = webhook::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|w| caller.reaches(&w.account_id))
        .ok_or_else(|| ApiError::not_found("webhook", id))?;
    caller.require(&hook.account_id, Role::Admin)?;
    Ok(hook)
}

/// A URL the policy accepts, in its normalised form (as parsed, percent-encoded).
fn checked_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let too_long = || {
        ApiError::invalid_field(
            "url",
            format!("`url` must be at most {MAX_URL_LEN} characters"),
        )
    };
    if url.len() > 4 * MAX_URL_LEN {
        return Err(too_long());
    }
    let parsed = state
        .connections
        .webhook_policy()
        .check_url(url)
        .map_err(|e| ApiError::invalid_field("url", e.to_string()))?;
    let url = String::from(parsed);
    if url.len() > MAX_URL_LEN {
        return Err(too_long());
    }
    Ok(url)
}

/// The subscribed event names, once each, in the order given; at least one.
fn checked_events(events: &[WebhookEvent]) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = Vec::new();
    for e in events {
        if !names.iter().any(|n| n == e.as_str()) {
            names.push(e.as_str().to_owned());
        }
    }
    if names.is_empty() {
        return Err(ApiError::invalid_field(
            "events",
            "`events` must name at least one event",
        ));
    }
    Ok(names)
}

/// A description: trimmed; empty means none.
fn checked_description(text: &str) -> Result<Option<String>, ApiError> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_LEN || text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "description",
            format!(
                "`description` must be at most {MAX_DESCRIPTION_LEN} characters, without control characters"
            ),
        ));
    }
    Ok(Some(text.to_owned()).filter(|t| !t.is_empty()))
}

fn sealed_secret(state: &AppState) -> Result<(String, String), ApiError> {
    let secret = repo::new_webhook_secret();
    let sealed = state
        .master
        .seal_string(&secret)
        .map_err(ApiError::internal)?;
    Ok((secret, sealed))
}

pub struct WebhooksApi;

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Creates a webhook. The response holds its signing secret, once. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/webhooks",
        method = "post",
        operation_id = "createWebhook"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateWebhook>,
    ) -> CreateWebhookResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let url = checked_url(&state, &body.url)?;
            let events = checked_events(&body.events)?;
            let description = match &body.description {
                Some(d) => checked_description(d)?,
                None => None,
            };
            let (secret, secret_sealed) = sealed_secret(&state)?;
            let txn = state.db.begin().await?;
            let hook = repo::create_webhook(
                &txn,
                repo::NewWebhook {
                    account_id: &account_id,
                    url: &url,
                    events: &events,
                    description: description.as_deref(),
                    enabled: body.enabled.unwrap_or(true),
                    secret_sealed,
                },
            )
            .await?;
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "webhook.created",
                ("webhook", &hook.id),
                json!({"events": events}),
            )
            .await?;
            txn.commit().await?;
            Ok(CreateWebhookResponse::Created(Json(WebhookWithSecret {
                webhook: view(hook),
                secret,
            })))
        })
        .await
    }

    /// Lists the account's webhooks (never their secrets). Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/webhooks",
        method = "get",
        operation_id = "listWebhooks"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListWebhooksResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = webhook::Entity::find()
                .filter(webhook::Column::AccountId.eq(account_id.0.as_str()));
            let rows = page
                .apply(select, webhook::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |w| w.id.clone()).map(view);
            Ok(ListWebhooksResponse::Ok(Json(page)))
        })
        .await
    }

    /// A webhook (never its secret). Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id",
        method = "get",
        operation_id = "getWebhook"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
    ) -> GetWebhookResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            Ok(GetWebhookResponse::Ok(Json(view(hook))))
        })
        .await
    }

    /// Changes a webhook's URL, events, description or enabled state. Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id",
        method = "patch",
        operation_id = "updateWebhook"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
        body: Json<UpdateWebhook>,
    ) -> UpdateWebhookResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            let mut row = hook.clone().into_active_model();
            let mut changed = Vec::new();
            if let Some(url) = &body.url {
                row.url = Set(checked_url(&state, url)?);
                changed.push("url");
            }
            if let Some(events) = &body.events {
                row.events = Set(json!(checked_events(events)?));
                changed.push("events");
            }
            if let Some(description) = &body.description {
                row.description = Set(checked_description(description)?);
                changed.push("description");
            }
            if let Some(enabled) = body.enabled {
                row.enabled = Set(enabled);
                changed.push("enabled");
            }
            row.updated_at = Set(Utc::now());
            let txn = state.db.begin().await?;
            let updated = row.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &hook.account_id,
                "webhook.updated",
                ("webhook", &hook.id),
                json!({"changed": changed, "enabled": updated.enabled}),
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateWebhookResponse::Ok(Json(view(updated))))
        })
        .await
    }

    /// Deletes a webhook and its delivery log. Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id",
        method = "delete",
        operation_id = "deleteWebhook"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
    ) -> DeleteWebhookResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            let txn = state.db.begin().await?;
            if !repo::delete_webhook(&txn, &hook.id).await? {
                return Err(ApiError::not_found("webhook", &webhook_id));
            }
            activity::record(
                &txn,
                &auth.0,
                &hook.account_id,
                "webhook.deleted",
                ("webhook", &hook.id),
                json!({"url_host": url::Url::parse(&hook.url).ok().and_then(|u| u.host_str().map(str::to_owned))}),
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteWebhookResponse::Deleted)
        })
        .await
    }

    /// The webhook's deliveries, newest first: each with its payload, status and every
    /// attempt. Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListDeliveriesResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::WebhookId.eq(hook.id.as_str()));
            let rows = page
                .apply_desc(select, webhook_delivery::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |d| d.id.clone()).map(delivery_view);
            Ok(ListDeliveriesResponse::Ok(Json(page)))
        })
        .await
    }

    /// Sends a `webhook.test` notification (whatever the webhook's events), to check the
    /// receiver and its signature check. Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id/test",
        method = "post",
        operation_id = "testWebhook"
    )]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
    ) -> TestWebhookResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            if !hook.enabled {
                return Err(ApiError::conflict(
                    "webhook_disabled",
                    format!("webhook {} is disabled; enable it first", hook.id),
                ));
            }
            let txn = state.db.begin().await?;
            let mut subject = serde_json::Map::new();
            subject.insert("test".into(), json!({"requested_by": auth.0.actor()}));
            let delivery = repo::enqueue_delivery(&txn, &hook, repo::WEBHOOK_TEST, subject).await?;
            activity::record(
                &txn,
                &auth.0,
                &hook.account_id,
                "webhook.tested",
                ("webhook", &hook.id),
                json!({"delivery_id": delivery.id}),
            )
            .await?;
            txn.commit().await?;
            Ok(TestWebhookResponse::Accepted(Json(delivery_view(delivery))))
        })
        .await
    }

    /// Replaces the webhook's signing secret; the response holds the new one, once. Attempts
    /// from now on, retries included, are signed with it. Needs admin.
    #[oai(
        path = "/v1/webhooks/:webhook_id/rotate-secret",
        method = "post",
        operation_id = "rotateWebhookSecret"
    )]
    async fn rotate_secret(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        webhook_id: Path<String>,
    ) -> RotateSecretResponse {
        respond(async {
            let hook = find(&state, &auth.0, &webhook_id).await?;
            let (secret, sealed) = sealed_secret(&state)?;
            let mut row = hook.clone().into_active_model();
            row.secret_sealed = Set(sealed);
            row.updated_at = Set(Utc::now());
            let txn = state.db.begin().await?;
            let updated = row.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &hook.account_id,
                "webhook.secret_rotated",
                ("webhook", &hook.id),
                json!({}),
            )
            .await?;
            txn.commit().await?;
            Ok(RotateSecretResponse::Ok(Json(WebhookWithSecret {
                webhook: view(updated),
                secret,
            })))
        })
        .await
    }
}
