//! Connections: one platform account's credentials (an API key, or OAuth tokens), sealed under
//! the master key and never returned. Sources back up through a connection.
//!
//! API-key platforms are connected with `POST .../connections`; OAuth platforms through
//! [`crate::oauth`] (`.../connections/oauth/start`, then the platform sends the user to
//! `/v1/oauth/callback`). Either kind is tested with one cheap authenticated call and
//! reconnected with new credentials, which resumes the runs waiting for it.

use crate::{
    ApiTags, activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::Name,
    oauth::{self, OAuthStarted},
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use connectors::{AuthKind, Connector, ConnectorError, ErrorKind, PlatformInfo};
use entities::{Role, connection, repo};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use sea_orm::{SqlErr, TransactionTrait};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

/// The connection setting that names an OAuth app; set by the server, never through the API.
pub(crate) const OAUTH_APP: &str = "oauth_app";

/// How long a connection test may take before it counts as failed.
const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection, without its credentials.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct ConnectionView {
    pub id: String,
    pub account_id: String,
    /// The platform id, as in `GET /v1/platforms`.
    pub platform: String,
    pub name: String,
    /// `api_key` or `oauth2`.
    pub auth: String,
    /// `active`, or `needs_reauth` when the platform refused the credentials in a test: reconnect it.
    pub status: String,
    /// Non-secret settings (base URL, subdomain, page size, …).
    pub config: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Example for ConnectionView {
    fn example() -> Self {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        Self {
            id: "019b76da-a9f2-7b10-8c3e-2d4f6a8b0c15".into(),
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            platform: "zendesk".into(),
            name: "support desk".into(),
            auth: "api_key".into(),
            status: "active".into(),
            config: json!({"subdomain": "acme"}),
            created_at: at,
            updated_at: at,
        }
    }
}

/// `api_key` or `oauth2`.
pub(crate) fn auth_name(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::ApiKey => "api_key",
        AuthKind::OAuth2 => "oauth2",
    }
}

pub(crate) fn view(c: connection::Model) -> ConnectionView {
    let auth = connectors::platform(&c.platform).map_or("api_key", |p| auth_name(p.auth));
    let mut config = c.config;
    // An OAuth app's secret is the server's, not the user's: never shown.
    if let Some(app) = config.get_mut(OAUTH_APP).and_then(Value::as_object_mut) {
        app.remove("client_secret");
    }
    ConnectionView {
        id: c.id,
        account_id: c.account_id,
        platform: c.platform,
        name: c.name,
        auth: auth.into(),
        status: c.status,
        config,
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

/// A new API-key connection. Its `Debug` leaves the credentials out.
#[derive(Object, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateConnection {
    /// A platform with `api_key` auth (`GET /v1/platforms`).
    pub platform: String,
    /// 1 to 200 characters, unique among the account's connections.
    pub name: String,
    /// The platform's credentials, e.g. `{"api_key": "sk_live_…"}` for Stripe or
    /// `{"email", "api_token"}` for Zendesk (see the platform's docs). Stored sealed, never shown.
    pub credentials: Value,
    /// Non-secret settings, e.g. `{"subdomain": "acme"}` for Zendesk.
    pub config: Option<Value>,
}

impl std::fmt::Debug for CreateConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateConnection")
            .field("platform", &self.platform)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Example for CreateConnection {
    fn example() -> Self {
        Self {
            platform: "zendesk".into(),
            name: "support desk".into(),
            credentials: json!({"email": "ops@acme.example", "api_token": "…"}),
            config: Some(json!({"subdomain": "acme"})),
        }
    }
}

/// Changes to a connection. Absent fields stay as they are.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UpdateConnection {
    /// 1 to 200 characters, unique among the account's connections.
    pub name: Option<String>,
    /// Replaces the non-secret settings (an OAuth app set by the server is kept).
    pub config: Option<Value>,
}

/// New credentials for a connection. Its `Debug` leaves the credentials out.
#[derive(Object, Clone, Default)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct ReconnectConnection {
    /// API-key platforms: the new credentials (required). OAuth platforms: must be absent; the
    /// answer is an authorization to complete at the platform.
    pub credentials: Option<Value>,
    /// OAuth platforms: where to send the browser after the callback (absolute http(s) URL).
    pub redirect_after: Option<String>,
}

