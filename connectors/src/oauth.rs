//! OAuth 2.0 for connectors: the access token is refreshed shortly before it expires and once
//! after a 401, and every refresh goes through a [`TokenStore`] that single-flights it, so a
//! rotated refresh token is stored exactly once — before anything uses it — however many
//! requests, jobs or workers notice the expiry at the same time.

use crate::{ConnectorError, ErrorKind};
use futures::future::BoxFuture;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, TokenResponse, TokenUrl,
    basic::{BasicClient, BasicErrorResponseType},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tokio::sync::Mutex;

/// Refresh when the access token has less than this left.
const REFRESH_MARGIN_SECS: i64 = 60;

/// An OAuth connection's tokens, as stored (sealed) in the connection's credentials.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Unix seconds; `None` when the platform's tokens do not expire.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// When the access token was obtained (unix seconds), to know its lifetime.
    #[serde(default)]
    pub obtained_at: Option<i64>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl TokenSet {
    /// Reads the tokens from a connection's credentials JSON.
    pub fn from_credentials(
        platform: &'static str,
        credentials: &Value,
    ) -> Result<Self, ConnectorError> {
        serde_json::from_value::<TokenSet>(credentials.clone())
            .ok()
            .filter(|t| !t.access_token.is_empty())
            .ok_or_else(|| {
                ConnectorError::new(
                    platform,
                    ErrorKind::Config,
                    "credentials need an OAuth `access_token`",
                )
            })
    }

    /// The credentials JSON to store.
    pub fn to_credentials(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// True when the access token is due for a refresh: less than `margin` seconds left, or
    /// less than half its lifetime for tokens that live shorter than twice the margin (so a
    /// fresh short-lived token is not refreshed again at once).
    pub fn needs_refresh(&self, margin: i64) -> bool {
        let Some(expires_at) = self.expires_at else {
            return false;
        };
        let threshold = match self.obtained_at {
            Some(obtained) => margin.min((expires_at - obtained) / 2),
            None => margin,
        };
        expires_at - now() <= threshold
    }
}

/// Where a connection's tokens live, and how a refresh is made exactly once.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    /// The tokens currently stored.
    async fn load(&self) -> Result<TokenSet, ConnectorError>;

    /// Refreshes `stale` exactly once across every caller: under the store's lock, if the
    /// stored tokens are no longer `stale` (someone refreshed meanwhile) they are returned as
    /// they are; otherwise `refresh` runs and its tokens are stored before they are returned.
    async fn refresh_once(
        &self,
        stale: &TokenSet,
        refresh: RefreshFn<'_>,
    ) -> Result<TokenSet, ConnectorError>;
}

/// Exchanges the stale tokens for new ones at the platform.
pub type RefreshFn<'a> =
    Box<dyn FnOnce(TokenSet) -> BoxFuture<'a, Result<TokenSet, ConnectorError>> + Send + 'a>;

/// A store held in memory: for tests and one-off tools.
pub struct MemoryTokenStore {
    tokens: Mutex<TokenSet>,
}

