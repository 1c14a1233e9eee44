//! Request budgets: how every request of a connector keeps to the platform's rate limit.
//!
//! An [`HttpClient`](crate::http::HttpClient) asks its [`BudgetStore`] for the [`Pacer`] of a
//! [`Budget`] and waits on it before each request. A budget is either the connection's own
//! (Stripe's requests per second, each Slack method's tier, HubSpot's search budget) or shared
//! by every connection to one platform account or app key (ActiveCampaign's account, Keap's
//! and Google Drive's client key).
//!
//! The default store, [`LocalBudgets`], paces within this process. A worker gives its
//! connectors a store that holds each budget for all worker processes together, in the
//! database (`activities::budgets`), so adding workers never adds requests per second.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex, OnceLock, PoisonError, Weak},
    time::Duration,
};

/// Whose requests a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The requests of one connection (its jobs and workers together).
    Connection,
    /// The requests of every connection to the same platform account or app key.
    Shared,
}

/// A named request budget.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Budget {
    pub scope: Scope,
    /// Tells a connection's budgets apart (`requests`, `search`), or names a shared budget
    /// across connections (`keap:{client_id}`).
    pub name: String,
}

impl Budget {
    /// The connection's budget `name`.
    pub fn connection(name: impl Into<String>) -> Self {
        Self {
            scope: Scope::Connection,
            name: name.into(),
        }
    }

    /// The budget `name` that every connection to one account or app key shares.
    pub fn shared(name: impl Into<String>) -> Self {
        Self {
            scope: Scope::Shared,
            name: name.into(),
        }
    }
}

/// The budget could not be consulted (its store is unreachable): the request was not sent
/// and may be tried again.
#[derive(Debug, thiserror::Error)]
#[error("rate budget `{budget}` unavailable: {message}")]
pub struct PaceError {
    pub budget: String,
    pub message: String,
}

/// Hands out the moments at which requests may be sent.
#[async_trait::async_trait]
pub trait Pacer: Send + Sync {
    /// Waits until the budget allows one more request.
    async fn until_ready(&self) -> Result<(), PaceError>;
}

/// Where the pacers of budgets come from.
pub trait BudgetStore: Send + Sync {
    /// The pacer of `budget`, spacing requests at least `period` apart. Callers asking for the
    /// same budget share its schedule.
    fn pacer(&self, budget: &Budget, period: Duration) -> Arc<dyn Pacer>;
}

/// Budgets held in this process: a connection's budget paces one connector (as built for one
/// activity or one API call), a shared budget every connector of the process that names it.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalBudgets;

impl BudgetStore for LocalBudgets {
    fn pacer(&self, budget: &Budget, period: Duration) -> Arc<dyn Pacer> {
        match budget.scope {
            Scope::Connection => Arc::new(LocalPacer::new(period)),
            Scope::Shared => shared_local_pacer(&budget.name, period),
        }
    }
}

fn shared_local_pacer(name: &str, period: Duration) -> Arc<dyn Pacer> {
    type Pacers = HashMap<(String, Duration), Weak<LocalPacer>>;
    static PACERS: OnceLock<Mutex<Pacers>> = OnceLock::new();
    let mut pacers = PACERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Budgets nobody holds any more are dropped, so the map stays as small as the set of
    // live connections.
    pacers.retain(|_, pacer| pacer.strong_count() > 0);
    let key = (name.to_owned(), period);
    if let Some(pacer) = pacers.get(&key).and_then(Weak::upgrade) {
        return pacer;
    }
    let pacer = Arc::new(LocalPacer::new(period));
    pacers.insert(key, Arc::downgrade(&pacer));
    pacer
}

/// A GCRA limiter with a burst of one: requests evenly spaced, never a spike.
struct LocalPacer(Option<DefaultDirectRateLimiter>);

impl LocalPacer {
    fn new(period: Duration) -> Self {
        Self(
            Quota::with_period(period).map(|q| RateLimiter::direct(q.allow_burst(NonZeroU32::MIN))),
        )
    }
}

#[async_trait::async_trait]
impl Pacer for LocalPacer {
    async fn until_ready(&self) -> Result<(), PaceError> {
        if let Some(limiter) = &self.0 {
            limiter.until_ready().await;
        }
        Ok(())
    }
}