impl std::fmt::Debug for ReconnectConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectConnection")
            .field("redirect_after", &self.redirect_after)
            .finish_non_exhaustive()
    }
}

/// A connection whose credentials were just stored, and the runs that were waiting for them.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ConnectionReconnected {
    pub connection: ConnectionView,
    /// Runs that were waiting in `needs_reauth` for this connection.
    pub waiting_jobs: u32,
    /// How many of them were told to continue. Fewer than `waiting_jobs` when the workflow
    /// service could not be reached: those keep waiting; reconnecting again retries.
    pub resumed_jobs: u32,
}

/// Why a test failed.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct TestFailure {
    /// `unauthorized` (refused: reconnect), `forbidden` (missing a permission or scope),
    /// `rate_limited`, `unavailable` (the platform failed or could not be reached), `timeout`,
    /// `invalid_config` or `platform_error`.
    pub code: String,
    pub message: String,
}

/// The outcome of a connection test.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ConnectionTest {
    /// True when the platform accepted the credentials.
    pub ok: bool,
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<TestFailure>,
}

#[derive(ApiResponse)]
pub enum CreateConnectionResponse {
    /// The connection (never its credentials).
    #[oai(status = 201)]
    Created(Json<ConnectionView>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A connection of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An unknown or OAuth platform, an empty name, or credentials or settings the platform's
    /// connector does not accept (`invalid_field`; `details.field`: `platform`, `name`,
    /// `credentials`, `config` or `config.oauth_app`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateConnectionResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListConnectionsResponse {
    /// A page of the account's connections, oldest first.
    #[oai(status = 200)]
    Ok(Json<Page<ConnectionView>>),
    /// A parameter could not be read (`invalid_request`; `details.field`: `limit` or `cursor`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListConnectionsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetConnectionResponse {
    #[oai(status = 200)]
    Ok(Json<ConnectionView>),
    /// No such connection (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetConnectionResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum UpdateConnectionResponse {
    /// The connection as it is now.
    #[oai(status = 200)]
    Ok(Json<ConnectionView>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such connection (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Another connection of the account has that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An empty name, or settings the connector does not accept (`invalid_field`;
    /// `details.field`: `name`, `config` or `config.oauth_app`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateConnectionResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum DeleteConnectionResponse {
    /// Deleted, with its credentials.
    #[oai(status = 204)]
    Deleted,
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such connection (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Sources back up through it (`connection_in_use`; `details.sources` says how many):
    /// delete them first.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(DeleteConnectionResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

#[derive(ApiResponse)]
pub enum TestConnectionResponse {
    /// The outcome: `ok`, or why the platform refused (never a 5xx for a refusal).
    #[oai(status = 200)]
    Ok(Json<ConnectionTest>),
    /// Needs operator.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such connection (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(TestConnectionResponse { 403 => Forbidden, 404 => NotFound });

#[derive(ApiResponse)]
pub enum ReconnectConnectionResponse {
    /// API-key platforms: the new credentials are stored, the connection is `active`, and the
    /// runs waiting for it were told to continue.
    #[oai(status = 200)]
    Reconnected(Json<ConnectionReconnected>),
    /// OAuth platforms: send the user to `authorize_url`; the callback stores the new tokens
    /// in this connection and resumes the runs waiting for it.
    #[oai(status = 202)]
    Authorize(Json<OAuthStarted>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such connection (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// Credentials missing, given for an OAuth platform, or not accepted by the connector; a bad
    /// `redirect_after`; OAuth not configured for the platform (`invalid_field`;
    /// `details.field`: `credentials`, `redirect_after` or `platform`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ReconnectConnectionResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 422 => Unprocessable });

pub struct ConnectionsApi;

#[OpenApi(tag = "ApiTags::Connections")]
impl ConnectionsApi {
    /// Connects an API-key platform: the credentials are checked by the platform's connector
    /// (not sent to the platform; use the test operation for that) and stored sealed.
    /// OAuth platforms connect through `.../connections/oauth/start`. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/connections",
        method = "post",
        operation_id = "createConnection"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateConnection>,
    ) -> CreateConnectionResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let body = body.0;
            let info = platform_info("platform", &body.platform)?;
            if info.auth != AuthKind::ApiKey {
                return Err(ApiError::invalid_field(
                    "platform",
                    format!(
                        "{} connects with OAuth: use POST /v1/accounts/{{account_id}}/connections/oauth/start",
                        info.name
                    ),
                ));
            }
            let name = Name::parse("name", &body.name)?;
            let config = settings_object("config", body.config)?;
            let credentials = credentials_object(Some(body.credentials))?;
            check_api_key(&state, info, &credentials, &config)?;
            let sealed = seal(&state, &credentials)?;
            let txn = state.db.begin().await?;
            let conn = repo::create_connection(
                &txn,
                &account_id,
                info.id,
                name.as_str(),
                sealed,
                config,
            )
            .await
            .map_err(|e| duplicate_name(e, name.as_str()))?;
            let details = json!({"platform": info.id, "name": conn.name, "auth": "api_key"});
            activity::record(
                &txn,
                &auth.0,
                &account_id,
                "connection.created",
                ("connection", &conn.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(CreateConnectionResponse::Created(Json(view(conn))))
        })
        .await
    }

    /// Lists the account's connections (never their credentials).
    #[oai(
        path = "/v1/accounts/:account_id/connections",
        method = "get",
        operation_id = "listConnections"
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
    ) -> ListConnectionsResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let select = connection::Entity::find()
                .filter(connection::Column::AccountId.eq(account_id.0.as_str()));
            let rows = page
                .apply(select, connection::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |c| c.id.clone()).map(view);
            Ok(ListConnectionsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets a connection (never its credentials).
    #[oai(
        path = "/v1/connections/:connection_id",
        method = "get",
        operation_id = "getConnection"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        connection_id: Path<String>,
    ) -> GetConnectionResponse {
        respond(async {
            let conn = find(&state, &auth, &connection_id, Role::Viewer).await?;
            Ok(GetConnectionResponse::Ok(Json(view(conn))))
        })
        .await
    }

    /// Renames a connection or replaces its settings. Needs admin.
    #[oai(
        path = "/v1/connections/:connection_id",
        method = "patch",
        operation_id = "updateConnection"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        connection_id: Path<String>,
        body: Json<UpdateConnection>,
    ) -> UpdateConnectionResponse {
        respond(async {
            let conn = find(&state, &auth, &connection_id, Role::Admin).await?;
            let body = body.0;
            let name = body
                .name
                .as_deref()
                .map(|n| Name::parse("name", n))
                .transpose()?;
            let config = match body.config {
                None => None,
                Some(c) => {
                    let mut config = settings_object("config", Some(c))?;
                    // The server's OAuth app stays with the connection.
                    if let (Some(app), Some(map)) =
                        (conn.config.get(OAUTH_APP), config.as_object_mut())
                    {
                        map.insert(OAUTH_APP.into(), app.clone());
                    }
                    check_config(&state, &conn, &config)?;
                    Some(config)
                }
            };
            let mut details = json!({});
            let mut update = conn.clone().into_active_model();
            if let Some(name) = &name {
                details["name"] = json!(name.as_str());
                update.name = Set(name.as_str().to_owned());
            }
            if let Some(config) = config {
                details["config_changed"] = json!(true);
                update.config = Set(config);
            }
            update.updated_at = Set(Utc::now());
            let txn = state.db.begin().await?;
            let conn = update.update(&txn).await.map_err(|e| {
                duplicate_name(e, name.as_ref().map_or(conn.name.as_str(), Name::as_str))
            })?;
            activity::record(
                &txn,
                &auth.0,
                &conn.account_id,
                "connection.updated",
                ("connection", &conn.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateConnectionResponse::Ok(Json(view(conn))))
        })
        .await
    }

    /// Deletes a connection and its credentials. Refused while sources use it. Needs admin.
    #[oai(
        path = "/v1/connections/:connection_id",
        method = "delete",
        operation_id = "deleteConnection"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        connection_id: Path<String>,
    ) -> DeleteConnectionResponse {
        respond(async {
            let conn = find(&state, &auth, &connection_id, Role::Admin).await?;
            let in_use = |sources: u64| {
                ApiError::conflict(
                    "connection_in_use",
                    "sources back up through this connection; delete them first",
                )
                .with_details(json!({"sources": sources}))
            };
            let txn = state.db.begin().await?;
            let deleted = repo::delete_unused_connection(&txn, &conn.id)
                .await
                .map_err(|e| match e.sql_err() {
                    // A source created at the same moment.
                    Some(SqlErr::ForeignKeyConstraintViolation(_)) => in_use(1),
                    _ => e.into(),
                })?;
            if !deleted {
                let sources = repo::sources_using_connection(&txn, &conn.id).await?;
                if sources > 0 {
                    return Err(in_use(sources));
                }
                return Err(ApiError::not_found("connection", &connection_id));
            }
            let details = json!({"platform": conn.platform, "name": conn.name});
            activity::record(
                &txn,
                &auth.0,
                &conn.account_id,
                "connection.deleted",
                ("connection", &conn.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(DeleteConnectionResponse::Deleted)
        })
        .await
    }

    /// Tests a connection with one cheap authenticated call to the platform (OAuth tokens are
    /// refreshed first if they expired, and the new ones stored). A refusal is `ok: false` with
    /// the reason; a refused credential also sets the connection's status to `needs_reauth`.
    /// Needs operator.
    #[oai(
        path = "/v1/connections/:connection_id/test",
        method = "post",
        operation_id = "testConnection"
    )]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        connection_id: Path<String>,
    ) -> TestConnectionResponse {
        respond(async {
            let conn = find(&state, &auth, &connection_id, Role::Operator).await?;
            let outcome = match connector_for(&state, &conn) {
                Ok(connector) => {
                    match tokio::time::timeout(TEST_TIMEOUT, connector.check()).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(failure(&e)),
                        Err(_) => Err(TestFailure {
                            code: "timeout".into(),
                            message: format!(
                                "the platform did not answer within {} s",
                                TEST_TIMEOUT.as_secs()
                            ),
                        }),
                    }
                }
                Err(e) => Err(failure(&e)),
            };
            let refused = matches!(&outcome, Err(f) if f.code == "unauthorized");
            let txn = state.db.begin().await?;
            if refused {
                connection::Entity::update_many()
                    .col_expr(
                        connection::Column::Status,
                        sea_orm::sea_query::Expr::value("needs_reauth"),
                    )
                    .filter(connection::Column::Id.eq(conn.id.as_str()))
                    .exec(&txn)
                    .await?;
            }
            let details = match &outcome {
                Ok(()) => json!({"ok": true}),
                Err(f) => json!({"ok": false, "code": f.code}),
            };
            activity::record(
                &txn,
                &auth.0,
                &conn.account_id,
                "connection.tested",
                ("connection", &conn.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(TestConnectionResponse::Ok(Json(ConnectionTest {
                ok: outcome.is_ok(),
                error: outcome.err(),
            })))
        })
        .await
    }

    /// Replaces a connection's credentials — after a revoked grant, a rotated key — and
    /// resumes the runs waiting for it (`needs_reauth`). API-key platforms take the new
    /// credentials in the body (200); OAuth platforms answer with an authorization to complete
    /// at the platform (202), whose callback stores the tokens and resumes the runs. Needs admin.
    #[oai(
        path = "/v1/connections/:connection_id/reconnect",
        method = "post",
        operation_id = "reconnectConnection"
    )]
    async fn reconnect(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        connection_id: Path<String>,
        body: Json<ReconnectConnection>,
    ) -> ReconnectConnectionResponse {
        respond(async {
            let conn = find(&state, &auth, &connection_id, Role::Admin).await?;
            let info = platform_info("platform", &conn.platform)?;
            let body = body.0;
            if info.auth == AuthKind::OAuth2 {
                if body.credentials.is_some() {
                    return Err(ApiError::invalid_field(
                        "credentials",
                        format!(
                            "{} connects with OAuth: leave out `credentials` and complete the authorization this answers with",
                            info.name
                        ),
                    ));
                }
                let started = oauth::start(
                    &state,
                    &auth.0,
                    oauth::Authorize {
                        account_id: &conn.account_id,
                        info,
                        name: &conn.name,
                        config: conn.config.clone(),
                        connection_id: Some(&conn.id),
                        redirect_after: body.redirect_after.as_deref(),
                    },
                )
                .await?;
                return Ok(ReconnectConnectionResponse::Authorize(Json(started)));
            }
            if body.redirect_after.is_some() {
                return Err(ApiError::invalid_field(
                    "redirect_after",
                    "`redirect_after` is for OAuth platforms",
                ));
            }
            let credentials = credentials_object(body.credentials)?;
            check_api_key(&state, info, &credentials, &conn.config)?;
            let sealed = seal(&state, &credentials)?;
            let reconnected = store_new_credentials(&state, &auth.0.actor(), &conn, sealed).await?;
            Ok(ReconnectConnectionResponse::Reconnected(Json(reconnected)))
        })
        .await
    }
}

/// The connection `id` if the caller holds `role` in its account; 404 when it does not reach it.
async fn find(
    state: &AppState,
    auth: &BearerAuth,
    id: &str,
    role: Role,
) -> Result<connection::Model, ApiError> {
    let conn = connection::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|c| auth.0.reaches(&c.account_id))
        .ok_or_else(|| ApiError::not_found("connection", id))?;
    auth.0.require(&conn.account_id, role)?;
    Ok(conn)
}

/// The platform `id` in the catalog; 422 naming `field` otherwise.
pub(crate) fn platform_info(field: &str, id: &str) -> Result<&'static PlatformInfo, ApiError> {
    connectors::platform(id).ok_or_else(|| {
        ApiError::invalid_field(
            field,
            format!("`{id}` is not a platform ListBackup knows (GET /v1/platforms lists them)"),
        )
    })
}

/// Settings as given: a JSON object (absent: `{}`), without `oauth_app`, which only the server
/// sets.
pub(crate) fn settings_object(field: &str, value: Option<Value>) -> Result<Value, ApiError> {
    let value = match value {
        None | Some(Value::Null) => return Ok(json!({})),
        Some(v) => v,
    };
    let Some(map) = value.as_object() else {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must be a JSON object"),
        ));
    };
    if map.contains_key(OAUTH_APP) {
        return Err(ApiError::invalid_field(
            &format!("{field}.{OAUTH_APP}"),
            "OAuth apps are configured on the server, not per connection",
        ));
    }
    Ok(value)
}

