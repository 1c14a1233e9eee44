//! Connecting OAuth platforms: the authorization-code grant with PKCE (S256).
//!
//! `POST .../connections/oauth/start` (or reconnecting an OAuth connection) records an
//! authorization in progress — the `state` (random, stored as its SHA-256), the PKCE verifier
//! (sealed), who started it, for which account, platform and name — and answers the platform's
//! authorize URL. The platform sends the user back to `GET /v1/oauth/callback?code&state`,
//! which needs no bearer token: the state is the credential. It is used up by one guarded
//! delete (a second callback with it finds nothing), valid for ten minutes; the code is then
//! exchanged with the verifier and the tokens stored sealed, in the shape the workers' token
//! store reads ([`connectors::oauth::TokenSet`]).

use crate::{
    ApiTags,
    access::Caller,
    activity,
    auth::BearerAuth,
    connections::{self, ConnectionReconnected, OAUTH_APP},
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::Name,
    state::AppState,
};
use chrono::{DateTime, Utc};
use connectors::{AuthKind, ErrorKind, PlatformInfo};
use entities::{Role, connection, repo};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{Value, json};

/// How long an authorization may take, from start to callback.
const STATE_TTL_MINUTES: i64 = 10;

/// Connecting an OAuth platform.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct StartOAuth {
    /// A platform with `oauth2` auth (`GET /v1/platforms`).
    pub platform: String,
    /// The new connection's name: 1 to 200 characters, unique among the account's connections.
    pub name: String,
    /// Non-secret settings for the connection (e.g. `base_url`).
    pub config: Option<Value>,
    /// Where to send the browser after the callback (absolute http(s) URL); without it the
    /// callback answers with the connection as JSON.
    pub redirect_after: Option<String>,
}

impl Example for StartOAuth {
    fn example() -> Self {
        Self {
            platform: "keap".into(),
            name: "Keap CRM".into(),
            config: None,
            redirect_after: Some("https://app.example.com/connections".into()),
        }
    }
}

/// An authorization to complete at the platform.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct OAuthStarted {
    /// Send the user here. The platform sends them back to `/v1/oauth/callback`.
    pub authorize_url: String,
    /// The `state` in `authorize_url`: it comes back with the callback, once.
    pub state: String,
    /// The callback is refused after this (ten minutes).
    pub expires_at: DateTime<Utc>,
}

impl Example for OAuthStarted {
    fn example() -> Self {
        Self {
            authorize_url: "https://accounts.infusionsoft.com/app/oauth/authorize?response_type=code&client_id=…&state=…&code_challenge=…&code_challenge_method=S256&redirect_uri=https%3A%2F%2Flistbackup.example.com%2Fv1%2Foauth%2Fcallback&scope=full".into(),
            state: "q3Cz0e9J3n0vQ4QmXx2z7w".into(),
            expires_at: DateTime::from_timestamp(1_767_226_200, 0).unwrap_or_default(),
        }
    }
}

#[derive(ApiResponse)]
pub enum StartOAuthResponse {
    /// Send the user to `authorize_url`.
    #[oai(status = 201)]
    Created(Json<OAuthStarted>),
    /// The body could not be read (`invalid_request`; `details.field` names it when known).
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
    /// An unknown or API-key platform, or one whose OAuth app is not configured on this server;
    /// an empty name; settings the connector does not accept; a bad `redirect_after`
    /// (`invalid_field`; `details.field`: `platform`, `name`, `config`, `config.oauth_app` or
    /// `redirect_after`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(StartOAuthResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum OAuthCallbackResponse {
    /// Connected: the new connection, or the reconnected one with the runs it resumed.
    #[oai(status = 200)]
    Connected(Json<ConnectionReconnected>),
    /// Connected; the browser goes on to the `redirect_after` given at the start, with
    /// `connection_id` added to its query.
    #[oai(status = 303)]
    Redirect(#[oai(header = "Location")] String),
    /// `invalid_oauth_state`: the state is unknown, used already or expired (nothing was
    /// stored; start again). `oauth_denied`: the user or the platform refused
    /// (`details.error` is the platform's code). `oauth_exchange_failed`: the platform refused
    /// the code. `invalid_request`: `state` or `code` missing.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The connection being reconnected was deleted meanwhile.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A connection with that name was created meanwhile (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The platform's token endpoint failed or could not be reached (`platform_unavailable`);
    /// start again.
    #[oai(status = 502)]
    BadGateway(Json<ErrorEnvelope>),
}
error_responses!(OAuthCallbackResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 502 => BadGateway });

/// What an authorization will create or renew.
pub(crate) struct Authorize<'a> {
    pub account_id: &'a str,
    pub info: &'static PlatformInfo,
    pub name: &'a str,
    /// The connection's settings (for a new one: as given, already checked).
    pub config: Value,
    /// The connection whose tokens it replaces.
    pub connection_id: Option<&'a str>,
    pub redirect_after: Option<&'a str>,
}

