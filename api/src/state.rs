//! What request handlers share.

use sea_orm::DatabaseConnection;
use storage::object_store::ObjectStore;

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
}
