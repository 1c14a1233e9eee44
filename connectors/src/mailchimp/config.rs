//! Mailchimp connection settings: the credential, the data center it belongs to, page size
//! and request budget.

use crate::{ConnectorError, ErrorKind, http::RateLimit, settings};
use serde_json::Value;

use super::streams::{INFO, MAX_PAGE_SIZE};

const PLATFORM: &str = "mailchimp";

/// How requests authenticate.
#[derive(Clone)]
pub enum Credential {
    /// `<key>-<dc>`, sent as the HTTP Basic password.
    ApiKey(String),
    /// An OAuth 2.0 access token (they do not expire), sent as `Authorization: Bearer`.
    OAuth(String),
}

#[derive(Clone)]
pub struct MailchimpConfig {
    pub credential: Credential,
    /// The data center, e.g. `us21`: from the API key's suffix or the OAuth metadata.
    pub data_center: String,
    /// `https://<dc>.api.mailchimp.com/3.0`, unless `base_url` overrides it (sandbox, tests).
    pub base_url: String,
    /// Records per page: 1..=1000 (Mailchimp's maximum `count`, the default).
    pub page_size: u32,
    /// The request budget: [`INFO`]'s default unless `requests_per_second` overrides it.
    pub rate_limit: RateLimit,
}

impl std::fmt::Debug for MailchimpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credential = match self.credential {
            Credential::ApiKey(_) => "api_key <redacted>",
            Credential::OAuth(_) => "oauth <redacted>",
        };
        f.debug_struct("MailchimpConfig")
            .field("credential", &credential)
            .field("data_center", &self.data_center)
            .field("base_url", &self.base_url)
            .field("page_size", &self.page_size)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

fn config_error(message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, ErrorKind::Config, message)
}

/// Checks a data center name: letters and digits only (`us21`), so it can only ever be the
/// first label of `<dc>.api.mailchimp.com`.
fn data_center(dc: &str) -> Result<String, ConnectorError> {
    let dc = dc.trim().to_ascii_lowercase();
    let valid = (2..=10).contains(&dc.len())
        && dc.bytes().all(|b| b.is_ascii_alphanumeric())
        && dc.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
    if valid {
        Ok(dc)
    } else {
        Err(config_error(
            "the data center must be letters and digits, like `us21`",
        ))
    }
}

/// The data center of an API key `<key>-<dc>`.
fn key_data_center(key: &str) -> Result<String, ConnectorError> {
    match key.rsplit_once('-') {
        Some((secret, dc)) if !secret.is_empty() => data_center(dc).map_err(|_| {
            config_error(
                "the API key must end in `-<data center>` (letters and digits, like `-us21`)",
            )
        }),
        _ => Err(config_error(
            "the API key has no data center: Mailchimp keys look like `<key>-us21`",
        )),
    }
}

/// `https://<dc>.api.mailchimp.com/3.0` for an API key `<key>-<dc>`.
pub fn base_url_for_key(key: &str) -> Result<String, ConnectorError> {
    key_data_center(key.trim()).map(|dc| format!("https://{dc}.api.mailchimp.com/3.0"))
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl MailchimpConfig {
    /// Reads `{"api_key": "<key>-<dc>"}` or `{"access_token": …, "dc": "us21"}` credentials and
    /// `{"base_url": …, "page_size": …, "requests_per_second": …}` settings.
    pub fn from_values(credentials: &Value, config: &Value) -> Result<Self, ConnectorError> {
        let (credential, data_center) = if let Some(key) = text(credentials, "api_key") {
            (Credential::ApiKey(key.to_owned()), key_data_center(key)?)
        } else if let Some(token) = text(credentials, "access_token") {
            let dc = text(credentials, "dc").ok_or_else(|| {
                config_error(
                    "OAuth credentials need `dc`, the data center from the metadata endpoint",
                )
            })?;
            (Credential::OAuth(token.to_owned()), data_center(dc)?)
        } else {
            return Err(config_error(
                "credentials need `api_key` (`<key>-<dc>`) or `access_token` and `dc`",
            ));
        };
        let base_url = match text(config, "base_url") {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{data_center}.api.mailchimp.com/3.0"),
        };
        let page_size = settings::page_size(PLATFORM, config, MAX_PAGE_SIZE)?;
        let rate_limit = settings::rate_limit(PLATFORM, config, INFO.rate_limit)?;
        Ok(Self {
            credential,
            data_center,
            base_url,
            page_size,
            rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_data_center_comes_from_the_key_and_is_only_letters_and_digits() {
        assert_eq!(
            base_url_for_key("abc-us21").ok().as_deref(),
            Some("https://us21.api.mailchimp.com/3.0")
        );
        for bad in [
            "abc",
            "abc-",
            "-us21",
            "abc-us21.evil.com",
            "abc-us21/x",
            "abc-us 21",
            "abc-21",
        ] {
            let err = base_url_for_key(bad).expect_err(bad);
            assert_eq!(err.kind, ErrorKind::Config, "{bad}");
        }
    }

    #[test]
    fn oauth_needs_a_data_center_and_debug_hides_secrets() {
        let config = MailchimpConfig::from_values(
            &json!({"access_token": "tok-secret", "dc": "us6"}),
            &json!({}),
        )
        .expect("oauth config");
        assert_eq!(config.base_url, "https://us6.api.mailchimp.com/3.0");
        assert_eq!(config.page_size, 1000);
        assert!(!format!("{config:?}").contains("tok-secret"));
        assert!(MailchimpConfig::from_values(&json!({"access_token": "t"}), &json!({})).is_err());
        assert!(
            MailchimpConfig::from_values(&json!({"api_key": "k-us1"}), &json!({"page_size": 1001}))
                .is_err()
        );
    }
}
