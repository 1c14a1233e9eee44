//! The platform catalog and the one place that maps a platform id to its connector.

use crate::{
    Connector, ConnectorError, ErrorKind, PlatformInfo, activecampaign, dropbox, gohighlevel,
    googledrive,
    http::HttpClient,
    hubspot, keap, mailchimp,
    oauth::{self, AuthorizeParams, OAuthApp, TokenStore},
    slack, stripe, zendesk,
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

/// How a user grants ListBackup access to an OAuth platform: its documented endpoints, whether
/// its token endpoint takes the client credentials in the form body (else HTTP Basic, as each
/// connector refreshes), and what the authorize request asks for (the scopes in the platform's
/// `docs.md`).
struct OAuthGrant {
    authorize_url: &'static str,
    token_url: &'static str,
    credentials_in_body: bool,
    params: AuthorizeParams,
}

fn oauth_grant(platform: &str) -> Option<OAuthGrant> {
    let grant = match platform {
        "keap" => OAuthGrant {
            authorize_url: keap::KEAP_AUTHORIZE_URL,
            token_url: keap::KEAP_TOKEN_URL,
            credentials_in_body: false,
            params: AuthorizeParams {
                scopes: &["full"],
                ..AuthorizeParams::NONE
            },
        },
        "gohighlevel" => OAuthGrant {
            authorize_url: gohighlevel::AUTHORIZE_URL,
            token_url: gohighlevel::TOKEN_URL,
            credentials_in_body: true,
            params: AuthorizeParams {
                scopes: &[
                    "contacts.readonly",
                    "opportunities.readonly",
                    "calendars.readonly",
                    "calendars/events.readonly",
                    "locations.readonly",
                ],
                ..AuthorizeParams::NONE
            },
        },
        "dropbox" => OAuthGrant {
            authorize_url: dropbox::AUTHORIZE_URL,
            token_url: dropbox::TOKEN_URL,
            credentials_in_body: false,
            params: AuthorizeParams {
                scopes: &[
                    "account_info.read",
                    "files.metadata.read",
                    "files.content.read",
                ],
                scope_separator: " ",
                // Without it Dropbox issues no refresh token.
                extra: &[("token_access_type", "offline")],
            },
        },
        "googledrive" => OAuthGrant {
            authorize_url: googledrive::AUTHORIZE_URL,
            token_url: googledrive::TOKEN_URL,
            credentials_in_body: true,
            params: AuthorizeParams {
                scopes: &["https://www.googleapis.com/auth/drive.readonly"],
                scope_separator: " ",
                // A refresh token, and a new one on every (re)connection.
                extra: &[("access_type", "offline"), ("prompt", "consent")],
            },
        },
        "slack" => OAuthGrant {
            authorize_url: slack::AUTHORIZE_URL,
            token_url: slack::TOKEN_URL,
            credentials_in_body: false,
            params: AuthorizeParams {
                scopes: &[
                    "channels:read",
                    "groups:read",
                    "im:read",
                    "mpim:read",
                    "channels:history",
                    "groups:history",
                    "im:history",
                    "mpim:history",
                    "users:read",
                    "files:read",
                ],
                scope_separator: ",",
                extra: &[],
            },
        },
        _ => return None,
    };
    Some(grant)
}

/// The OAuth client registration of `platform` and what its authorize request asks for. The
/// app is resolved exactly as the platform's connector resolves it when it refreshes: `oauth_app`
/// in `config` (for sandboxes), else `LISTBACKUP_OAUTH_<PLATFORM>_CLIENT_ID` / `_CLIENT_SECRET`
/// with the documented endpoints. `Config` error for a platform without OAuth.
pub fn oauth_app(
    platform: &str,
    config: &Value,
    http: &HttpClient,
) -> Result<(OAuthApp, AuthorizeParams), ConnectorError> {
    let (Some(info), Some(grant)) = (self::platform(platform), oauth_grant(platform)) else {
        return Err(ConnectorError::new(
            "registry",
            ErrorKind::Config,
            format!("`{platform}` does not connect with OAuth"),
        ));
    };
    let app = oauth::oauth_app(
        info.id,
        config,
        http,
        (grant.authorize_url, grant.token_url),
        grant.credentials_in_body,
    )?;
    Ok((app, grant.params))
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
            let http = http.paced("requests", config.rate_limit);
            Ok(Arc::new(stripe::StripeConnector::new(config, http)))
        }
        "mailchimp" => {
            let config = mailchimp::MailchimpConfig::from_values(credentials, config)?;
            http.base_url("mailchimp", &config.base_url)?;
            let http = http.paced("requests", config.rate_limit);
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
            let http = http.paced("requests", config.rate_limit);
            Ok(Arc::new(zendesk::ZendeskConnector::new(config, http)))
        }
        "hubspot" => {
            let config = hubspot::HubSpotConfig::from_values(credentials, config)?;
            http.base_url("hubspot", &config.base_url)?;
            // Every request is paced to the general budget; searches also to their own.
            let http = http.paced("requests", config.rate_limit);
            Ok(Arc::new(hubspot::HubSpotConnector::new(config, http)))
        }
        other => Err(ConnectorError::new(
            "registry",
            ErrorKind::Config,
            format!("unknown platform `{other}`"),
        )),
    }
}