impl MemoryTokenStore {
    pub fn new(tokens: TokenSet) -> Self {
        Self {
            tokens: Mutex::new(tokens),
        }
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryTokenStore {
    async fn load(&self) -> Result<TokenSet, ConnectorError> {
        Ok(self.tokens.lock().await.clone())
    }

    async fn refresh_once(
        &self,
        stale: &TokenSet,
        refresh: RefreshFn<'_>,
    ) -> Result<TokenSet, ConnectorError> {
        let mut stored = self.tokens.lock().await;
        if *stored != *stale {
            return Ok(stored.clone());
        }
        let fresh = refresh(stored.clone()).await?;
        *stored = fresh.clone();
        Ok(fresh)
    }
}

/// A platform's OAuth client registration.
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    /// Send the client credentials in the form body instead of HTTP Basic.
    pub credentials_in_body: bool,
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// How many tokens obtained by other callers' refreshes one request tries before it counts a
/// 401 as the grant's refusal.
const MAX_TAKEN_OVER_TOKENS: usize = 3;

/// The access token of one connection, kept fresh.
pub struct OAuthSession {
    platform: &'static str,
    app: OAuthApp,
    store: Arc<dyn TokenStore>,
    http: oauth2::reqwest::Client,
    current: Mutex<Option<TokenSet>>,
}

impl OAuthSession {
    pub fn new(platform: &'static str, app: OAuthApp, store: Arc<dyn TokenStore>) -> Self {
        // Token endpoints must never redirect: a redirect could carry the client secret elsewhere.
        let http = oauth2::reqwest::Client::builder()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            platform,
            app,
            store,
            http,
            current: Mutex::new(None),
        }
    }

    /// A usable access token: the stored one, refreshed first if it is about to expire.
    pub async fn access_token(&self) -> Result<String, ConnectorError> {
        let mut current = self.current.lock().await;
        let tokens = match current.take() {
            Some(t) => t,
            None => self.store.load().await?,
        };
        let tokens = if tokens.needs_refresh(REFRESH_MARGIN_SECS) {
            self.refresh(&tokens).await?.0
        } else {
            tokens
        };
        let access = tokens.access_token.clone();
        *current = Some(tokens);
        Ok(access)
    }

    /// After a 401 with `rejected`: refresh once (unless that already happened) and return the
    /// token to retry with.
    pub async fn after_unauthorized(&self, rejected: &str) -> Result<String, ConnectorError> {
        self.reauthorize(rejected).await.map(|(token, _)| token)
    }

    /// [`after_unauthorized`](Self::after_unauthorized), also telling whether this session
    /// exchanged the refresh token itself (`true`) or took up a token obtained by another
    /// caller's refresh (`false`), which may have died since.
    async fn reauthorize(&self, rejected: &str) -> Result<(String, bool), ConnectorError> {
        let mut current = self.current.lock().await;
        let tokens = match current.take() {
            Some(t) => t,
            None => self.store.load().await?,
        };
        let (tokens, exchanged) = if tokens.access_token == rejected {
            self.refresh(&tokens).await?
        } else {
            (tokens, false)
        };
        let access = tokens.access_token.clone();
        *current = Some(tokens);
        Ok((access, exchanged))
    }

    /// Runs `send` with a usable access token. After a 401 it refreshes once (unless that
    /// already happened) and runs `send` once more; a second 401 means the grant is gone, and
    /// the error says to reconnect.
    pub async fn authorized<T, F, Fut>(&self, send: F) -> Result<T, ConnectorError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, ConnectorError>>,
    {
        let mut token = self.access_token().await?;
        // A 401 on a token this session refreshed itself means the grant is gone. A token taken
        // over from another caller's refresh (another job of the connection) may have expired
        // since, so it earns one more refresh: without this, two expiries close together would
        // send jobs to `needs_reauth` with a working grant.
        let mut own_refresh = false;
        for round in 0.. {
            match send(token.clone()).await {
                Err(mut e) if e.status == Some(401) => {
                    if own_refresh || round == MAX_TAKEN_OVER_TOKENS {
                        e.message = format!(
                            "{}; refused again after a token refresh: reconnect the connection",
                            e.message
                        );
                        return Err(e);
                    }
                    (token, own_refresh) = self.reauthorize(&token).await?;
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    /// Refreshes `stale` through the store; also tells whether this call made the exchange
    /// (`false`: another caller had refreshed already, and its tokens are returned).
    async fn refresh(&self, stale: &TokenSet) -> Result<(TokenSet, bool), ConnectorError> {
        let exchanged = std::sync::atomic::AtomicBool::new(false);
        let flag = &exchanged;
        let refresh: RefreshFn<'_> = Box::new(move |old| {
            Box::pin(async move {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                self.exchange(old).await
            })
        });
        let tokens = self.store.refresh_once(stale, refresh).await?;
        Ok((tokens, exchanged.load(std::sync::atomic::Ordering::Relaxed)))
    }

    async fn exchange(&self, old: TokenSet) -> Result<TokenSet, ConnectorError> {
        let platform = self.platform;
        let config = |m: String| ConnectorError::new(platform, ErrorKind::Config, m);
        let refresh_token = old.refresh_token.clone().ok_or_else(|| {
            ConnectorError::new(
                platform,
                ErrorKind::Unauthorized,
                "the access token expired and there is no refresh token: reconnect",
            )
        })?;
        let client = BasicClient::new(ClientId::new(self.app.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.app.client_secret.clone()))
            .set_auth_uri(
                AuthUrl::new(self.app.authorize_url.clone())
                    .map_err(|e| config(format!("authorize URL: {e}")))?,
            )
            .set_token_uri(
                TokenUrl::new(self.app.token_url.clone())
                    .map_err(|e| config(format!("token URL: {e}")))?,
            )
            .set_auth_type(if self.app.credentials_in_body {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            });
        let response = client
            .exchange_refresh_token(&RefreshToken::new(refresh_token.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| refresh_error(platform, e))?;
        tracing::info!(platform, "OAuth access token refreshed");
        Ok(TokenSet {
            access_token: response.access_token().secret().clone(),
            // Platforms that do not rotate omit the refresh token: keep the one we have.
            refresh_token: response
                .refresh_token()
                .map(|t| t.secret().clone())
                .or(Some(refresh_token)),
            expires_at: response.expires_in().map(|d| now() + d.as_secs() as i64),
            obtained_at: Some(now()),
        })
    }
}

fn refresh_error<E: std::error::Error>(
    platform: &'static str,
    e: RequestTokenError<E, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> ConnectorError {
    match e {
        RequestTokenError::ServerResponse(r) => {
            let detail = r.error_description().cloned().unwrap_or_default();
            refused(platform, r.error().as_ref(), &detail)
        }
        RequestTokenError::Request(e) => ConnectorError::new(
            platform,
            ErrorKind::Network,
            format!("token endpoint unreachable: {e}"),
        ),
        // Some token endpoints report a refusal in a 200 answer (Slack's
        // `{"ok": false, "error": "invalid_refresh_token"}`): it is a refusal all the same.
        RequestTokenError::Parse(e, body) => match serde_json::from_slice::<Refusal>(&body) {
            Ok(refusal) => refused(platform, &refusal.error, ""),
            Err(_) => ConnectorError::new(
                platform,
                ErrorKind::Decode,
                format!("token endpoint answer: {e}"),
            ),
        },
        RequestTokenError::Other(m) => ConnectorError::new(
            platform,
            ErrorKind::Unavailable,
            format!("token endpoint: {m}"),
        ),
    }
}

/// An error answer that is not RFC 6749's, but names its error the same way.
#[derive(Deserialize)]
struct Refusal {
    error: String,
}

/// Classifies a token endpoint's refusal by its error code: RFC 6749's codes, and the codes
/// platforms use in their place (Slack's `invalid_refresh_token`, `bad_client_secret`, …).
fn refused(platform: &'static str, code: &str, detail: &str) -> ConnectorError {
    let kind = match code {
        "invalid_grant"
        | "unauthorized_client"
        | "invalid_refresh_token"
        | "token_revoked"
        | "token_expired"
        | "invalid_auth"
        | "account_inactive" => ErrorKind::Unauthorized,
        "invalid_client" | "invalid_client_id" | "bad_client_secret" => ErrorKind::Config,
        "ratelimited" | "rate_limited" | "slow_down" => ErrorKind::RateLimited,
        "temporarily_unavailable"
        | "internal_error"
        | "fatal_error"
        | "service_unavailable"
        | "request_timeout" => ErrorKind::Unavailable,
        _ => ErrorKind::InvalidRequest,
    };
    let mut err = ConnectorError::new(platform, kind, format!("token endpoint answered {code}"));
    if !err.is_temporary() {
        err.message = format!("token refresh refused ({code}): {detail}; reconnect the connection");
    }
    err
}

/// What an authorization request asks a platform for besides the code: the scopes, how they
/// are joined, and the platform's own parameters (`access_type=offline`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthorizeParams {
    pub scopes: &'static [&'static str],
    /// The separator the platform expects between scopes (Slack wants commas).
    pub scope_separator: &'static str,
    pub extra: &'static [(&'static str, &'static str)],
}

impl AuthorizeParams {
    /// No scopes, no extra parameters.
    pub const NONE: Self = Self {
        scopes: &[],
        scope_separator: " ",
        extra: &[],
    };
}

/// An authorization request about to be sent to the platform: the URL to send the user to, and
/// the secrets the callback needs (the `state` and the PKCE verifier). `Debug` is redacted.
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization").finish_non_exhaustive()
    }
}

fn basic_client(
    platform: &'static str,
    app: &OAuthApp,
    redirect_uri: &str,
) -> Result<
    BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    >,
    ConnectorError,
> {
    let config = |m: String| ConnectorError::new(platform, ErrorKind::Config, m);
    Ok(BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(app.client_secret.clone()))
        .set_auth_uri(
            AuthUrl::new(app.authorize_url.clone())
                .map_err(|e| config(format!("authorize URL: {e}")))?,
        )
        .set_token_uri(
            TokenUrl::new(app.token_url.clone()).map_err(|e| config(format!("token URL: {e}")))?,
        )
        .set_redirect_uri(
            RedirectUrl::new(redirect_uri.to_owned())
                .map_err(|e| config(format!("redirect URI: {e}")))?,
        )
        .set_auth_type(if app.credentials_in_body {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        }))
}

