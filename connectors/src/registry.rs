//! The platform catalog and the one place that maps a platform id to its connector.

use crate::{
    Connector, ConnectorError, ErrorKind, PlatformInfo, gohighlevel, http::HttpClient,
    oauth::TokenStore, stripe,
};
use serde_json::Value;
use std::sync::Arc;

static PLATFORMS: [&PlatformInfo; 2] = [&stripe::INFO, &gohighlevel::INFO];

/// Every platform ListBackup can back up.
pub fn platforms() -> &'static [&'static PlatformInfo] {
    &PLATFORMS
}

/// The platform with id `id`.
pub fn platform(id: &str) -> Option<&'static PlatformInfo> {
    platforms().iter().copied().find(|p| p.id == id)
}

/// Builds the connector for `platform` from its decrypted credentials and its settings.
pub fn build(
    platform: &str,
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    build_with_tokens(platform, credentials, config, http, None)
}

/// [`build`], with the store an OAuth connection's tokens live in (`None`: a store in memory,
/// seeded from `credentials`). API-key platforms ignore `tokens`.
pub fn build_with_tokens(
    platform: &str,
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    // OAuth platforms first: they need the token store.
    if platform == "gohighlevel" {
        return gohighlevel::build(credentials, config, http, tokens);
    }
    match platform {
        "stripe" => {
            let config = stripe::StripeConfig::from_values(credentials, config)?;
            http.base_url("stripe", &config.base_url)?;
            let http = http.paced(config.rate_limit);
            Ok(Arc::new(stripe::StripeConnector::new(config, http)))
        }
        other => Err(ConnectorError::new(
            "registry",
            ErrorKind::Config,
            format!("unknown platform `{other}`"),
        )),
    }
}
