//! What request handlers share.

use crate::auth::AuthSettings;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use storage::{keys::MasterKey, object_store::ObjectStore};

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
    /// Seals the age identity generated for each new account.
    pub master: Arc<MasterKey>,
    /// Access-token keys and sign-in limits.
    pub auth: AuthSettings,
    /// Whether connections' base URLs may point at loopback or private networks (sandboxes,
    /// tests), when the API itself talks to a platform (testing a source).
    pub allow_private_networks: bool,
}