/// Records an authorization in progress and returns where to send the user.
pub(crate) async fn start(
    state: &AppState,
    caller: &Caller,
    a: Authorize<'_>,
) -> Result<OAuthStarted, ApiError> {
    if let Some(url) = a.redirect_after {
        check_redirect_after(url)?;
    }
    let config = connections::with_server_oauth_app(state, a.info.id, a.config);
    let (app, params) = connectors::oauth_app(a.info.id, &config, &state.connections.http)
        .map_err(|e| {
            ApiError::invalid_field(
                "platform",
                format!(
                    "OAuth for {} is not configured on this server: {}",
                    a.info.name, e.message
                ),
            )
        })?;
    let redirect_uri = state.connections.redirect_uri();
    let authorization = connectors::oauth::authorization(a.info.id, &app, &params, &redirect_uri)
        .map_err(ApiError::internal)?;
    let verifier_sealed = state
        .master
        .seal_string(&authorization.pkce_verifier)
        .map_err(ApiError::internal)?;
    let expires_at = Utc::now() + chrono::Duration::minutes(STATE_TTL_MINUTES);
    let txn = state.db.begin().await?;
    // Authorizations nobody completed are of no use to anyone.
    repo::delete_expired_oauth_states(&txn, Utc::now()).await?;
    let row = repo::create_oauth_state(
        &txn,
        repo::NewOAuthState {
            state_hash: &repo::hash_secret(&authorization.state),
            account_id: a.account_id,
            actor: &caller.actor(),
            platform: a.info.id,
            name: a.name,
            config,
            connection_id: a.connection_id,
            redirect_after: a.redirect_after,
            verifier_sealed,
            expires_at,
        },
    )
    .await?;
    let target = match a.connection_id {
        Some(id) => ("connection", id),
        None => ("oauth_state", row.id.as_str()),
    };
    let details = json!({"platform": a.info.id, "name": a.name, "connection_id": a.connection_id});
    activity::record(&txn, caller, a.account_id, "oauth.started", target, details).await?;
    txn.commit().await?;
    Ok(OAuthStarted {
        authorize_url: authorization.url,
        state: authorization.state,
        expires_at,
    })
}

fn check_redirect_after(url: &str) -> Result<(), ApiError> {
    let ok = url::Url::parse(url).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.fragment().is_none()
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "redirect_after",
            "`redirect_after` must be an absolute http(s) URL without a fragment",
        ))
    }
}

/// `redirect_after` with `connection_id` added to its query.
fn redirect_to(redirect_after: &str, connection_id: &str) -> String {
    match url::Url::parse(redirect_after) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("connection_id", connection_id);
            url.to_string()
        }
        Err(_) => redirect_after.to_owned(),
    }
}

fn invalid_state(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_oauth_state", message)
        .with_details(json!({"field": "state"}))
}

pub struct OAuthApi;

