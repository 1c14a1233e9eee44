//! Zendesk connection settings: credentials, the account's base URL, page sizes and budgets.

use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;
use std::time::Duration;

/// How requests authenticate.
#[derive(Clone)]
pub enum Credentials {
    /// An API token: Basic auth as `{email}/token:{api_token}`.
    ApiToken { email: String, api_token: String },
    /// An OAuth access token: `Authorization: Bearer …`.
    OAuth { access_token: String },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ApiToken { email, .. } => f
                .debug_struct("ApiToken")
                .field("email", email)
                .field("api_token", &"<redacted>")
                .finish(),
            Credentials::OAuth { .. } => f
                .debug_struct("OAuth")
                .field("access_token", &"<redacted>")
                .finish(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ZendeskConfig {
    pub credentials: Credentials,
    /// `https://{subdomain}.zendesk.com`, or the `base_url` override (checked by the registry).
    pub base_url: String,
    /// Items per list page (`page[size]`): 1..=100.
    pub page_size: u32,
    /// Items per incremental export page (`per_page`): 1..=1000.
    pub export_page_size: u32,
    /// The account's request budget: the lowest plan's 200/min unless `requests_per_second`
    /// overrides it.
    pub rate_limit: RateLimit,
    /// The incremental exports' own budget: 10/min unless `export_requests_per_minute` says.
    pub export_rate_limit: RateLimit,
}

impl ZendeskConfig {
    /// Reads `{"email", "api_token"}` or `{"access_token"}` credentials and
    /// `{"subdomain" | "base_url", "page_size", "export_page_size", "requests_per_second",
    /// "export_requests_per_minute"}` settings.
    pub fn from_values(credentials: &Value, config: &Value) -> Result<Self, ConnectorError> {
        let err = |m: &str| ConnectorError::new("zendesk", ErrorKind::Config, m);
        let text = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let credentials = match (
            text(credentials, "access_token"),
            text(credentials, "email"),
            text(credentials, "api_token"),
        ) {
            (Some(access_token), _, _) => Credentials::OAuth { access_token },
            (None, Some(email), Some(api_token)) => Credentials::ApiToken { email, api_token },
            _ => {
                return Err(err(
                    "credentials need `email` and `api_token`, or an OAuth `access_token`",
                ));
            }
        };
        let base_url = match (text(config, "base_url"), text(config, "subdomain")) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(subdomain)) => format!("https://{}.zendesk.com", subdomain_of(&subdomain)?),
            (None, None) => return Err(err("settings need the account's `subdomain`")),
        };
        let number =
            |key: &str, range, default| settings::number("zendesk", config, key, range, default);
        let page_size = settings::page_size("zendesk", config, 100)?;
        let export_page_size = number("export_page_size", 1..=1000, 1000)? as u32;
        let rate_limit = settings::rate_limit("zendesk", config, super::streams::INFO.rate_limit)?;
        let export_rate_limit = RateLimit {
            requests: number("export_requests_per_minute", 1..=60_000, 10)? as u32,
            per: Duration::from_secs(60),
        };
        Ok(Self {
            credentials,
            base_url,
            page_size,
            export_page_size,
            rate_limit,
            export_rate_limit,
        })
    }
}

/// An account subdomain: 1-63 lower-case letters, digits and inner hyphens. Anything else
/// (dots, slashes, `@`) could steer the base URL to another host, so it is refused.
fn subdomain_of(input: &str) -> Result<String, ConnectorError> {
    let name = input.to_ascii_lowercase();
    let name = name.strip_suffix(".zendesk.com").unwrap_or(&name);
    let valid = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(name.to_owned())
    } else {
        Err(ConnectorError::new(
            "zendesk",
            ErrorKind::Config,
            "`subdomain` must be the account name of `https://{subdomain}.zendesk.com`",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_subdomain_builds_the_base_url_and_cannot_escape_it() {
        let creds = json!({"email": "a@b.c", "api_token": "t"});
        let config = ZendeskConfig::from_values(&creds, &json!({"subdomain": "Acme-1"})).unwrap();
        assert_eq!(config.base_url, "https://acme-1.zendesk.com");
        let config =
            ZendeskConfig::from_values(&creds, &json!({"subdomain": "acme.zendesk.com"})).unwrap();
        assert_eq!(config.base_url, "https://acme.zendesk.com");
        for bad in [
            "evil.com/",
            "a@evil.com",
            "-x",
            "x-",
            "a.b",
            "",
            "127.0.0.1",
        ] {
            assert!(
                ZendeskConfig::from_values(&creds, &json!({"subdomain": bad})).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = ZendeskConfig::from_values(
            &json!({"email": "a@b.c", "api_token": "secret-token-1"}),
            &json!({"subdomain": "acme"}),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("secret-token-1"));
        let config = ZendeskConfig::from_values(
            &json!({"access_token": "secret-oauth-2"}),
            &json!({"subdomain": "acme"}),
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("secret-oauth-2"));
    }
}
