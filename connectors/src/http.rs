//! The HTTP client every connector shares: timeouts, retry with exponential backoff and jitter
//! on temporary failures, and the platform's `Retry-After` honoured over our own backoff.

use crate::error::{ConnectorError, ErrorKind};
use backon::{ExponentialBuilder, Retryable};
use reqwest::{Response, StatusCode, header::HeaderMap};
use std::time::Duration;

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

/// A shared, cheap-to-clone HTTP client.
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: reqwest::Client,
    retry: RetrySettings,
}

impl HttpClient {
    pub fn new(retry: RetrySettings) -> Self {
        let inner = reqwest::Client::builder()
            .user_agent(concat!("ListBackup/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { inner, retry }
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
        let attempt = || async {
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
        };
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

fn network_error(platform: &'static str, e: &reqwest::Error) -> ConnectorError {
    // The URL may carry query parameters but never credentials (those travel in headers).
    let kind = if e.is_decode() {
        ErrorKind::Decode
    } else {
        ErrorKind::Network
    };
    ConnectorError::new(platform, kind, format!("request failed: {e}"))
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
