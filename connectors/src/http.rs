//! The HTTP client every connector shares: timeouts, retry with exponential backoff and jitter
//! on temporary failures, and the platform's `Retry-After` honoured over our own backoff.

use crate::{
    budget::{Budget, BudgetStore, LocalBudgets, Pacer},
    error::{ConnectorError, ErrorKind},
};
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Response, StatusCode, header::HeaderMap};
use std::{sync::Arc, time::Duration};

/// Retry settings. The defaults ride out a platform's short outages and rate-limit windows;
/// anything longer fails the attempt and is retried by Temporal from the last checkpoint.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited out in-process.
    pub max_retry_after: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 8,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// A request budget: at most `requests` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn per_second(requests: u32) -> Self {
        Self {
            requests,
            per: Duration::from_secs(1),
        }
    }

    /// The spacing of evenly paced requests (a burst of one: the platform sees a steady rate,
    /// never a spike); `None` for a limit that does not pace at all.
    pub fn period(self) -> Option<Duration> {
        Some(self.per / self.requests.max(1)).filter(|p| !p.is_zero())
    }
}

/// How long one try of a platform request may take, answer included, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A shared, cheap-to-clone HTTP client.
#[derive(Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: RetrySettings,
    timeout: Duration,
    /// Pace requests to the platform's documented rates (proactive); 429s are the reactive
    /// side. Each try waits for every one of them, the slowest first, so that the slot of the
    /// fastest is taken just before the request goes out rather than spent early.
    pacers: Vec<(Duration, Arc<dyn Pacer>)>,
    /// Where budgets are held: in this process, or for every worker together.
    budgets: Arc<dyn BudgetStore>,
    /// Whether user-supplied base URLs may point at loopback or private addresses (sandboxes,
    /// tests). Off in production: a base URL must never reach into the server's own network.
    allow_private_networks: bool,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("budgets", &self.pacers.len())
            .finish()
    }
}

impl HttpClient {
    pub fn new(retry: RetrySettings) -> Self {
        Self {
            inner: reqwest_client(DEFAULT_TIMEOUT),
            retry,
            timeout: DEFAULT_TIMEOUT,
            pacers: Vec::new(),
            budgets: Arc::new(LocalBudgets),
            allow_private_networks: false,
        }
    }