fn credentials_object(value: Option<Value>) -> Result<Value, ApiError> {
    match value {
        Some(v) if v.as_object().is_some_and(|m| !m.is_empty()) => Ok(v),
        _ => Err(ApiError::invalid_field(
            "credentials",
            "`credentials` must be a JSON object with the platform's API-key fields",
        )),
    }
}

/// The connector's verdict on credentials and settings, as a 422 naming the part it is about.
fn rejected(e: &ConnectorError) -> ApiError {
    let field = if e.message.contains("credentials") {
        "credentials"
    } else {
        "config"
    };
    ApiError::invalid_field(field, e.message.clone())
}

/// Builds the API-key platform's connector from `credentials` and `config`, without calling
/// the platform: what it refuses, the request is refused for.
fn check_api_key(
    state: &AppState,
    info: &PlatformInfo,
    credentials: &Value,
    config: &Value,
) -> Result<(), ApiError> {
    connectors::build(info.id, credentials, config, &state.connections.http)
        .map(drop)
        .map_err(|e| rejected(&e))
}

/// Checks new settings of `conn` with its stored credentials.
fn check_config(
    state: &AppState,
    conn: &connection::Model,
    config: &Value,
) -> Result<(), ApiError> {
    let info = platform_info("platform", &conn.platform)?;
    let credentials = open_credentials(state, conn).map_err(ApiError::internal)?;
    let config = with_server_oauth_app(state, info.id, config.clone());
    connectors::build(info.id, &credentials, &config, &state.connections.http)
        .map(drop)
        .map_err(|e| match e.kind {
            ErrorKind::Config => ApiError::invalid_field("config", e.message),
            _ => ApiError::internal(e),
        })
}