/// Starts an authorization-code grant with PKCE (S256): a random `state` and verifier, and the
/// platform's authorize URL carrying the state, the challenge, the scopes and `redirect_uri`.
pub fn authorization(
    platform: &'static str,
    app: &OAuthApp,
    params: &AuthorizeParams,
    redirect_uri: &str,
) -> Result<Authorization, ConnectorError> {
    let client = basic_client(platform, app, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(|| CsrfToken::new_random_len(32))
        .set_pkce_challenge(challenge);
    if !params.scopes.is_empty() {
        request = request.add_extra_param("scope", params.scopes.join(params.scope_separator));
    }
    for (key, value) in params.extra {
        request = request.add_extra_param(*key, *value);
    }
    let (url, state) = request.url();
    Ok(Authorization {
        url: url.to_string(),
        state: state.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// Exchanges an authorization code (with its PKCE verifier) for the connection's tokens, in the
/// shape the token store keeps them.
pub async fn exchange_code(
    platform: &'static str,
    app: &OAuthApp,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: &str,
) -> Result<TokenSet, ConnectorError> {
    let client = basic_client(platform, app, redirect_uri)?;
    // Token endpoints must never redirect: a redirect could carry the client secret elsewhere.
    let http = oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(&http)
        .await
        .map_err(|e| refresh_error(platform, e))?;
    tracing::info!(platform, "OAuth authorization code exchanged");
    Ok(TokenSet {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_at: response.expires_in().map(|d| now() + d.as_secs() as i64),
        obtained_at: Some(now()),
    })
}

/// The token store for a connection: `store` when the caller has one, else one in memory
/// seeded from the connection's credentials.
pub fn token_store(
    platform: &'static str,
    credentials: &Value,
    store: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn TokenStore>, ConnectorError> {
    match store {
        Some(s) => Ok(s),
        None => Ok(Arc::new(MemoryTokenStore::new(TokenSet::from_credentials(
            platform,
            credentials,
        )?))),
    }
}

/// A platform's OAuth client registration: `oauth_app` in the connection's settings
/// (`{"client_id", "client_secret", "authorize_url", "token_url"}`, for sandboxes; the URLs go
/// through the HTTP client's base URL policy), else `LISTBACKUP_OAUTH_<PLATFORM>_CLIENT_ID` and
/// `_CLIENT_SECRET` with the platform's documented endpoints.
pub fn oauth_app(
    platform: &'static str,
    config: &Value,
    http: &crate::http::HttpClient,
    documented: (&str, &str),
    credentials_in_body: bool,
) -> Result<OAuthApp, ConnectorError> {
    let missing =
        |what: &str| ConnectorError::new(platform, ErrorKind::Config, format!("OAuth app: {what}"));
    if let Some(app) = config.get("oauth_app").filter(|v| !v.is_null()) {
        let field = |name: &str| {
            app.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| missing(&format!("`{name}` missing")))
        };
        let (authorize_url, token_url) = (field("authorize_url")?, field("token_url")?);
        http.base_url(platform, &authorize_url)?;
        http.base_url(platform, &token_url)?;
        return Ok(OAuthApp {
            client_id: field("client_id")?,
            client_secret: field("client_secret")?,
            authorize_url,
            token_url,
            credentials_in_body,
        });
    }
    let env = |suffix: &str| {
        let name = format!(
            "LISTBACKUP_OAUTH_{}_{suffix}",
            platform.to_ascii_uppercase()
        );
        std::env::var(&name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| missing(&format!("{name} is not set")))
    };
    Ok(OAuthApp {
        client_id: env("CLIENT_ID")?,
        client_secret: env("CLIENT_SECRET")?,
        authorize_url: documented.0.to_owned(),
        token_url: documented.1.to_owned(),
        credentials_in_body,
    })
}
