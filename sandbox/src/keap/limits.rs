//! Keap's per-client-key limits: the spike arrest (a token bucket, 25/s) and the daily quota.
//!
//! Both answer 429 with `Retry-After`; the quota's wait runs to the next UTC midnight, far
//! longer than a client should wait in-process. Tests may shorten the quota's window (it then
//! starts when it is set) to see a quota reset within seconds.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why a request was throttled, and for how long (whole seconds, at least 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Throttle {
    SpikeArrest { per_sec: u32, retry_after_secs: u64 },
    Quota { limit: u64, retry_after_secs: u64 },
}

#[derive(Debug)]
pub(crate) struct Limits {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    spike: Option<Bucket>,
    quota: u64,
    used_today: u64,
    /// The current quota window (days since the epoch, or windows since `window_start`).
    day: i64,
    /// The quota's window in seconds: a day unless a test shortened it.
    window_secs: i64,
    /// Where windows are counted from: the epoch (UTC midnights), or when the window was set.
    window_start: i64,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

const DAY: i64 = 86_400;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Limits {
    pub(crate) fn new(spike: Option<u32>, quota: u64) -> Self {
        Self {
            state: Mutex::new(State {
                spike: spike.filter(|r| *r > 0).map(Bucket::full),
                quota,
                used_today: 0,
                day: unix_now().div_euclid(DAY),
                window_secs: DAY,
                window_start: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_spike(&self, per_sec: Option<u32>) {
        self.lock().spike = per_sec.filter(|r| *r > 0).map(Bucket::full);
    }

    /// Makes the quota reset every `secs` seconds from now on (and restarts the count).
    pub(crate) fn set_quota_window(&self, secs: u64) {
        let mut state = self.lock();
        state.window_secs = i64::try_from(secs.max(1)).unwrap_or(DAY);
        state.window_start = unix_now();
        state.day = 0;
        state.used_today = 0;
    }

    pub(crate) fn set_daily_quota(&self, quota: u64) {
        let mut state = self.lock();
        state.quota = quota;
        state.used_today = 0;
    }

    /// Counts one request; `Err` when it must be refused.
    pub(crate) fn admit(&self) -> Result<(), Throttle> {
        let now = unix_now();
        let mut state = self.lock();
        if let Some(bucket) = &mut state.spike
            && let Err(wait) = bucket.take(Instant::now())
        {
            return Err(Throttle::SpikeArrest {
                per_sec: bucket.rate as u32,
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            });
        }
        let window = state.window_secs;
        let today = (now - state.window_start).div_euclid(window);
        if today != state.day {
            state.day = today;
            state.used_today = 0;
        }
        if state.used_today >= state.quota {
            let resets_at = state.window_start + (today + 1) * window;
            return Err(Throttle::Quota {
                limit: state.quota,
                retry_after_secs: (resets_at - now).max(1) as u64,
            });
        }
        state.used_today += 1;
        Ok(())
    }

    /// Requests left today, for Keap's `x-keap-product-quota-available` header.
    pub(crate) fn quota_available(&self) -> u64 {
        let state = self.lock();
        state.quota.saturating_sub(state.used_today)
    }
}

impl Bucket {
    fn full(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            tokens: f64::from(rate),
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
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

    #[test]
    fn a_burst_over_the_spike_limit_is_arrested() {
        let limits = Limits::new(Some(5), 1_000);
        let answers: Vec<_> = (0..8).map(|_| limits.admit()).collect();
        assert!(answers[..5].iter().all(Result::is_ok));
        assert!(matches!(
            answers[5],
            Err(Throttle::SpikeArrest {
                per_sec: 5,
                retry_after_secs: 1
            })
        ));
    }

    #[test]
    fn the_daily_quota_runs_out_until_midnight() {
        let limits = Limits::new(None, 2);
        assert!(limits.admit().is_ok() && limits.admit().is_ok());
        assert_eq!(limits.quota_available(), 0);
        match limits.admit() {
            Err(Throttle::Quota {
                limit: 2,
                retry_after_secs,
            }) => {
                assert!((1..=86_400).contains(&retry_after_secs))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_shortened_quota_window_resets_within_it() {
        let limits = Limits::new(None, 1);
        limits.set_quota_window(30);
        assert!(limits.admit().is_ok());
        match limits.admit() {
            Err(Throttle::Quota {
                retry_after_secs, ..
            }) => assert!((1..=30).contains(&retry_after_secs), "{retry_after_secs}"),
            other => panic!("{other:?}"),
        }
    }
}
