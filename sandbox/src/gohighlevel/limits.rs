//! GHL's request budget: 100 requests per 10 s ("burst") and 200,000 per day, per location,
//! reported on every answer in `X-RateLimit-*` headers.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use poem::Response;

pub(crate) const INTERVAL: Duration = Duration::from_secs(10);
pub(crate) const INTERVAL_MAX: u32 = 100;
pub(crate) const DAILY_MAX: u64 = 200_000;

/// What the budget said about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Budget {
    pub(crate) max: u32,
    pub(crate) remaining: u32,
    pub(crate) daily_remaining: u64,
    /// `Some` when the request is over the budget: how long until it is not.
    pub(crate) retry_after: Option<Duration>,
}

impl Budget {
    /// The budget exhausted, for injected 429s.
    pub(crate) fn exhausted() -> Self {
        Self {
            max: INTERVAL_MAX,
            remaining: 0,
            daily_remaining: DAILY_MAX,
            retry_after: Some(Duration::from_secs(1)),
        }
    }

    pub(crate) fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        let interval = INTERVAL.as_millis() as u64;
        headers.insert("x-ratelimit-max", self.max.into());
        headers.insert("x-ratelimit-remaining", self.remaining.into());
        headers.insert("x-ratelimit-interval-milliseconds", interval.into());
        headers.insert("x-ratelimit-limit-daily", DAILY_MAX.into());
        headers.insert("x-ratelimit-daily-remaining", self.daily_remaining.into());
        if let Some(wait) = self.retry_after
            && !headers.contains_key("retry-after")
        {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            headers.insert("retry-after", secs.into());
        }
    }
}

#[derive(Debug)]
pub(crate) struct Limiter {
    max: Mutex<Option<u32>>,
    windows: Mutex<HashMap<String, Window>>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self {
            max: Mutex::new(Some(INTERVAL_MAX)),
            windows: Mutex::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Window {
    recent: VecDeque<Instant>,
    today: u64,
}

impl Limiter {
    pub(crate) fn set_max(&self, max: Option<u32>) {
        *self.max.lock().unwrap_or_else(PoisonError::into_inner) = max;
    }

    /// Counts one request of `location` and reports the budget left.
    pub(crate) fn take(&self, location: &str) -> Budget {
        self.take_at(location, Instant::now())
    }

    fn take_at(&self, location: &str, now: Instant) -> Budget {
        let max = *self.max.lock().unwrap_or_else(PoisonError::into_inner);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = windows.entry(location.to_owned()).or_default();
        while window
            .recent
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= INTERVAL)
        {
            window.recent.pop_front();
        }
        let cap = max.unwrap_or(u32::MAX);
        let used = u32::try_from(window.recent.len()).unwrap_or(u32::MAX);
        let daily_remaining = DAILY_MAX.saturating_sub(window.today);
        let retry_after = if used >= cap {
            let oldest = window.recent.front().copied().unwrap_or(now);
            Some(INTERVAL.saturating_sub(now.saturating_duration_since(oldest)))
        } else if daily_remaining == 0 {
            Some(Duration::from_secs(3_600))
        } else {
            window.recent.push_back(now);
            window.today += 1;
            None
        };
        let used = u32::try_from(window.recent.len()).unwrap_or(u32::MAX);
        Budget {
            max: max.unwrap_or(INTERVAL_MAX),
            remaining: max.map_or(INTERVAL_MAX, |cap| cap.saturating_sub(used)),
            daily_remaining: DAILY_MAX.saturating_sub(window.today),
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_burst_budget_is_per_location_and_refills_after_the_interval() {
        let limiter = Limiter::default();
        limiter.set_max(Some(3));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.take_at("a", start).retry_after, None);
        }
        let refused = limiter.take_at("a", start);
        assert_eq!(refused.retry_after, Some(INTERVAL));
        assert_eq!(refused.remaining, 0);
        assert_eq!(limiter.take_at("b", start).retry_after, None, "own budget");
        assert_eq!(limiter.take_at("a", start + INTERVAL).retry_after, None);
    }
}