#[OpenApi(tag = "ApiTags::Connections")]
impl OAuthApi {
    /// Starts connecting an OAuth platform (authorization code with PKCE): send the user to
    /// `authorize_url` within ten minutes. The platform sends them back to
    /// `/v1/oauth/callback`, which creates the connection. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/connections/oauth/start",
        method = "post",
        operation_id = "startOAuthConnection"
    )]
    async fn start_oauth(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<StartOAuth>,
    ) -> StartOAuthResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let body = body.0;
            let info = connections::platform_info("platform", &body.platform)?;
            if info.auth != AuthKind::OAuth2 {
                return Err(ApiError::invalid_field(
                    "platform",
                    format!(
                        "{} connects with an API key: use POST /v1/accounts/{{account_id}}/connections",
                        info.name
                    ),
                ));
            }
            let name = Name::parse("name", &body.name)?;
            let config = connections::settings_object("config", body.config)?;
            check_settings(&state, info, &config)?;
            // Refused now rather than after the user granted access; the unique index decides
            // for good at the callback.
            let taken = connection::Entity::find()
                .filter(connection::Column::AccountId.eq(account_id.0.as_str()))
                .filter(connection::Column::Name.eq(name.as_str()))
                .one(&state.db)
                .await?;
            if taken.is_some() {
                return Err(ApiError::duplicate_name(connections::taken_message(
                    name.as_str(),
                )));
            }
            let started = start(
                &state,
                &auth.0,
                Authorize {
                    account_id: &account_id,
                    info,
                    name: name.as_str(),
                    config,
                    connection_id: None,
                    redirect_after: body.redirect_after.as_deref(),
                },
            )
            .await?;
            Ok(StartOAuthResponse::Created(Json(started)))
        })
        .await
    }

    /// Where platforms send the user back after an authorization. Needs no credentials: the
    /// `state` is one, usable once, for ten minutes. Exchanges the code (with the PKCE
    /// verifier), stores the tokens sealed, and creates the connection — or, for a reconnect,
    /// replaces its tokens, marks it `active` and resumes the runs waiting for it.
    #[oai(
        path = "/v1/oauth/callback",
        method = "get",
        operation_id = "oauthCallback"
    )]
    async fn callback(
        &self,
        state: Data<&AppState>,
        /// The authorization code (absent when access was refused).
        code: Query<Option<String>>,
        /// The state from the start of the authorization.
        #[oai(name = "state")]
        oauth_state: Query<Option<String>>,
        /// The platform's refusal (`access_denied`, …).
        error: Query<Option<String>>,
        /// The platform's explanation of `error`.
        error_description: Query<Option<String>>,
    ) -> OAuthCallbackResponse {
        respond(async {
            let Some(secret) = oauth_state.0.filter(|s| !s.is_empty()) else {
                return Err(ApiError::bad_param("state", "`state` is missing"));
            };
            let pending = match repo::take_oauth_state(&state.db, &repo::hash_secret(&secret))
                .await?
            {
                repo::TakenOAuthState::Taken(row) => *row,
                repo::TakenOAuthState::Expired => {
                    return Err(invalid_state(
                        "this authorization expired (they last ten minutes); start again",
                    ));
                }
                repo::TakenOAuthState::Unknown => {
                    return Err(invalid_state(
                        "unknown or already used `state`; start the authorization again",
                    ));
                }
            };
            if let Some(refusal) = error.0.filter(|e| !e.is_empty()) {
                tracing::info!(platform = %pending.platform, error = %refusal, "OAuth authorization refused");
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "oauth_denied",
                    format!(
                        "{} did not grant access ({refusal}{}); nothing was stored",
                        pending.platform,
                        error_description
                            .0
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ),
                )
                .with_details(json!({"error": refusal})));
            }
            let Some(code) = code.0.filter(|c| !c.is_empty()) else {
                return Err(ApiError::bad_param("code", "`code` is missing"));
            };
            let info = connections::platform_info("platform", &pending.platform)?;
            let verifier = state
                .master
                .open_string(&pending.verifier_sealed)
                .map_err(ApiError::internal)?;
            let (app, _) = connectors::oauth_app(info.id, &pending.config, &state.connections.http)
                .map_err(ApiError::internal)?;
            let tokens = connectors::oauth::exchange_code(
                info.id,
                &app,
                &state.connections.redirect_uri(),
                &code,
                &verifier,
            )
            .await
            .map_err(|e| {
                if e.is_temporary() || e.kind == ErrorKind::Decode {
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "platform_unavailable",
                        format!("{}'s token endpoint failed: {}; start again", info.name, e.message),
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "oauth_exchange_failed",
                        format!("{} refused the authorization code: {}", info.name, e.message),
                    )
                }
            })?;
            let sealed = connections::seal(&state, &tokens.to_credentials())?;
            let connected = match &pending.connection_id {
                Some(id) => {
                    let conn = connection::Entity::find_by_id(id)
                        .one(&state.db)
                        .await?
                        .filter(|c| c.account_id == pending.account_id)
                        .ok_or_else(|| ApiError::not_found("connection", id))?;
                    connections::store_new_credentials(&state, &pending.actor, &conn, sealed)
                        .await?
                }
                None => create(&state, &pending, info, sealed).await?,
            };
            Ok(match pending.redirect_after {
                Some(url) => {
                    OAuthCallbackResponse::Redirect(redirect_to(&url, &connected.connection.id))
                }
                None => OAuthCallbackResponse::Connected(Json(connected)),
            })
        })
        .await
    }
}

/// Checks settings for a new OAuth connection by building its connector with placeholder
/// tokens (nothing is sent).
fn check_settings(state: &AppState, info: &PlatformInfo, config: &Value) -> Result<(), ApiError> {
    let placeholder = json!({"access_token": "unused", "refresh_token": "unused"});
    let mut probe = config.clone();
    if let Some(map) = probe.as_object_mut() {
        // The app is checked separately, with a message of its own.
        map.insert(
            OAUTH_APP.into(),
            json!({"client_id": "-", "client_secret": "-", "authorize_url": "https://example.com/", "token_url": "https://example.com/"}),
        );
    }
    match connectors::build(info.id, &placeholder, &probe, &state.connections.http) {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Config => Err(ApiError::invalid_field("config", e.message)),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Creates the connection an authorization was started for, in one transaction with its
/// activity entry (logged as whoever started the authorization).
async fn create(
    state: &AppState,
    pending: &entities::oauth_state::Model,
    info: &PlatformInfo,
    sealed: String,
) -> Result<ConnectionReconnected, ApiError> {
    let txn = state.db.begin().await?;
    let conn = repo::create_connection(
        &txn,
        &pending.account_id,
        info.id,
        &pending.name,
        sealed,
        pending.config.clone(),
    )
    .await
    .map_err(|e| connections::duplicate_name(e, &pending.name))?;
    let details = json!({"platform": info.id, "name": conn.name, "auth": "oauth2"});
    repo::log_activity(
        &txn,
        &pending.account_id,
        &pending.actor,
        "connection.created",
        ("connection", &conn.id),
        details,
    )
    .await?;
    txn.commit().await?;
    Ok(ConnectionReconnected {
        connection: connections::view(conn),
        waiting_jobs: 0,
        resumed_jobs: 0,
    })
}
