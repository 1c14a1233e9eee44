//! Request budgets held in the database, so that all worker processes together keep to each
//! platform's rate limit.
//!
//! Every budget has one schedule row (`repo::reserve_rate_slots`); a request reserves its slot
//! there and sleeps until it opens. Within a process, one [`DbPacer`] per budget serves every
//! connector that spends it, so concurrent jobs of a connection share each round trip: a
//! reservation takes as many slots as callers are waiting, at most [`BATCH_SPAN`] worth. A slot
//! nobody uses in time is given up — lost throughput, never an excess.

use connectors::budget::{Budget, BudgetStore, PaceError, Pacer, Scope};
use sea_orm::{DatabaseConnection, DbErr};
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};
use tokio::time::Instant;

/// How far ahead one reservation reaches at most: long enough that a busy budget costs a
/// handful of round trips a second, short enough that slots given up are few.
pub const BATCH_SPAN: Duration = Duration::from_millis(200);

/// The pacers of one worker process, one per budget in use.
pub struct RateBudgets {
    db: DatabaseConnection,
    pacers: Mutex<HashMap<(String, Duration), Weak<DbPacer>>>,
}

impl RateBudgets {
    pub fn new(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            db,
            pacers: Mutex::default(),
        })
    }

    /// The budget store for the connectors of connection `connection_id`: its own budgets are
    /// keyed by the connection, shared ones (an account's, an app key's) by their name alone.
    pub fn for_connection(self: &Arc<Self>, connection_id: &str) -> Arc<dyn BudgetStore> {
        Arc::new(ConnectionBudgets {
            budgets: Arc::clone(self),
            connection_id: connection_id.to_owned(),
        })
    }

    /// The process's pacer of the schedule `key`, at `period`.
    pub fn pacer(&self, key: String, period: Duration) -> Arc<DbPacer> {
        let mut pacers = self.pacers.lock().unwrap_or_else(PoisonError::into_inner);
        // Budgets nobody holds any more are dropped (their slots are in the database).
        pacers.retain(|_, pacer| pacer.strong_count() > 0);
        let id = (key, period);
        if let Some(pacer) = pacers.get(&id).and_then(Weak::upgrade) {
            return pacer;
        }
        let pacer = Arc::new(DbPacer::new(self.db.clone(), id.0.clone(), period));
        pacers.insert(id, Arc::downgrade(&pacer));
        pacer
    }
}

struct ConnectionBudgets {
    budgets: Arc<RateBudgets>,
    connection_id: String,
}

impl BudgetStore for ConnectionBudgets {
    fn pacer(&self, budget: &Budget, period: Duration) -> Arc<dyn Pacer> {
        let key = match budget.scope {
            Scope::Connection => format!("connection:{}:{}", self.connection_id, budget.name),
            Scope::Shared => format!("shared:{}", budget.name),
        };
        self.budgets.pacer(key, period)
    }
}

/// One budget's pacer in this process: the slots it reserved and not yet handed out.
pub struct DbPacer {
    db: DatabaseConnection,
    key: String,
    period: Duration,
    max_batch: u32,
    slots: tokio::sync::Mutex<Slots>,
    /// Callers inside [`DbPacer::take`]: how many slots the next reservation asks for.
    waiting: AtomicU32,
}

/// `left` reserved slots, `period` apart, from `next` (local time) / `next_scheduled` (the
/// schedule's clock, in microseconds).
#[derive(Debug, Clone, Copy)]
struct Slots {
    next: Instant,
    next_scheduled: i64,
    left: u32,
}

/// A slot handed to one request.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// When the request may be sent, on this host.
    pub at: Instant,
    /// The slot on the schedule's clock, in microseconds since the Unix epoch.
    pub scheduled: i64,
}

impl DbPacer {
    fn new(db: DatabaseConnection, key: String, period: Duration) -> Self {
        let max_batch = BATCH_SPAN
            .as_nanos()
            .checked_div(period.as_nanos())
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX).max(1));
        Self {
            db,
            key,
            period,
            max_batch,
            slots: tokio::sync::Mutex::new(Slots {
                next: Instant::now(),
                next_scheduled: 0,
                left: 0,
            }),
            waiting: AtomicU32::new(0),
        }
    }

    /// Takes the next slot of the budget, reserving more in the database when none is left.
    pub async fn take(&self) -> Result<Slot, DbErr> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _taken = Leaving(&self.waiting);
        let period_us = i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX);
        let mut slots = self.slots.lock().await;
        // A slot whose moment passed more than half a period ago is given up: sent now, it
        // would land closer than a period to the next one.
        let stale = Instant::now().checked_sub(self.period / 2);
        while slots.left > 0 && stale.is_some_and(|stale| slots.next < stale) {
            slots.advance(self.period, period_us);
        }
        if slots.left == 0 {
            let count = self.waiting.load(Ordering::SeqCst).clamp(1, self.max_batch);
            let reserved =
                entities::repo::reserve_rate_slots(&self.db, &self.key, count, self.period).await?;
            let wait = u64::try_from(reserved.first.saturating_sub(reserved.now)).unwrap_or(0);
            *slots = Slots {
                next: Instant::now() + Duration::from_micros(wait),
                next_scheduled: reserved.first,
                left: count,
            };
        }
        let slot = Slot {
            at: slots.next,
            scheduled: slots.next_scheduled,
        };
        slots.advance(self.period, period_us);
        Ok(slot)
    }
}

