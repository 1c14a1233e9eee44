//! What request handlers share.

use crate::auth::AuthSettings;
use connectors::{http::HttpClient, webhook::WebhookPolicy};
use sea_orm::DatabaseConnection;
use serde_json::Value;
use std::{collections::HashMap, sync::Arc};
use storage::{
    keys::{HeldIdentities, MasterKey},
    object_store::ObjectStore,
};

/// Temporal as the API uses it: a client, the namespace, and where its Web UI is.
#[derive(Clone)]
pub struct TemporalAccess {
    pub client: temporal::Client,
    pub namespace: String,
    pub ui_base: String,
}

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub store: ObjectStore,
    pub temporal: TemporalAccess,
    /// Seals the age identity generated for each new account, and connection credentials.
    pub master: Arc<MasterKey>,
    /// Access-token keys and sign-in limits.
    pub auth: AuthSettings,
    /// How the API reaches platforms for connections and sources (tests, OAuth), including
    /// whether base URLs may point at loopback or private networks.
    pub connections: ConnectionSettings,
    /// This process's key holder: where exports of accounts that hold their own key are built.
    /// `None` where no key-holder queue is served (such exports are then refused).
    pub key_holder: Option<KeyHolder>,
}

/// How long a key sent with a request stays held unused: an export build attempt's time limit
/// (12 hours) and an hour to be taken up. Each use restarts it; work that is done lets it go.
pub const HELD_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(13 * 3600);

/// The keys accounts that hold their own key send with an export request, held in this
/// process's memory for the export's build, and the task queue (this process's alone) the build
/// runs on. The key never enters a workflow's input, the database or a log.
#[derive(Clone, Debug)]
pub struct KeyHolder {
    pub queue: String,
    pub held: HeldIdentities,
}

impl KeyHolder {
    pub fn new(queue: impl Into<String>) -> Self {
        Self {
            queue: queue.into(),
            held: HeldIdentities::default(),
        }
    }
}

impl AppState {
    /// Holds `key` (if any) for the work `id` and answers the task queue that work's decrypting
    /// activities must run on; `None` without a key or a key holder.
    pub(crate) fn hold_key(
        &self,
        id: &str,
        key: Option<storage::keys::AccountKey>,
    ) -> Option<String> {
        let (key, holder) = (key?, self.key_holder.as_ref()?);
        holder.held.hold(id, key, HELD_KEY_TTL);
        Some(holder.queue.clone())
    }

    /// Lets go of a key held for the work `id` (the work could not start).
    pub(crate) fn release_key(&self, id: &str) {
        if let Some(holder) = &self.key_holder {
            holder.held.release(id);
        }
    }
}

/// What connections need from the server's configuration.
#[derive(Clone)]
pub struct ConnectionSettings {
    /// The API's address as browsers reach it; the OAuth redirect URI is
    /// `{public_url}/v1/oauth/callback` and must be registered with each platform's OAuth app.
    pub public_url: String,
    /// The client for the API's own calls to platforms (connection tests, token exchanges'
    /// URL policy): the same private-network policy as the workers.
    pub http: HttpClient,
    /// OAuth apps set on this server per platform, in the shape of the `oauth_app` connection
    /// setting (`client_id`, `client_secret`, `authorize_url`, `token_url`): for sandboxes and
    /// development. A connection authorized with one keeps it in its settings, so workers
    /// refresh with the same app. Without one, `LISTBACKUP_OAUTH_<PLATFORM>_CLIENT_ID` /
    /// `_CLIENT_SECRET` and the platform's documented endpoints apply (API and workers alike).
    pub oauth_apps: HashMap<String, Value>,
    /// Host names webhook URLs may use even when they are private
    /// (`LISTBACKUP_WEBHOOK_ALLOWED_HOSTS`); otherwise webhooks follow `http`'s private-network
    /// policy.
    pub webhook_allowed_hosts: Vec<String>,
    /// The DNS server custom domains are checked against (`ip:port`); `None` for the system's.
    pub dns_resolver: Option<std::net::SocketAddr>,
}

impl ConnectionSettings {
    /// Settings for an API reached at `public_url`, with the default HTTP client (public
    /// addresses only) and no OAuth app overrides.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            http: HttpClient::default(),
            oauth_apps: HashMap::new(),
            webhook_allowed_hosts: Vec::new(),
            dns_resolver: None,
        }
    }

    /// Checks custom domains' TXT records with the DNS server at `addr` (instead of the
    /// system's resolvers).
    pub fn with_dns_resolver(mut self, addr: std::net::SocketAddr) -> Self {
        self.dns_resolver = Some(addr);
        self
    }

    pub fn with_http(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// Uses `app` (an `oauth_app` object) for `platform`.
    pub fn with_oauth_app(mut self, platform: &str, app: Value) -> Self {
        self.oauth_apps.insert(platform.to_owned(), app);
        self
    }

    /// Lets webhook URLs use these host names even when they are private.
    pub fn with_webhook_allowed_hosts(mut self, hosts: Vec<String>) -> Self {
        self.webhook_allowed_hosts = hosts;
        self
    }

    /// Which webhook URLs may be saved: the same private-network policy as `http`, plus the
    /// allow-listed hosts.
    pub fn webhook_policy(&self) -> WebhookPolicy {
        WebhookPolicy::new(
            self.http.allows_private_networks(),
            self.webhook_allowed_hosts.clone(),
        )
    }

    /// Where platforms send the user back after an authorization.
    pub fn redirect_uri(&self) -> String {
        format!("{}/v1/oauth/callback", self.public_url)
    }
}
