//! Request counters, so tests and benchmarks can check how a client behaved
//! (how often it was throttled, whether it retried) without scraping logs.

use std::sync::atomic::{AtomicU64, Ordering};

use poem::http::StatusCode;
use serde::{Deserialize, Serialize};

/// A snapshot of the counters of platform requests (control endpoints are not counted).
///
/// `requests` is the sum of the other fields: every answer falls in exactly one class.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Every platform request the sandbox answered.
    pub requests: u64,
    /// Answers with a 2xx status.
    pub ok: u64,
    /// 429 answers, whether from `rate_limit_every` or the token bucket.
    pub rate_limited: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// 401 answers (missing or wrong API key).
    pub unauthorized: u64,
    /// Any other 4xx: bad parameters, unknown ids, unknown paths.
    pub bad_requests: u64,
    /// Answers cut off mid-body by `reset_every`, whatever their status.
    pub resets: u64,
}

/// Lock-free counters behind [`Stats`]; requests on many connections update them at once.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    requests: AtomicU64,
    ok: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    unauthorized: AtomicU64,
    bad_requests: AtomicU64,
    resets: AtomicU64,
    /// Platform requests received and not answered yet (not part of [`Stats`]: a gauge).
    in_flight: AtomicU64,
}

/// One platform request being answered; counted in flight until dropped.
pub(crate) struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl StatsCounters {
    /// Counts a platform request in flight until the returned guard is dropped.
    pub(crate) fn begin(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts one answered platform request by its final status.
    pub(crate) fn record(&self, status: StatusCode) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let class = if status.is_success() {
            &self.ok
        } else if status == StatusCode::TOO_MANY_REQUESTS {
            &self.rate_limited
        } else if status == StatusCode::UNAUTHORIZED {
            &self.unauthorized
        } else if status.is_server_error() {
            &self.server_errors
        } else {
            // Redirects never happen here, so everything left is a client error.
            &self.bad_requests
        };
        class.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answer cut off mid-body.
    pub(crate) fn record_reset(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.resets.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
            bad_requests: self.bad_requests.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn reset(&self) {
        for counter in [
            &self.requests,
            &self.ok,
            &self.rate_limited,
            &self.server_errors,
            &self.unauthorized,
            &self.bad_requests,
            &self.resets,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_lands_in_one_class() {
        let counters = StatsCounters::default();
        for status in [200, 201, 400, 401, 404, 405, 429, 500, 503] {
            counters.record(StatusCode::from_u16(status).unwrap());
        }
        let stats = counters.snapshot();
        assert_eq!(
            stats,
            Stats {
                requests: 9,
                ok: 2,
                rate_limited: 1,
                server_errors: 2,
                unauthorized: 1,
                bad_requests: 3,
                resets: 0,
            }
        );
        counters.reset();
        assert_eq!(counters.snapshot(), Stats::default());
    }
}