    /// The same client, giving each try of a request `timeout` from connecting to the end of the
    /// answer ([`DEFAULT_TIMEOUT`] unless set). A try that runs out is retried like a network
    /// failure. Call it before [`paced`](Self::paced): it starts a new connection pool.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            inner: reqwest_client(timeout),
            timeout,
            ..self
        }
    }

    /// How long one try of a request may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether base URLs on loopback or private networks are allowed (sandboxes, tests).
    pub fn allows_private_networks(&self) -> bool {
        self.allow_private_networks
    }

    /// The same client, allowing base URLs on loopback and private networks.
    pub fn allowing_private_networks(mut self, allow: bool) -> Self {
        self.allow_private_networks = allow;
        self
    }

    /// Checks a user-supplied base URL (see [`validate_base_url`]) under this client's policy.
    pub fn base_url(
        &self,
        platform: &'static str,
        url: &str,
    ) -> Result<reqwest::Url, ConnectorError> {
        validate_base_url(platform, url, self.allow_private_networks)
    }

    /// The same client, keeping its budgets in `budgets` (e.g. one store for every worker).
    pub fn with_budgets(mut self, budgets: Arc<dyn BudgetStore>) -> Self {
        self.budgets = budgets;
        self
    }

    /// The same client, also pacing its requests to the connection's budget `budget` at
    /// `limit`. A client paced twice (HubSpot's searches) waits for both budgets.
    pub fn paced(&self, budget: &str, limit: RateLimit) -> Self {
        self.paced_by(&Budget::connection(budget), limit)
    }

    /// The same client, also pacing its requests to `limit` together with every other client
    /// paced with the same `budget` name: for platforms whose limit belongs to an account or an
    /// app key and is shared by all its connections (ActiveCampaign, Keap).
    pub fn paced_shared(&self, budget: &str, limit: RateLimit) -> Self {
        self.paced_by(&Budget::shared(budget), limit)
    }

    fn paced_by(&self, budget: &Budget, limit: RateLimit) -> Self {
        let mut paced = self.clone();
        if let Some(period) = limit.period() {
            paced
                .pacers
                .push((period, self.budgets.pacer(budget, period)));
            paced
                .pacers
                .sort_by_key(|(period, _)| std::cmp::Reverse(*period));
        }
        paced
    }

    /// The retry settings this client was built with.
    pub fn retry_settings(&self) -> &RetrySettings {
        &self.retry
    }

    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends the request built by `build` (called again for each try) and returns the successful
    /// response. `classify` turns a failed response into the platform's error.
    pub async fn send<B, C>(
        &self,
        platform: &'static str,
        build: B,
        classify: C,
    ) -> Result<Response, ConnectorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(StatusCode, &HeaderMap, &str) -> ConnectorError,
    {
        self.retrying(platform, || self.attempt(platform, &build, &classify))
            .await
    }

    /// [`send`](Self::send), reading the whole answer within each try: an answer cut off
    /// mid-body (a reset connection, a timeout) is retried like any network failure.
    pub async fn send_bytes<B, C>(
        &self,
        platform: &'static str,
        build: B,
        classify: C,
    ) -> Result<bytes::Bytes, ConnectorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(StatusCode, &HeaderMap, &str) -> ConnectorError,
    {
        self.send_read(platform, build, classify, |_, _| Ok(()))
            .await
    }

    /// [`send`](Self::send), reading the whole answer within each try so that `check` can turn
    /// a successful status into an error: for platforms that report failures in the body of a
    /// 200 (Slack's `{"ok": false, "error": "…"}`). A temporary error from `check` is retried
    /// like a 429 or a 5xx, after the `Retry-After` the answer carried, if any.
    pub async fn send_read<B, C, K>(
        &self,
        platform: &'static str,
        build: B,
        classify: C,
        check: K,
    ) -> Result<bytes::Bytes, ConnectorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(StatusCode, &HeaderMap, &str) -> ConnectorError,
        K: Fn(&HeaderMap, &[u8]) -> Result<(), ConnectorError>,
    {
        self.retrying(platform, || async {
            let response = self.attempt(platform, &build, &classify).await?;
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| network_error(platform, &e))?;
            check(&headers, &body).map_err(|mut err| {
                if err.retry_after.is_none() {
                    err.retry_after = retry_after(&headers);
                }
                err
            })?;
            Ok(body)
        })
        .await
    }

    /// One try: waits for the pace, sends, and classifies a failed status.
    async fn attempt<B, C>(
        &self,
        platform: &'static str,
        build: &B,
        classify: &C,
    ) -> Result<Response, ConnectorError>
    where
        B: Fn(&reqwest::Client) -> reqwest::RequestBuilder,
        C: Fn(StatusCode, &HeaderMap, &str) -> ConnectorError,
    {
        for (_, pacer) in &self.pacers {
            pacer.until_ready().await.map_err(|e| {
                ConnectorError::new(platform, ErrorKind::Unavailable, e.to_string())
            })?;
        }
        let response = build(&self.inner)
            .send()
            .await
            .map_err(|e| network_error(platform, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        let mut err = classify(status, &headers, &body);
        err.status = Some(status.as_u16());
        if err.retry_after.is_none() {
            err.retry_after = retry_after(&headers);
        }
        Err(err)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up: temporary
    /// errors are retried with exponential backoff and jitter, or after `Retry-After` when the
    /// platform said how long to wait.
    async fn retrying<T, A, F>(
        &self,
        platform: &'static str,
        attempt: A,
    ) -> Result<T, ConnectorError>
    where
        A: FnMut() -> F,
        F: Future<Output = Result<T, ConnectorError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.retry.min_delay)
            .with_max_delay(self.retry.max_delay)
            .with_max_times(self.retry.max_retries)
            .with_jitter();
        let max_retry_after = self.retry.max_retry_after;
        attempt
            .retry(backoff)
            .when(ConnectorError::is_temporary)
            .adjust(move |err: &ConnectorError, delay| {
                // `None` from the backoff means the retries are used up.
                let delay = delay?;
                match err.retry_after {
                    Some(wait) if wait > max_retry_after => None,
                    Some(wait) => Some(wait),
                    None => Some(delay),
                }
            })
            .notify(|err: &ConnectorError, delay| {
                tracing::warn!(platform, error = %err, retry_in_ms = delay.as_millis() as u64, "platform request failed, retrying");
            })
            .await
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new(RetrySettings::default())
    }
}

