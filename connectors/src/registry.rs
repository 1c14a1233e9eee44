//! The platform catalog and the one place that maps a platform id to its connector.

use crate::{
    Connector, ConnectorError, ErrorKind, PlatformInfo, activecampaign, dropbox, gohighlevel,
    googledrive, http::HttpClient, hubspot, keap, mailchimp, oauth::TokenStore, slack, stripe,
    zendesk,
};
use serde_json::Value;
use std::sync::Arc;

static PLATFORMS: [&PlatformInfo; 10] = [
    &stripe::INFO,
    &mailchimp::INFO,
    &activecampaign::INFO,
    &zendesk::INFO,
    &hubspot::INFO,
    &keap::INFO,
    &gohighlevel::INFO,
    &dropbox::INFO,
    &googledrive::INFO,
    &slack::INFO,
];

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

/// [`build`], with the token store an OAuth connection's refreshes go through. Callers that
/// run several connectors for one connection (jobs, workers) pass one shared store, so a
/// rotated refresh token is saved exactly once; `None` keeps the tokens in memory, seeded
/// from `credentials`. API-key platforms ignore `tokens`.
pub fn build_with_tokens(
    platform: &str,
    credentials: &Value,
    config: &Value,
    http: &HttpClient,
    tokens: Option<Arc<dyn TokenStore>>,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    match platform {
        "keap" => Ok(Arc::new(keap::connect(credentials, config, http, tokens)?)),
        "gohighlevel" => gohighlevel::build(credentials, config, http, tokens),
        "dropbox" => dropbox::build(credentials, config, http, tokens),
        "googledrive" => Ok(Arc::new(googledrive::build(
            credentials,
            config,
            http,
            tokens,
        )?)),
        "slack" => slack::build(credentials, config, http, tokens),
        "stripe" => {
            let config = stripe::StripeConfig::from_values(credentials, config)?;
            http.base_url("stripe", &config.base_url)?;
            let http = http.paced(config.rate_limit);
            Ok(Arc::new(stripe::StripeConnector::new(config, http)))
        }
        "mailchimp" => {
            let config = mailchimp::MailchimpConfig::from_values(credentials, config)?;
            http.base_url("mailchimp", &config.base_url)?;
            let http = http.paced(config.rate_limit);
            Ok(Arc::new(mailchimp::MailchimpConnector::new(config, http)))
        }
        "activecampaign" => {
            let config = activecampaign::ActiveCampaignConfig::from_values(credentials, config)?;
            let api_root = activecampaign::api_root(http, &config.base_url)?;
            // The budget belongs to the account, shared by every key and connection to it.
            let http = http.paced_shared(api_root.as_str(), config.rate_limit);
            Ok(Arc::new(activecampaign::ActiveCampaignConnector::new(
                config, api_root, http,
            )))
        }
        "zendesk" => {
            let config = zendesk::ZendeskConfig::from_values(credentials, config)?;
            http.base_url("zendesk", &config.base_url)?;
            let http = http.paced(config.rate_limit);
            Ok(Arc::new(zendesk::ZendeskConnector::new(config, http)))
        }
        "hubspot" => {
            let config = hubspot::HubSpotConfig::from_values(credentials, config)?;
            http.base_url("hubspot", &config.base_url)?;
            // Every request is paced to the general budget; searches also to their own.
            let http = http.paced(config.rate_limit);
            Ok(Arc::new(hubspot::HubSpotConnector::new(config, http)))
        }
        other => Err(ConnectorError::new(
            "registry",
            ErrorKind::Config,
            format!("unknown platform `{other}`"),
        )),
    }
}