/// `config` with the server's OAuth app for `platform` when it names none itself.
pub(crate) fn with_server_oauth_app(state: &AppState, platform: &str, mut config: Value) -> Value {
    let has_app = config.get(OAUTH_APP).is_some_and(|a| !a.is_null());
    if let (false, Some(app), Some(map)) = (
        has_app,
        state.connections.oauth_apps.get(platform),
        config.as_object_mut(),
    ) {
        map.insert(OAUTH_APP.into(), app.clone());
    }
    config
}

pub(crate) fn seal(state: &AppState, credentials: &Value) -> Result<String, ApiError> {
    state
        .master
        .seal_string(&credentials.to_string())
        .map_err(ApiError::internal)
}

fn open_credentials(state: &AppState, conn: &connection::Model) -> Result<Value, ConnectorError> {
    let platform = connectors::platform(&conn.platform).map_or("registry", |p| p.id);
    state
        .master
        .open_string(&conn.credentials_sealed)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| {
            ConnectorError::new(
                platform,
                ErrorKind::Config,
                format!(
                    "credentials of connection {} cannot be opened with this master key",
                    conn.id
                ),
            )
        })
}

/// The connection's connector, as a worker builds it: OAuth tokens go through the connection's
/// row (refreshed once, stored before use).
fn connector_for(
    state: &AppState,
    conn: &connection::Model,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let credentials = open_credentials(state, conn)?;
    let tokens: Option<Arc<dyn connectors::oauth::TokenStore>> =
        match connectors::platform(&conn.platform) {
            Some(info) if info.auth == AuthKind::OAuth2 => {
                Some(Arc::new(activities::tokens::DbTokenStore::new(
                    state.db.clone(),
                    state.master.clone(),
                    &conn.id,
                    info.id,
                )))
            }
            _ => None,
        };
    let config = with_server_oauth_app(state, &conn.platform, conn.config.clone());
    connectors::build_with_tokens(
        &conn.platform,
        &credentials,
        &config,
        &state.connections.http,
        tokens,
    )
}