fn reqwest_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("ListBackup/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Sending, or reading an answer's bytes, failed. reqwest reports a body cut off mid-answer as
/// a "decode" error, but no content decoding is enabled here, so every such failure is the
/// transport's (a reset connection, a timeout): temporary. Parsing the bytes is the caller's.
/// The message carries the causes ("operation timed out", "connection reset"), which reqwest's
/// own message leaves out.
fn network_error(platform: &'static str, e: &reqwest::Error) -> ConnectorError {
    // The URL may carry query parameters but never credentials (those travel in headers).
    let mut message = format!("request failed: {e}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(&format!(": {c}"));
        cause = c.source();
    }
    ConnectorError::new(platform, ErrorKind::Network, message)
}

/// `Retry-After` as seconds (the form platforms use for 429/503).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The default classification by status code, for platforms without their own error shape.
pub fn classify_status(
    platform: &'static str,
    status: StatusCode,
    message: String,
) -> ConnectorError {
    let kind = match status.as_u16() {
        429 => ErrorKind::RateLimited,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        408 => ErrorKind::Network,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::InvalidRequest,
    };
    ConnectorError::new(
        platform,
        kind,
        format!("HTTP {}: {message}", status.as_u16()),
    )
}

/// Parses a user-supplied base URL: http(s) only, no credentials in it, and — unless
/// `allow_private` — no loopback, private, link-local or unspecified address (SSRF).
///
/// Host names are checked as written (`localhost` and `*.localhost` are refused); names that
/// resolve to private addresses are not resolved here.
pub fn validate_base_url(
    platform: &'static str,
    url: &str,
    allow_private: bool,
) -> Result<reqwest::Url, ConnectorError> {
    let err = |m: &str| ConnectorError::new(platform, ErrorKind::Config, format!("base URL {m}"));
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| err("is not a URL"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(err("must use https"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(err("must not contain credentials"));
    }
    let Some(host) = parsed.host() else {
        return Err(err("has no host"));
    };
    let private = is_private_host(&host);
    if private && !allow_private {
        return Err(err("points at a private or loopback address"));
    }
    Ok(parsed)
}

/// True for a host that must not be reached from the server unless private networks are
/// allowed: loopback, private, link-local, unspecified, broadcast and carrier-grade NAT
/// addresses, and the names `localhost`, `*.localhost` and `*.internal`.
pub fn is_private_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => is_private_ip((*ip).into()),
        url::Host::Ipv6(ip) => is_private_ip((*ip).into()),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost") || name.ends_with(".internal")
        }
    }
}

/// True for an address on a loopback, private, link-local or otherwise non-public network.
pub fn is_private_ip(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => {
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64 // carrier-grade NAT
        }
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00 // unique local
                || (ip.segments()[0] & 0xffc0) == 0xfe80 // link local
                || ip.to_ipv4_mapped().is_some_and(|v4| is_private_ip(v4.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate_base_url;

    #[test]
    fn base_urls_on_private_networks_are_refused_unless_allowed() {
        for bad in [
            "http://127.0.0.1:9000",
            "https://10.1.2.3/api",
            "https://192.168.0.1",
            "https://172.16.5.4",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://localhost:8080",
            "https://db.internal",
            "https://0.0.0.0",
            "https://100.64.0.1",
        ] {
            assert!(
                validate_base_url("t", bad, false).is_err(),
                "{bad} must be refused"
            );
            assert!(
                validate_base_url("t", bad, true).is_ok(),
                "{bad} is fine when allowed"
            );
        }
        for bad in [
            "ftp://example.com",
            "not a url",
            "https://user:pw@example.com",
            "file:///etc/passwd",
        ] {
            assert!(
                validate_base_url("t", bad, true).is_err(),
                "{bad} is never a base URL"
            );
        }
        assert!(validate_base_url("t", "https://acme.api-us1.com", false).is_ok());
        assert!(validate_base_url("t", "https://us21.api.mailchimp.com/3.0", false).is_ok());
    }
}
