//! An OAuth authorization in progress: created when a user starts connecting a platform, used
//! once when the platform redirects back (or never, and it expires after ten minutes).
//!
//! The `state` sent to the platform is a random secret; only its SHA-256 is stored, so a
//! database dump cannot complete anyone's authorization. The PKCE verifier is sealed under the
//! master key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_states")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// SHA-256 (hex) of the `state` parameter.
    #[sea_orm(unique)]
    pub state_hash: String,
    pub account_id: String,
    /// Who started it (`user:{id}` or `api_key:{id}`), for the activity log of the callback.
    pub actor: String,
    pub platform: String,
    /// The name of the connection to create (or the connection's name, for a reconnect).
    pub name: String,
    /// Non-secret settings for the new connection.
    pub config: Json,
    /// Set when this authorization replaces an existing connection's tokens.
    pub connection_id: Option<String>,
    /// Where to send the browser after the callback, if anywhere.
    pub redirect_after: Option<String>,
    /// The PKCE code verifier, sealed under the master key.
    pub verifier_sealed: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
