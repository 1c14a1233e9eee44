//! Slack's rate limits: every Web API method has its own budget per workspace and app, set by
//! the method's tier (Tier 2: 20 a minute, Tier 3: 50, Tier 4: 100). `conversations.history`
//! and `conversations.replies` of apps distributed outside the Marketplace get 1 a minute.
//!
//! Slack counts per minute; tests cannot wait minutes, so the fake applies the same counts
//! per a window the test chooses ([`super::SlackFake::set_rate_window`]), and enforces none
//! until then.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::faults::{TokenBucket, whole_seconds_at_least_one};

/// Requests per window Slack documents for `method` (`None`: not rate limited here).
pub(crate) fn budget(method: &str, non_marketplace: bool) -> Option<u32> {
    match method {
        "conversations.history" | "conversations.replies" if non_marketplace => Some(1),
        "conversations.history" | "conversations.replies" | "files.list" => Some(50),
        "conversations.list" | "users.list" => Some(20),
        "auth.test" | "oauth.v2.access" => Some(100),
        _ => None,
    }
}

#[derive(Debug, Default)]
pub(crate) struct Limits {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    window: Option<Duration>,
    non_marketplace: bool,
    buckets: HashMap<String, TokenBucket>,
}

impl Limits {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enforces the tiers per `window` from now on (`None`: not at all); budgets start full.
    pub(crate) fn set_window(&self, window: Option<Duration>) {
        let mut state = self.lock();
        state.window = window.filter(|w| !w.is_zero());
        state.buckets.clear();
    }

    pub(crate) fn set_non_marketplace(&self, on: bool) {
        let mut state = self.lock();
        state.non_marketplace = on;
        state.buckets.clear();
    }

    pub(crate) fn non_marketplace(&self) -> bool {
        self.lock().non_marketplace
    }

    /// Counts one call of `method`; `Err(seconds)` to wait when its budget is spent.
    pub(crate) fn admit(&self, method: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut state = self.lock();
        let Some(window) = state.window else {
            return Ok(());
        };
        let Some(requests) = budget(method, state.non_marketplace) else {
            return Ok(());
        };
        state
            .buckets
            .entry(method.to_owned())
            .or_insert_with(|| TokenBucket::per(requests, window, now))
            .take(now)
            .map_err(whole_seconds_at_least_one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_has_its_own_tier_budget() {
        let limits = Limits::default();
        assert!((0..100).all(|_| limits.admit("users.list").is_ok()), "off");
        limits.set_window(Some(Duration::from_secs(60)));
        assert!((0..20).all(|_| limits.admit("users.list").is_ok()));
        assert!(limits.admit("users.list").is_err());
        assert!(
            (0..50).all(|_| limits.admit("conversations.history").is_ok()),
            "another method, another budget"
        );
        limits.set_non_marketplace(true);
        assert!(limits.admit("conversations.history").is_ok());
        assert!(matches!(limits.admit("conversations.history"), Err(s) if s >= 1));
    }
}
