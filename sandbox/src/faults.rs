//! Fault injection: throttling, server errors, cut connections and slow answers on demand.
//!
//! Faults are counted, not random ("every Nth request"), so a test that sets a
//! plan sees the same failures on every run. The counter restarts whenever a
//! plan is set, which lets a test predict exactly which request fails. Each
//! platform fake renders a [`Fault`] in its own error shape; this module only
//! decides *whether* a request fails.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The faults the sandbox injects into platform requests (control endpoints are never faulted).
///
/// An `every` of `Some(0)` or a `max_requests_per_sec` of `Some(0)` means "off", like `None`.
/// When a request is due several faults, the first in this order wins: 429 with `Retry-After`,
/// 429 without, the token bucket's 429, a server error, a reset. Slow answers combine with any.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultPlan {
    /// Every Nth platform request answers 429 with `Retry-After: retry_after_secs`.
    pub rate_limit_every: Option<u32>,
    /// The `Retry-After` seconds sent with `rate_limit_every` throttling.
    pub retry_after_secs: u64,
    /// Every Nth platform request answers 429 without `Retry-After`, leaving the wait to the client.
    pub bare_rate_limit_every: Option<u32>,
    /// Every Nth platform request answers a server error.
    pub server_error_every: Option<u32>,
    /// The statuses injected server errors cycle through, in order (default `[500]`; anything
    /// outside 500–599 is sent as 500).
    pub server_error_statuses: Vec<u16>,
    /// Every Nth platform request gets the real status and headers and half the body, then the
    /// connection is closed.
    pub reset_every: Option<u32>,
    /// How many consecutive requests each `*_every` fault above hits: the last `burst` of every
    /// N requests (default 1; a burst as long as N faults every request).
    pub burst: u32,
    /// Latency added to every platform request, faulted or not.
    pub delay_ms: u64,
    /// Every Nth platform request is held `slow_ms` longer (on top of `delay_ms`), e.g. past
    /// a client's timeout.
    pub slow_every: Option<u32>,
    pub slow_ms: u64,
    /// A token bucket of this many requests per second (burst of one second's worth);
    /// requests over it answer 429 with the whole seconds until the next token.
    pub max_requests_per_sec: Option<u32>,
    /// Platform answers with a JSON body are written pretty-printed (indented, a line per
    /// member), as some APIs answer: the same JSON, so a client must not rely on one line per
    /// record.
    pub pretty_json: bool,
}

// Hand-written rather than derived: a 429 that says "retry after 0 seconds"
// invites a tight retry loop, which is not what a plan asking only for
// `rate_limit_every` means.
impl Default for FaultPlan {
    fn default() -> Self {
        Self {
            rate_limit_every: None,
            retry_after_secs: 1,
            bare_rate_limit_every: None,
            server_error_every: None,
            server_error_statuses: vec![500],
            reset_every: None,
            burst: 1,
            delay_ms: 0,
            slow_every: None,
            slow_ms: 0,
            max_requests_per_sec: None,
            pretty_json: false,
        }
    }
}

/// A failure to inject instead of the real answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// 429; `Retry-After` is sent when `retry_after_secs` is `Some`.
    RateLimited { retry_after_secs: Option<u64> },
    /// A 5xx of this status.
    ServerError { status: u16 },
}