fn failure(e: &ConnectorError) -> TestFailure {
    let code = match e.kind {
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Unavailable | ErrorKind::Network => "unavailable",
        ErrorKind::Config => "invalid_config",
        ErrorKind::InvalidRequest | ErrorKind::Decode => "platform_error",
    };
    TestFailure {
        code: code.into(),
        message: e.message.clone(),
    }
}

/// 409 `duplicate_name` for a unique index refusing `name`.
pub(crate) fn duplicate_name(e: sea_orm::DbErr, name: &str) -> ApiError {
    ApiError::name_taken(e, taken_message(name))
}

/// What a 409 `duplicate_name` says about a connection name.
pub(crate) fn taken_message(name: &str) -> String {
    format!("a connection of this account is named `{name}` already")
}

/// Stores new sealed credentials in `conn`, marks it active, logs `connection.reconnected` (as
/// `actor`), then resumes the runs waiting for it. The credentials are stored even when the
/// workflow service cannot be reached: the answer says how many runs continued.
pub(crate) async fn store_new_credentials(
    state: &AppState,
    actor: &str,
    conn: &connection::Model,
    sealed: String,
) -> Result<ConnectionReconnected, ApiError> {
    let txn = state.db.begin().await?;
    if !repo::replace_connection_credentials(&txn, &conn.id, sealed).await? {
        return Err(ApiError::not_found("connection", &conn.id));
    }
    let waiting = repo::jobs_waiting_for_connection(&txn, &conn.id).await?;
    let details = json!({"platform": conn.platform, "waiting_jobs": waiting.len()});
    repo::log_activity(
        &txn,
        &conn.account_id,
        actor,
        "connection.reconnected",
        ("connection", &conn.id),
        details,
    )
    .await?;
    txn.commit().await?;
    let resumed = if waiting.is_empty() {
        0
    } else {
        match crate::resume_jobs_waiting_for(&state.db, &state.temporal.client, &conn.id).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(connection_id = %conn.id, error = %e, "could not resume the runs waiting for a reconnected connection");
                0
            }
        }
    };
    if resumed < waiting.len() {
        tracing::warn!(
            connection_id = %conn.id,
            waiting = waiting.len(),
            resumed,
            "some runs waiting for this connection were not resumed; reconnecting again retries"
        );
    }
    let conn = connection::Entity::find_by_id(&conn.id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("connection", &conn.id))?;
    Ok(ConnectionReconnected {
        connection: view(conn),
        waiting_jobs: u32::try_from(waiting.len()).unwrap_or(u32::MAX),
        resumed_jobs: u32::try_from(resumed).unwrap_or(u32::MAX),
    })
}
