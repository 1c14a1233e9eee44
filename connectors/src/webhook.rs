//! Outbound notifications to customers' webhook URLs: which URLs may be used, how a
//! notification is signed, and one delivery attempt.
//!
//! The URL policy is the one connection base URLs follow ([`crate::http::validate_base_url`]):
//! no credentials in the URL, and no loopback, private or link-local address unless private
//! networks are allowed — plus an operator's allow-list of host names that may be private
//! (`LISTBACKUP_WEBHOOK_ALLOWED_HOSTS`). It is checked twice: on the URL as written when a
//! webhook is saved, and on the addresses its host resolves to when a notification is sent.
//! The request then goes to exactly the addresses that passed, so a name that resolves to a
//! public address at the check and to a private one at the connection (DNS rebinding) cannot
//! reach the server's own network. Redirects are not followed, for the same reason.

use crate::http::{is_private_host, is_private_ip};
use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::Sha256;
use std::{net::SocketAddr, time::Duration};

/// How long a receiver has to answer one attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// The signature header: `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE_HEADER: &str = "X-Listbackup-Signature";
/// Unix seconds when the attempt was signed.
pub const TIMESTAMP_HEADER: &str = "X-Listbackup-Timestamp";
/// The event name (`job.succeeded`, …).
pub const EVENT_HEADER: &str = "X-Listbackup-Event";
/// The delivery id: the same on every attempt of one notification.
pub const DELIVERY_HEADER: &str = "X-Listbackup-Delivery";

/// Why a URL may not be used, or an attempt did not reach the receiver.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL is not acceptable under the policy (permanent until the webhook is changed).
    #[error("webhook URL {0}")]
    Url(String),
    /// The host name could not be resolved, or the receiver could not be reached in time.
    #[error("{0}")]
    Network(String),
}

/// Which webhook URLs may be used.
#[derive(Debug, Clone, Default)]
pub struct WebhookPolicy {
    allow_private: bool,
    allowed_hosts: Vec<String>,
}

impl WebhookPolicy {
    /// `allow_private`: any loopback or private address may be used (development, tests);
    /// `allowed_hosts`: host names that may be private even so (case does not matter).
    pub fn new(allow_private: bool, allowed_hosts: impl IntoIterator<Item = String>) -> Self {
        Self {
            allow_private,
            allowed_hosts: allowed_hosts
                .into_iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Reads the allow-list from a comma-separated value (`hooks.corp.example,10.0.0.7`).
    pub fn parse_hosts(value: &str) -> Vec<String> {
        value.split(',').map(str::to_owned).collect()
    }

    fn allow_listed(&self, url: &Url) -> bool {
        url.host_str().is_some_and(|host| {
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            self.allowed_hosts.contains(&host)
        })
    }

    /// Checks a URL as written: https (http only where private networks or the host are
    /// allowed), no credentials, and a public host unless allowed.
    pub fn check_url(&self, url: &str) -> Result<Url, WebhookError> {
        let err = |m: &str| WebhookError::Url(m.to_owned());
        let parsed = Url::parse(url.trim()).map_err(|_| err("is not a URL"))?;
        let trusted = self.allow_private || self.allow_listed(&parsed);
        match parsed.scheme() {
            "https" => {}
            "http" if trusted => {}
            _ => return Err(err("must use https")),
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(err("must not contain credentials"));
        }
        let Some(host) = parsed.host() else {
            return Err(err("has no host"));
        };
        if is_private_host(&host) && !trusted {
            return Err(err("points at a private or loopback address"));
        }
        Ok(parsed)
    }

    /// Resolves the URL's host and checks every address it resolves to; returns them, to be
    /// connected to and nothing else.
    pub async fn resolve(&self, url: &Url) -> Result<Vec<SocketAddr>, WebhookError> {
        let host = url
            .host_str()
            .ok_or_else(|| WebhookError::Url("has no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| WebhookError::Network(format!("resolving {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(WebhookError::Network(format!("{host} has no address")));
        }
        if !(self.allow_private || self.allow_listed(url))
            && let Some(bad) = addrs.iter().find(|a| is_private_ip(a.ip()))
        {
            return Err(WebhookError::Url(format!(
                "resolves to a private or loopback address ({})",
                bad.ip()
            )));
        }
        Ok(addrs)
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp + "." + body` under `secret`.
pub fn signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One notification, ready to send.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub event: &'a str,
    pub delivery_id: &'a str,
    pub body: &'a str,
}

/// Sends one attempt, signed now; returns the receiver's status code (any status: the caller
/// decides what counts as delivered).
pub async fn send(policy: &WebhookPolicy, n: &Notification<'_>) -> Result<u16, WebhookError> {
    let url = policy.check_url(n.url)?;
    let addrs = policy.resolve(&url).await?;
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("ListBackup-Webhooks/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(ATTEMPT_TIMEOUT);
    if let Some(url::Host::Domain(name)) = url.host() {
        builder = builder.resolve_to_addrs(name, &addrs);
    }
    let client = builder
        .build()
        .map_err(|e| WebhookError::Network(format!("HTTP client: {e}")))?;
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(n.secret, &timestamp, n.body.as_bytes()),
        )
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(EVENT_HEADER, n.event)
        .header(DELIVERY_HEADER, n.delivery_id)
        .body(n.body.to_owned())
        .send()
        .await
        .map_err(|e| WebhookError::Network(format!("request failed: {e}")))?;
    Ok(response.status().as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently with Python:
        // hmac.new(b"whsec_test", b'1767225600.{"event":"webhook.test"}', hashlib.sha256)
        assert_eq!(
            signature("whsec_test", "1767225600", br#"{"event":"webhook.test"}"#),
            "sha256=eb787c468486ff5527a80b44a8c33ccaea91aa35916e38b600a81bb52f967b2e"
        );
        assert_ne!(
            signature("whsec_other", "1767225600", br#"{"event":"webhook.test"}"#),
            signature("whsec_test", "1767225600", br#"{"event":"webhook.test"}"#),
        );
    }

    #[test]
    fn urls_follow_the_private_network_policy_and_the_allow_list() {
        let strict = WebhookPolicy::default();
        for bad in [
            "http://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.7/x",
            "https://[::1]/x",
            "https://localhost/x",
            "https://user:pw@hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "not a url",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad} must be refused");
        }
        assert!(strict.check_url("https://hooks.example.com/x").is_ok());

        let listed = WebhookPolicy::new(
            false,
            WebhookPolicy::parse_hosts(" Hooks.Internal ,10.0.0.7"),
        );
        assert!(listed.check_url("http://hooks.internal:8080/x").is_ok());
        assert!(listed.check_url("https://10.0.0.7/x").is_ok());
        assert!(listed.check_url("https://10.0.0.8/x").is_err());
        assert!(
            listed
                .check_url("https://user:pw@hooks.internal/x")
                .is_err()
        );

        let open = WebhookPolicy::new(true, []);
        assert!(open.check_url("http://127.0.0.1:9000/x").is_ok());
        assert!(open.check_url("https://a:b@127.0.0.1/x").is_err());
    }

    #[tokio::test]
    async fn resolved_private_addresses_are_refused_unless_allowed() {
        let url = Url::parse("https://localhost:9/x").unwrap();
        let strict = WebhookPolicy::default();
        assert!(matches!(
            strict.resolve(&url).await,
            Err(WebhookError::Url(_))
        ));
        let listed = WebhookPolicy::new(false, ["localhost".to_owned()]);
        assert!(listed.resolve(&url).await.is_ok());
    }
}
