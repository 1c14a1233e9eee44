//! API keys: credentials for integrations, each acting in one account (and the sub-accounts
//! below it) with one role. The secret is shown once, when the key is created; only its SHA-256
//! is stored.

use crate::{
    ApiTags,
    access::{RoleName, require_grantable},
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::Name,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, api_key, repo};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;

/// An API key, without its secret.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ApiKeyView {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub role: RoleName,
    /// The first characters of the secret, to tell keys apart.
    pub prefix: String,
    /// The user who created it, if a user did.
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl Example for ApiKeyView {
    fn example() -> Self {
        Self {
            id: "019b76da-a800-7c05-a4f1-6e8b2d07c9a4".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            name: "nightly export".into(),
            role: RoleName::Operator,
            prefix: "lbk_x3Fq9a".into(),
            created_by: Some("019b76da-a800-7b41-8c2e-0d9f6a3e51b7".into()),
            created_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
            last_used_at: None,
        }
    }
}

pub fn view(k: api_key::Model) -> ApiKeyView {
    ApiKeyView {
        id: k.id,
        account_id: k.account_id,
        name: k.name,
        role: k.role.into(),
        prefix: k.prefix,
        created_by: k.user_id,
        created_at: k.created_at,
        last_used_at: k.last_used_at,
    }
}

/// A key just created, with its secret. The secret is not shown again.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatedApiKey {
    #[oai(flatten)]
    pub key: ApiKeyView,
    /// Send as `Authorization: Bearer <secret>`. Store it now: it cannot be shown again.
    pub secret: String,
}

/// A new API key; its `role` is at most your own role in the account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateApiKey {
    /// 1 to 200 characters, unique among the account's active keys.
    pub name: String,
    pub role: RoleName,
}

impl Example for CreateApiKey {
    fn example() -> Self {
        Self {
            name: "nightly export".into(),
            role: RoleName::Operator,
        }
    }
}

#[derive(ApiResponse)]
pub enum CreateApiKeyResponse {
    /// The key, with its secret: the only time it is shown.
    #[oai(status = 201)]
    Created(Json<CreatedApiKey>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin; the role is above yours (`role_too_high`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An active key has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateApiKeyResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListApiKeysResponse {
    /// A page of active keys, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<ApiKeyView>>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
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
error_responses!(ListApiKeysResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum RevokeApiKeyResponse {
    /// Revoked: requests with it fail from now on.
    #[oai(status = 204)]
    Revoked,
    /// Needs admin, and a role at least the key's.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such active key in this account.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(RevokeApiKeyResponse { 403 => Forbidden, 404 => NotFound });

pub struct ApiKeysApi;

#[OpenApi(tag = "ApiTags::ApiKeys")]
impl ApiKeysApi {
    /// Creates an API key with a role up to your own. The response holds the secret, once.
    /// Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/api-keys",
        method = "post",
        operation_id = "createApiKey"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateApiKey>,
    ) -> CreateApiKeyResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let granted = Role::from(body.role);
            require_grantable(role, granted)?;
            let name = Name::parse("name", &body.name)?;
            let txn = state.db.begin().await?;
            let (key, secret) =
                repo::create_api_key(&txn, &account_id, auth.0.user_id(), name.as_str(), granted)
                    .await
                    .map_err(|e| {
                        ApiError::name_taken(
                            e,
                            format!("an active API key is named `{}` already", name.as_str()),
                        )
                    })?;
            let details = json!({"name": key.name, "role": granted.as_str()});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "api_key.created",
                ("api_key", &key.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(CreateApiKeyResponse::Created(Json(CreatedApiKey {
                key: view(key),
                secret,
            })))
        })
        .await
    }

    /// Lists the account's active API keys (never their secrets). Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/api-keys",
        method = "get",
        operation_id = "listApiKeys"
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
    ) -> ListApiKeysResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = api_key::Entity::find()
                .filter(api_key::Column::AccountId.eq(account_id.0.as_str()))
                .filter(api_key::Column::RevokedAt.is_null());
            let rows = page
                .apply(select, api_key::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |k| k.id.clone()).map(view);
            Ok(ListApiKeysResponse::Ok(Json(page)))
        })
        .await
    }

    /// Revokes an API key at once. Needs admin, and a role at least the key's.
    #[oai(
        path = "/v1/accounts/:account_id/api-keys/:key_id",
        method = "delete",
        operation_id = "revokeApiKey"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        key_id: Path<String>,
    ) -> RevokeApiKeyResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let key = api_key::Entity::find_by_id(key_id.0.as_str())
                .one(&state.db)
                .await?
                .filter(|k| k.account_id == account_id.0 && k.revoked_at.is_none())
                .ok_or_else(|| ApiError::not_found("API key", &key_id))?;
            if key.role > role {
                return Err(ApiError::forbidden(
                    "forbidden",
                    format!("only a {} or above may revoke this key", key.role),
                ));
            }
            let txn = state.db.begin().await?;
            if !repo::revoke_api_key(&txn, &key.id).await? {
                return Err(ApiError::not_found("API key", &key_id));
            }
            let details = json!({"name": key.name, "role": key.role.as_str()});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "api_key.revoked",
                ("api_key", &key.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(RevokeApiKeyResponse::Revoked)
        })
        .await
    }
}