impl Slots {
    fn advance(&mut self, period: Duration, period_us: i64) {
        self.next += period;
        self.next_scheduled = self.next_scheduled.saturating_add(period_us);
        self.left -= 1;
    }
}

/// Counts a caller out of [`DbPacer::take`], however it leaves.
struct Leaving<'a>(&'a AtomicU32);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl Pacer for DbPacer {
    async fn until_ready(&self) -> Result<(), PaceError> {
        let slot = self.take().await.map_err(|e| PaceError {
            budget: self.key.clone(),
            message: e.to_string(),
        })?;
        tokio::time::sleep_until(slot.at).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use connectors::http::RateLimit;

    /// Asserts that `slots` (microseconds) keep to `limit`: at least a period apart, and no
    /// window of `limit.per` holds more than `limit.requests`.
    fn assert_within(mut slots: Vec<i64>, limit: RateLimit) {
        slots.sort_unstable();
        let period = limit.period().unwrap().as_micros() as i64;
        let per = limit.per.as_micros() as i64;
        for pair in slots.windows(2) {
            assert!(
                pair[1] - pair[0] >= period,
                "slots {} and {} are closer than {period} µs",
                pair[0],
                pair[1]
            );
        }
        let mut end = 0;
        for (start, first) in slots.iter().enumerate() {
            while end < slots.len() && slots[end] < first + per {
                end += 1;
            }
            assert!(
                end - start <= limit.requests as usize,
                "{} slots in the window from {first}",
                end - start
            );
        }
    }

    /// Runs `check` against a fresh Postgres database and a fresh SQLite file; `check` gets the
    /// URL and opens its own pools, as separate workers would.
    async fn on_both_databases<F, Fut>(check: F)
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = ()>,
    {
        let (name, url) = entities::testing::create_database("lbbudget")
            .await
            .expect("Postgres test database");
        let db = entities::connect_and_migrate(&url).await.unwrap();
        check(url).await;
        entities::testing::drop_database(db, &name).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
        let db = entities::connect_and_migrate(&url).await.unwrap();
        check(url).await;
        db.close().await.unwrap();
    }

    async fn pools(url: &str) -> [DatabaseConnection; 2] {
        [
            entities::connect(url).await.unwrap(),
            entities::connect(url).await.unwrap(),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_reservations_from_two_pools_never_exceed_the_rate() {
        on_both_databases(|url| async move {
            let limit = RateLimit::per_second(1000);
            let period = limit.period().unwrap();
            let mut tasks = Vec::new();
            for db in pools(&url).await {
                for task in 0..6u32 {
                    let db = db.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut slots = Vec::new();
                        for n in 0..15u32 {
                            let count = (task + n) % 4 + 1;
                            let reserved =
                                entities::repo::reserve_rate_slots(&db, "k", count, period)
                                    .await
                                    .unwrap();
                            let period = period.as_micros() as i64;
                            slots
                                .extend((0..i64::from(count)).map(|i| reserved.first + i * period));
                        }
                        slots
                    }));
                }
            }
            let mut slots = Vec::new();
            for task in tasks {
                slots.extend(task.await.unwrap());
            }
            let per_pool: u32 = (0..6u32)
                .flat_map(|task| (0..15u32).map(move |n| (task + n) % 4 + 1))
                .sum();
            assert_eq!(
                slots.len(),
                2 * per_pool as usize,
                "disjoint slots, none lost"
            );
            assert_within(slots, limit);
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn pacers_of_two_workers_share_a_connections_budget() {
        on_both_databases(|url| async move {
            let limit = RateLimit::per_second(100);
            let period = limit.period().unwrap();
            let mut tasks = Vec::new();
            for db in pools(&url).await {
                // Each "worker" has its own registry, as each process does.
                let budgets = RateBudgets::new(db);
                for _ in 0..5 {
                    let pacer = budgets.pacer("connection:c1:requests".into(), period);
                    tasks.push(tokio::spawn(async move {
                        let mut used = Vec::new();
                        for _ in 0..12 {
                            let slot = pacer.take().await.unwrap();
                            tokio::time::sleep_until(slot.at).await;
                            used.push(slot.scheduled);
                        }
                        used
                    }));
                }
            }
            let mut used = Vec::new();
            for task in tasks {
                used.extend(task.await.unwrap());
            }
            assert_eq!(used.len(), 2 * 5 * 12, "every request got a slot");
            assert_within(used, limit);
        })
        .await;
    }

    #[tokio::test]
    async fn connections_pace_apart_and_shared_budgets_together() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
        let budgets = RateBudgets::new(entities::connect_and_migrate(&url).await.unwrap());
        let (a, b) = (budgets.for_connection("a"), budgets.for_connection("b"));
        let period = Duration::from_millis(10);
        let same = |x: &Arc<dyn Pacer>, y: &Arc<dyn Pacer>| {
            std::ptr::addr_eq(Arc::as_ptr(x), Arc::as_ptr(y))
        };
        let own = Budget::connection("requests");
        let shared = Budget::shared("keap:client");
        assert!(same(&a.pacer(&own, period), &a.pacer(&own, period)));
        assert!(!same(&a.pacer(&own, period), &b.pacer(&own, period)));
        assert!(!same(
            &a.pacer(&own, period),
            &a.pacer(&Budget::connection("search"), period)
        ));
        assert!(same(&a.pacer(&shared, period), &b.pacer(&shared, period)));
    }
}
