//! Request budgets shared by every worker: a reservation schedule (GCRA) per budget.
//!
//! A budget's row holds the moment its next slot opens. Reserving `count` slots moves it to
//! `max(next_at, now) + count * period` in one statement and hands back the slots just before
//! it, so concurrent reservers — tasks, pools, processes — always get disjoint slots spaced
//! `period` apart: together they never exceed the budget's rate. On Postgres the clock is the
//! database's (`clock_timestamp()`, read after the row lock), so hosts with skewed clocks still
//! share one schedule; on SQLite, whose workers share one host, it is the host's, and the
//! upsert is one transaction.

use crate::model::rate_budget;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityName, IdenStatic, Statement};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Slots reserved in a budget's schedule: `count` slots, `period` apart, from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReservedSlots {
    /// The first slot, in microseconds since the Unix epoch on the schedule's clock.
    pub first: i64,
    /// The schedule's clock when the slots were reserved, in the same unit: `first - now` is
    /// how long to wait for the first slot.
    pub now: i64,
}

const PG_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

/// Reserves `count` consecutive slots `period` apart in the schedule of budget `key`.
pub async fn reserve_rate_slots<C: ConnectionTrait>(
    db: &C,
    key: &str,
    count: u32,
    period: Duration,
) -> Result<ReservedSlots, DbErr> {
    let period = i64::try_from(period.as_micros()).unwrap_or(i64::MAX);
    let span = period.saturating_mul(i64::from(count.max(1)));
    let table = rate_budget::Entity.table_name();
    let (key_col, next_col) = (
        rate_budget::Column::Key.as_str(),
        rate_budget::Column::NextAt.as_str(),
    );
    let backend = db.get_database_backend();
    let (sql, values): (String, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => (
            format!(
                "INSERT INTO {table} ({key_col}, {next_col}) VALUES ($1, {PG_NOW} + $2) \
                 ON CONFLICT ({key_col}) DO UPDATE \
                 SET {next_col} = GREATEST({table}.{next_col}, {PG_NOW}) + $2 \
                 RETURNING {next_col}, {PG_NOW} AS now"
            ),
            vec![key.into(), span.into()],
        ),
        _ => {
            let now = host_now();
            (
                format!(
                    "INSERT INTO {table} ({key_col}, {next_col}) VALUES (?, ?) \
                     ON CONFLICT ({key_col}) DO UPDATE \
                     SET {next_col} = MAX({table}.{next_col}, ?) + ? \
                     RETURNING {next_col}, ? AS now"
                ),
                vec![
                    key.into(),
                    now.saturating_add(span).into(),
                    now.into(),
                    span.into(),
                    now.into(),
                ],
            )
        }
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("rate budget {key}")))?;
    let next_at: i64 = row.try_get("", next_col)?;
    let now: i64 = row.try_get("", "now")?;
    Ok(ReservedSlots {
        first: next_at.saturating_sub(span),
        now,
    })
}

/// The host's clock in microseconds since the Unix epoch.
fn host_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}
