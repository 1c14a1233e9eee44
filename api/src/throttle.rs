//! Limits on password guessing: sign-in and registration attempts per client address, and
//! sign-in attempts per email address (known or not, so the limit tells nothing about which
//! emails exist). Over a limit the API answers 429 with `Retry-After`.
//!
//! The limits live in each API process's memory (GCRA, from `governor`): with N replicas behind
//! a load balancer an address gets up to N times the budget, still far from unlimited guessing.

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use poem::{Request, http::HeaderName};
use std::{num::NonZeroU32, time::Duration};

/// A burst of attempts, then one more every `replenish_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub burst: NonZeroU32,
    pub replenish_every: Duration,
}

impl Limit {
    pub fn new(burst: u32, replenish_every: Duration) -> Self {
        Self {
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            replenish_every,
        }
    }

    fn quota(self) -> Quota {
        Quota::with_period(self.replenish_every.max(Duration::from_millis(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(self.burst)
    }
}

/// How many attempts are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInLimits {
    /// Sign-ins and registrations from one client address.
    pub per_address: Limit,
    /// Sign-ins to one email address, from anywhere.
    pub per_email: Limit,
}

impl Default for SignInLimits {
    /// 20 attempts per address, then one every 3 s; 5 per email, then one every 20 s.
    fn default() -> Self {
        Self {
            per_address: Limit::new(20, Duration::from_secs(3)),
            per_email: Limit::new(5, Duration::from_secs(20)),
        }
    }
}

/// The limiters of one API process.
pub struct SignInThrottle {
    per_address: DefaultKeyedRateLimiter<String>,
    per_email: DefaultKeyedRateLimiter<String>,
}

/// Forgotten keys are dropped once a limiter tracks this many.
const PRUNE_AT: usize = 10_000;

impl SignInThrottle {
    pub fn new(limits: SignInLimits) -> Self {
        Self {
            per_address: RateLimiter::keyed(limits.per_address.quota()),
            per_email: RateLimiter::keyed(limits.per_email.quota()),
        }
    }

    /// Counts one attempt from `address` (and for `email`, when signing in). `Err` holds how
    /// long to wait before the next attempt can succeed.
    pub fn attempt(&self, address: &str, email: Option<&str>) -> Result<(), Duration> {
        check(&self.per_address, address)?;
        match email {
            Some(email) => check(&self.per_email, email),
            None => Ok(()),
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), Duration> {
    if limiter.len() > PRUNE_AT {
        limiter.retain_recent();
    }
    limiter
        .check_key(&key.to_owned())
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

/// The request budget of one credential (an API key, or a user across all their sign-ins) on
/// every authenticated endpoint. Generous: it stops a runaway script, not a busy integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once before the sustained rate applies.
    pub burst: NonZeroU32,
}

impl ApiRateLimit {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
        }
    }
}

impl Default for ApiRateLimit {
    /// 50 requests per second with bursts of 500.
    fn default() -> Self {
        Self::new(50, 500)
    }
}

/// The per-credential limiter of one API process.
pub struct CallerThrottle {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl CallerThrottle {
    pub fn new(limit: ApiRateLimit) -> Self {
        Self {
            limiter: RateLimiter::keyed(
                Quota::per_second(limit.per_second).allow_burst(limit.burst),
            ),
        }
    }

    /// Counts one request of `credential` (`api_key:{id}` or `user:{id}`). `Err` holds how long
    /// to wait before the next request can succeed.
    pub fn request(&self, credential: &str) -> Result<(), Duration> {
        check(&self.limiter, credential)
    }
}

/// A request refused for its credential's rate limit: the envelope middleware answers it as
/// `429 rate_limited` with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("too many requests with these credentials; try again in {} s", retry_after_secs(*.0))]
pub struct RateLimited(pub Duration);

/// Seconds for `Retry-After`: the wait rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// The client's address: the peer's, or — behind a proxy that sets it — the last entry of
/// `header` (e.g. `X-Forwarded-For`), which is the one that proxy added.
pub fn client_address(req: &Request, header: Option<&HeaderName>) -> String {
    let forwarded = header
        .and_then(|h| req.headers().get_all(h).iter().next_back())
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    match forwarded {
        Some(address) => address.to_owned(),
        None => req
            .remote_addr()
            .as_socket_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| req.remote_addr().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_attempts_wait() {
        let throttle = SignInThrottle::new(SignInLimits {
            per_address: Limit::new(3, Duration::from_secs(60)),
            per_email: Limit::new(2, Duration::from_secs(60)),
        });
        assert!(throttle.attempt("1.2.3.4", Some("a@example.com")).is_ok());
        assert!(throttle.attempt("1.2.3.4", Some("a@example.com")).is_ok());
        let wait = throttle
            .attempt("5.6.7.8", Some("a@example.com"))
            .unwrap_err();
        assert!(wait > Duration::from_secs(50), "{wait:?}");
        // Other emails from the first address: its third attempt passes, the fourth waits.
        assert!(throttle.attempt("1.2.3.4", Some("b@example.com")).is_ok());
        assert!(throttle.attempt("1.2.3.4", Some("c@example.com")).is_err());
        assert!(throttle.attempt("9.9.9.9", None).is_ok());
    }

    #[test]
    fn each_credential_has_its_own_budget() {
        let throttle = CallerThrottle::new(ApiRateLimit::new(1, 2));
        assert!(throttle.request("api_key:a").is_ok());
        assert!(throttle.request("api_key:a").is_ok());
        assert!(throttle.request("api_key:a").is_err());
        assert!(throttle.request("user:b").is_ok());
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
        assert_eq!(retry_after_secs(Duration::from_millis(3001)), 4);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