impl Fault {
    /// The HTTP status of an injected server error (always 5xx, see [`FaultPlan`]).
    pub(crate) fn status_code(status: u16) -> poem::http::StatusCode {
        poem::http::StatusCode::from_u16(status)
            .unwrap_or(poem::http::StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// What to do with one platform request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) fault: Option<Fault>,
    /// Send the real answer cut off mid-body (never together with a `fault`).
    pub(crate) reset: bool,
    pub(crate) delay: Duration,
}

/// The current plan plus the state it needs (request counter, token bucket).
#[derive(Debug)]
pub(crate) struct FaultGate {
    state: Mutex<GateState>,
}

#[derive(Debug)]
struct GateState {
    plan: FaultPlan,
    /// Platform requests seen since the plan was set.
    seen: u64,
    /// Server errors injected since the plan was set (picks the next status of the cycle).
    server_errors: usize,
    bucket: Option<TokenBucket>,
}

impl GateState {
    fn new(plan: FaultPlan, now: Instant) -> Self {
        let bucket = plan
            .max_requests_per_sec
            .filter(|&rate| rate > 0)
            .map(|rate| TokenBucket::full(rate, now));
        Self {
            plan,
            seen: 0,
            server_errors: 0,
            bucket,
        }
    }
}

impl Default for FaultGate {
    fn default() -> Self {
        Self {
            state: Mutex::new(GateState::new(FaultPlan::default(), Instant::now())),
        }
    }
}

impl FaultGate {
    /// Replaces the plan; the next platform request is request 1 of the new plan.
    pub(crate) fn set(&self, plan: FaultPlan) {
        *self.lock() = GateState::new(plan, Instant::now());
    }

    pub(crate) fn plan(&self) -> FaultPlan {
        self.lock().plan.clone()
    }

    /// Counts one platform request and decides its fate.
    pub(crate) fn next_request(&self) -> Decision {
        self.decide_at(Instant::now())
    }

    fn decide_at(&self, now: Instant) -> Decision {
        let mut state = self.lock();
        state.seen += 1;
        let n = state.seen;
        let plan = &state.plan;
        let due = |every| is_due(every, plan.burst, n);
        let mut delay = Duration::from_millis(plan.delay_ms);
        if due(plan.slow_every) {
            delay += Duration::from_millis(plan.slow_ms);
        }
        let server_error = due(plan.server_error_every);
        let reset = due(plan.reset_every);
        let fault = if due(plan.rate_limit_every) {
            Some(Fault::RateLimited {
                retry_after_secs: Some(plan.retry_after_secs),
            })
        } else if due(plan.bare_rate_limit_every) {
            Some(Fault::RateLimited {
                retry_after_secs: None,
            })
        } else if let Some(wait) = state.bucket.as_mut().and_then(|b| b.take(now).err()) {
            Some(Fault::RateLimited {
                retry_after_secs: Some(whole_seconds_at_least_one(wait)),
            })
        } else if server_error {
            let statuses = &state.plan.server_error_statuses;
            let status = statuses
                .get(state.server_errors % statuses.len().max(1))
                .copied()
                .filter(|s| (500..600).contains(s))
                .unwrap_or(500);
            state.server_errors += 1;
            Some(Fault::ServerError { status })
        } else {
            None
        };
        Decision {
            reset: reset && fault.is_none(),
            fault,
            delay,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state stays consistent even if a holder panicked: every update is a
        // single assignment, so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether request `n` (from 1) is one of the last `burst` of its window of `every` requests.
fn is_due(every: Option<u32>, burst: u32, n: u64) -> bool {
    let Some(every) = every.filter(|&e| e > 0).map(u64::from) else {
        return false;
    };
    (n - 1) % every >= every.saturating_sub(u64::from(burst.max(1)))
}

/// `Retry-After` carries whole seconds; rounding down to 0 would invite an immediate retry.
pub(crate) fn whole_seconds_at_least_one(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// A classic token bucket: `capacity` tokens, refilled continuously at `rate` tokens per second.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` requests per second, with a burst of one second's worth.
    pub(crate) fn full(rate: u32, now: Instant) -> Self {
        Self::per(rate, Duration::from_secs(1), now)
    }

    /// `requests` per `window`, with a burst of one window's worth (a platform's "N per minute").
    pub(crate) fn per(requests: u32, window: Duration, now: Instant) -> Self {
        let capacity = f64::from(requests.max(1));
        Self {
            rate: capacity / window.as_secs_f64().max(f64::EPSILON),
            capacity,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token, or returns how long until one is available.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(plan: FaultPlan) -> FaultGate {
        let gate = FaultGate::default();
        gate.set(plan);
        gate
    }

    fn faults(gate: &FaultGate, n: usize, now: Instant) -> Vec<Option<Fault>> {
        (0..n).map(|_| gate.decide_at(now).fault).collect()
    }

    #[test]
    fn default_plan_injects_nothing() {
        let gate = FaultGate::default();
        let now = Instant::now();
        assert!(faults(&gate, 100, now).iter().all(Option::is_none));
        assert_eq!(gate.plan().retry_after_secs, 1);
    }

    #[test]
    fn every_nth_is_counted_from_when_the_plan_was_set() {
        let gate = gate(FaultPlan {
            rate_limit_every: Some(3),
            retry_after_secs: 7,
            ..FaultPlan::default()
        });
        let now = Instant::now();
        let limited = Some(Fault::RateLimited {
            retry_after_secs: Some(7),
        });
        assert_eq!(
            faults(&gate, 6, now),
            vec![None, None, limited, None, None, limited]
        );
        gate.set(gate.plan());
        assert_eq!(faults(&gate, 3, now), vec![None, None, limited]);
    }

    #[test]
    fn rate_limit_wins_over_server_error() {
        let gate = gate(FaultPlan {
            rate_limit_every: Some(2),
            server_error_every: Some(3),
            ..FaultPlan::default()
        });
        let got = faults(&gate, 6, Instant::now());
        let limited = Some(Fault::RateLimited {
            retry_after_secs: Some(1),
        });
        let error = Some(Fault::ServerError { status: 500 });
        assert_eq!(got, vec![None, limited, error, limited, None, limited]);
    }

    #[test]
    fn zero_means_off() {
        let gate = gate(FaultPlan {
            rate_limit_every: Some(0),
            server_error_every: Some(0),
            max_requests_per_sec: Some(0),
            ..FaultPlan::default()
        });
        assert!(
            faults(&gate, 10, Instant::now())
                .iter()
                .all(Option::is_none)
        );
    }

    #[test]
    fn token_bucket_allows_a_burst_then_refills() {
        let gate = gate(FaultPlan {
            max_requests_per_sec: Some(4),
            ..FaultPlan::default()
        });
        let start = Instant::now();
        let got = faults(&gate, 5, start);
        assert!(got[..4].iter().all(Option::is_none));
        assert_eq!(
            got[4],
            Some(Fault::RateLimited {
                retry_after_secs: Some(1)
            })
        );
        // A quarter second later one token is back, and only one.
        let later = start + Duration::from_millis(260);
        assert_eq!(faults(&gate, 2, later)[0], None);
        assert!(gate.decide_at(later).fault.is_some());
    }

    #[test]
    fn delay_applies_to_every_request() {
        let gate = gate(FaultPlan {
            delay_ms: 25,
            rate_limit_every: Some(1),
            ..FaultPlan::default()
        });
        let decision = gate.decide_at(Instant::now());
        assert_eq!(decision.delay, Duration::from_millis(25));
        assert!(decision.fault.is_some());
    }

    #[test]
    fn bursts_bare_429s_status_cycle_resets_and_slow_answers() {
        let gate = gate(FaultPlan {
            bare_rate_limit_every: Some(5),
            server_error_every: Some(4),
            server_error_statuses: vec![502, 503, 200],
            reset_every: Some(3),
            burst: 2,
            slow_every: Some(6),
            slow_ms: 40,
            ..FaultPlan::default()
        });
        let now = Instant::now();
        let decisions: Vec<Decision> = (0..10).map(|_| gate.decide_at(now)).collect();
        let bare = Some(Fault::RateLimited {
            retry_after_secs: None,
        });
        let error = |status| Some(Fault::ServerError { status });
        // Request n is due a fault of period N when (n-1) % N >= N - 2.
        assert_eq!(
            decisions.iter().map(|d| d.fault).collect::<Vec<_>>(),
            vec![
                None,
                None,
                error(502),
                bare,
                bare,
                None,
                error(503),
                error(500), // 200 is not a server error: sent as 500
                bare,
                bare,
            ]
        );
        let resets: Vec<bool> = decisions.iter().map(|d| d.reset).collect();
        assert_eq!(
            resets,
            vec![
                false, true, false, false, false, true, false, false, false, false
            ]
        );
        let slow: Vec<bool> = decisions.iter().map(|d| !d.delay.is_zero()).collect();
        assert_eq!(
            slow,
            vec![
                false, false, false, false, true, true, false, false, false, false
            ]
        );
        assert_eq!(decisions[4].delay, Duration::from_millis(40));
    }

    #[test]
    fn plan_json_fills_defaults_and_rejects_typos() {
        let plan: FaultPlan = serde_json::from_str(r#"{"rate_limit_every":3}"#).unwrap();
        assert_eq!(plan.rate_limit_every, Some(3));
        assert_eq!(plan.retry_after_secs, 1);
        assert!(serde_json::from_str::<FaultPlan>(r#"{"rate_limit_evry":3}"#).is_err());
    }
}
