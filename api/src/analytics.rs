//! Analytics and reports: what an account (and, rolled up, its sub-accounts) stores, how its
//! backups go, and which sources have gone without a successful backup.
//!
//! - `GET /v1/accounts/{id}/analytics`: storage per source and per platform, job counts, success
//!   rate and mean duration over a window, the last successful backup of every source, and the
//!   sources with none in `stale_days`;
//! - `GET /v1/sources/{id}/analytics/streams`: records per stream in each snapshot over time;
//! - `GET /v1/accounts/{id}/reports/backups.csv`: the per-source figures as CSV.
//!
//! Everything is aggregated in the database (one grouped query per figure), so an account with a
//! million jobs costs a handful of index scans, not a million rows.

use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    state::AppState,
};
use chrono::{DateTime, Duration, Utc};
use entities::{JobStatus, Role, SnapshotStatus, job, repo, snapshot, snapshot_part, source};
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::{Json, Payload},
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Alias, Expr, Func, SimpleExpr},
};
use std::collections::{BTreeMap, HashMap};

/// The longest window, in days.
const MAX_DAYS: u32 = 366;
/// Snapshots shown per source in the records-over-time view.
const MAX_SNAPSHOTS: u64 = 500;

/// One source's figures.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct SourceAnalytics {
    pub source_id: String,
    pub account_id: String,
    pub name: String,
    pub platform: String,
    /// Complete snapshots kept.
    pub snapshots: u64,
    /// Compressed, encrypted bytes of those snapshots' parts in the bucket (files stored once
    /// per account are not counted per source).
    pub stored_bytes: u64,
    /// Their uncompressed JSON bytes.
    pub raw_bytes: u64,
    /// Jobs that ended in the window, by outcome.
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    pub jobs_cancelled: u64,
    /// Succeeded / ended in the window; absent with none.
    pub success_rate: Option<f64>,
    /// Mean run time (start to end) of the jobs that ended in the window, seconds.
    pub mean_duration_secs: Option<f64>,
    /// When its last successful backup or sync ended (ever).
    pub last_success_at: Option<DateTime<Utc>>,
    /// True when it has had no successful backup in `stale_days`.
    pub stale: bool,
}

/// A platform's share.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct PlatformAnalytics {
    pub platform: String,
    pub sources: u64,
    pub snapshots: u64,
    pub stored_bytes: u64,
    pub raw_bytes: u64,
}

/// Totals over the sources.
#[derive(Object, Debug, Clone, PartialEq, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct AnalyticsTotals {
    pub sources: u64,
    pub snapshots: u64,
    pub stored_bytes: u64,
    pub raw_bytes: u64,
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    pub jobs_cancelled: u64,
    pub success_rate: Option<f64>,
    pub mean_duration_secs: Option<f64>,
    /// Sources with no successful backup in `stale_days`.
    pub stale_sources: u64,
}

/// An account's analytics.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountAnalytics {
    pub account_id: String,
    /// True when the figures include every sub-account below (that you reach).
    pub include_sub_accounts: bool,
    /// Jobs are counted when they ended in the last `days` days.
    pub days: u32,
    pub stale_days: u32,
    pub generated_at: DateTime<Utc>,
    pub totals: AnalyticsTotals,
    /// By stored bytes, largest first.
    pub platforms: Vec<PlatformAnalytics>,
    /// By account, then name.
    pub sources: Vec<SourceAnalytics>,
}

/// One stream's records in one snapshot.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamCount {
    pub stream: String,
    pub records: u64,
}

/// A snapshot's records per stream.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct SnapshotStreams {
    pub snapshot_id: String,
    /// `backup` (every record) or `sync` (the changes since the snapshot before).
    pub kind: String,
    pub completed_at: Option<DateTime<Utc>>,
    pub records: u64,
    pub streams: Vec<StreamCount>,
}

/// Records per stream over time.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamHistory {
    pub source_id: String,
    pub days: u32,
    /// Complete snapshots that ended in the window, oldest first (at most 500, the latest).
    pub snapshots: Vec<SnapshotStreams>,
}

/// A CSV document (`text/csv`).
pub struct Csv(pub String);

impl Payload for Csv {
    const CONTENT_TYPE: &'static str = "text/csv; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }
}

impl IntoResponse for Csv {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

impl ApiResponse for Csv {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

#[derive(ApiResponse)]
pub enum AccountAnalyticsResponse {
    /// The figures.
    #[oai(status = 200)]
    Ok(Json<Box<AccountAnalytics>>),
    /// A bad `days` or `stale_days` (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(AccountAnalyticsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum StreamHistoryResponse {
    /// Records per stream in each snapshot.
    #[oai(status = 200)]
    Ok(Json<StreamHistory>),
    /// A bad `days` (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(StreamHistoryResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum BackupReportResponse {
    /// One row per source: `account_id,source_id,name,platform,snapshots,stored_bytes,raw_bytes,
    /// jobs_succeeded,jobs_failed,jobs_cancelled,success_rate,mean_duration_secs,last_success_at,stale`.
    #[oai(status = 200)]
    Ok(
        Csv,
        /// `attachment; filename="backups-{account_id}.csv"`.
        #[oai(header = "Content-Disposition")]
        String,
    ),
    /// A bad `days` or `stale_days` (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(BackupReportResponse { 400 => BadRequest, 404 => NotFound });

fn days_param(field: &str, value: Option<u32>, default: u32) -> Result<u32, ApiError> {
    let days = value.unwrap_or(default);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_param(
            field,
            format!("`{field}` must be 1 to {MAX_DAYS} days"),
        ));
    }
    Ok(days)
}

fn sum_as_bigint(col: impl sea_orm::sea_query::IntoColumnRef) -> SimpleExpr {
    Func::cast_as(Func::sum(Expr::col(col)), Alias::new("BIGINT")).into()
}

/// Mean seconds from `started_at` to `finished_at`, in the database's own date arithmetic.
fn mean_duration(backend: DatabaseBackend) -> SimpleExpr {
    match backend {
        DatabaseBackend::Postgres => Expr::cust(
            "CAST(AVG(EXTRACT(EPOCH FROM (finished_at - started_at))) AS DOUBLE PRECISION)",
        ),
        _ => Expr::cust("AVG((julianday(finished_at) - julianday(started_at)) * 86400.0)"),
    }
}

/// The accounts the figures cover: `account_id`, and with `sub_accounts` every account below it
/// that the caller reaches.
async fn covered_accounts(
    state: &AppState,
    auth: &BearerAuth,
    account_id: &str,
    sub_accounts: bool,
) -> Result<Vec<String>, ApiError> {
    auth.0.require(account_id, Role::Viewer)?;
    if !sub_accounts {
        return Ok(vec![account_id.to_owned()]);
    }
    Ok(repo::account_subtree(&state.db, account_id)
        .await?
        .into_iter()
        .filter(|id| auth.0.reaches(id))
        .collect())
}

/// Per-source figures for `accounts`.
async fn source_figures(
    db: &impl ConnectionTrait,
    accounts: Vec<String>,
    days: u32,
    stale_days: u32,
) -> Result<Vec<SourceAnalytics>, ApiError> {
    let now = Utc::now();
    let sources = source::Entity::find()
        .filter(source::Column::AccountId.is_in(accounts.clone()))
        .order_by_asc(source::Column::AccountId)
        .order_by_asc(source::Column::Name)
        .all(db)
        .await?;
    let storage: HashMap<String, (i64, Option<i64>, Option<i64>)> = snapshot::Entity::find()
        .select_only()
        .column(snapshot::Column::SourceId)
        .column_as(
            SimpleExpr::from(Func::count(Expr::col(snapshot::Column::Id))),
            "snapshots",
        )
        .column_as(sum_as_bigint(snapshot::Column::StoredBytes), "stored")
        .column_as(sum_as_bigint(snapshot::Column::RawBytes), "raw")
        .filter(snapshot::Column::AccountId.is_in(accounts.clone()))
        .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
        .group_by(snapshot::Column::SourceId)
        .into_tuple::<(String, i64, Option<i64>, Option<i64>)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(s, n, stored, raw)| (s, (n, stored, raw)))
        .collect();
    let since = now - Duration::days(i64::from(days));
    let outcomes: Vec<(String, JobStatus, i64)> = job::Entity::find()
        .select_only()
        .column(job::Column::SourceId)
        .column(job::Column::Status)
        .column_as(
            SimpleExpr::from(Func::count(Expr::col(job::Column::Id))),
            "jobs",
        )
        .filter(job::Column::AccountId.is_in(accounts.clone()))
        .filter(job::Column::FinishedAt.gte(since))
        .group_by(job::Column::SourceId)
        .group_by(job::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let durations: HashMap<String, Option<f64>> = job::Entity::find()
        .select_only()
        .column(job::Column::SourceId)
        .column_as(mean_duration(db.get_database_backend()), "mean_secs")
        .filter(job::Column::AccountId.is_in(accounts.clone()))
        .filter(job::Column::FinishedAt.gte(since))
        .filter(job::Column::StartedAt.is_not_null())
        .group_by(job::Column::SourceId)
        .into_tuple::<(String, Option<f64>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let last_success: HashMap<String, Option<DateTime<Utc>>> = job::Entity::find()
        .select_only()
        .column(job::Column::SourceId)
        .column_as(
            SimpleExpr::from(Func::max(Expr::col(job::Column::FinishedAt))),
            "last",
        )
        .filter(job::Column::AccountId.is_in(accounts))
        .filter(job::Column::Status.eq(JobStatus::Succeeded))
        .group_by(job::Column::SourceId)
        .into_tuple::<(String, Option<DateTime<Utc>>)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let stale_before = now - Duration::days(i64::from(stale_days));
    let mut by_outcome: HashMap<(&str, JobStatus), u64> = HashMap::new();
    for (id, status, n) in &outcomes {
        *by_outcome.entry((id.as_str(), *status)).or_default() += n.max(&0).unsigned_abs();
    }
    Ok(sources
        .into_iter()
        .map(|s| {
            let (snapshots, stored, raw) = storage.get(&s.id).copied().unwrap_or_default();
            let count = |status: JobStatus| {
                by_outcome
                    .get(&(s.id.as_str(), status))
                    .copied()
                    .unwrap_or(0)
            };
            let (ok, failed, cancelled) = (
                count(JobStatus::Succeeded),
                count(JobStatus::Failed),
                count(JobStatus::Cancelled),
            );
            let ended = ok + failed + cancelled;
            let last_success_at = last_success.get(&s.id).copied().flatten();
            SourceAnalytics {
                snapshots: snapshots.max(0).unsigned_abs(),
                stored_bytes: stored.unwrap_or(0).max(0).unsigned_abs(),
                raw_bytes: raw.unwrap_or(0).max(0).unsigned_abs(),
                jobs_succeeded: ok,
                jobs_failed: failed,
                jobs_cancelled: cancelled,
                success_rate: (ended > 0).then(|| ok as f64 / ended as f64),
                mean_duration_secs: durations.get(&s.id).copied().flatten(),
                stale: last_success_at.is_none_or(|t| t < stale_before),
                last_success_at,
                source_id: s.id,
                account_id: s.account_id,
                name: s.name,
                platform: s.platform,
            }
        })
        .collect())
}

fn totals(sources: &[SourceAnalytics]) -> AnalyticsTotals {
    let mut t = AnalyticsTotals {
        sources: sources.len() as u64,
        ..AnalyticsTotals::default()
    };
    let (mut weighted, mut with_duration) = (0.0, 0u64);
    for s in sources {
        t.snapshots += s.snapshots;
        t.stored_bytes += s.stored_bytes;
        t.raw_bytes += s.raw_bytes;
        t.jobs_succeeded += s.jobs_succeeded;
        t.jobs_failed += s.jobs_failed;
        t.jobs_cancelled += s.jobs_cancelled;
        t.stale_sources += u64::from(s.stale);
        if let Some(d) = s.mean_duration_secs {
            let n = s.jobs_succeeded + s.jobs_failed + s.jobs_cancelled;
            weighted += d * n as f64;
            with_duration += n;
        }
    }
    let ended = t.jobs_succeeded + t.jobs_failed + t.jobs_cancelled;
    t.success_rate = (ended > 0).then(|| t.jobs_succeeded as f64 / ended as f64);
    t.mean_duration_secs = (with_duration > 0).then(|| weighted / with_duration as f64);
    t
}

fn platforms(sources: &[SourceAnalytics]) -> Vec<PlatformAnalytics> {
    let mut by: BTreeMap<&str, PlatformAnalytics> = BTreeMap::new();
    for s in sources {
        let p = by.entry(&s.platform).or_insert_with(|| PlatformAnalytics {
            platform: s.platform.clone(),
            sources: 0,
            snapshots: 0,
            stored_bytes: 0,
            raw_bytes: 0,
        });
        p.sources += 1;
        p.snapshots += s.snapshots;
        p.stored_bytes += s.stored_bytes;
        p.raw_bytes += s.raw_bytes;
    }
    let mut list: Vec<PlatformAnalytics> = by.into_values().collect();
    list.sort_by_key(|p| std::cmp::Reverse(p.stored_bytes));
    list
}

/// A text cell a spreadsheet would not run as a formula: one starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return gets a leading `'`.
fn spreadsheet_safe(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

fn csv_report(sources: &[SourceAnalytics]) -> Result<String, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "account_id",
        "source_id",
        "name",
        "platform",
        "snapshots",
        "stored_bytes",
        "raw_bytes",
        "jobs_succeeded",
        "jobs_failed",
        "jobs_cancelled",
        "success_rate",
        "mean_duration_secs",
        "last_success_at",
        "stale",
    ])
    .map_err(ApiError::internal)?;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for s in sources {
        out.write_record([
            s.account_id.clone(),
            s.source_id.clone(),
            spreadsheet_safe(&s.name),
            s.platform.clone(),
            s.snapshots.to_string(),
            s.stored_bytes.to_string(),
            s.raw_bytes.to_string(),
            s.jobs_succeeded.to_string(),
            s.jobs_failed.to_string(),
            s.jobs_cancelled.to_string(),
            opt(s.success_rate),
            opt(s.mean_duration_secs),
            s.last_success_at
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
            s.stale.to_string(),
        ])
        .map_err(ApiError::internal)?;
    }
    let bytes = out.into_inner().map_err(ApiError::internal)?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

pub struct AnalyticsApi;

#[OpenApi(tag = "ApiTags::Analytics")]
impl AnalyticsApi {
    /// An account's analytics: storage per source and platform, job outcomes and durations over
    /// the last `days`, each source's last successful backup, and the sources without one in
    /// `stale_days`. With `include_sub_accounts`, rolled up over the accounts below too.
    #[oai(
        path = "/v1/accounts/:account_id/analytics",
        method = "get",
        operation_id = "getAccountAnalytics"
    )]
    async fn account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Include every sub-account below (default false).
        include_sub_accounts: Query<Option<bool>>,
        /// The window jobs are counted in, 1 to 366 days (default 30).
        days: Query<Option<u32>>,
        /// A source is stale without a successful backup in this many days, 1 to 366 (default 7).
        stale_days: Query<Option<u32>>,
    ) -> AccountAnalyticsResponse {
        respond(async {
            let days = days_param("days", days.0, 30)?;
            let stale_days = days_param("stale_days", stale_days.0, 7)?;
            let sub = include_sub_accounts.0.unwrap_or(false);
            let accounts = covered_accounts(&state, &auth, &account_id, sub).await?;
            let sources = source_figures(&state.db, accounts, days, stale_days).await?;
            Ok(AccountAnalyticsResponse::Ok(Json(Box::new(
                AccountAnalytics {
                    account_id: account_id.0,
                    include_sub_accounts: sub,
                    days,
                    stale_days,
                    generated_at: Utc::now(),
                    totals: totals(&sources),
                    platforms: platforms(&sources),
                    sources,
                },
            ))))
        })
        .await
    }

    /// The same per-source figures as CSV, for spreadsheets and audits.
    #[oai(
        path = "/v1/accounts/:account_id/reports/backups.csv",
        method = "get",
        operation_id = "getBackupReport"
    )]
    async fn report(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        /// Include every sub-account below (default false).
        include_sub_accounts: Query<Option<bool>>,
        /// The window jobs are counted in, 1 to 366 days (default 30).
        days: Query<Option<u32>>,
        /// A source is stale without a successful backup in this many days, 1 to 366 (default 7).
        stale_days: Query<Option<u32>>,
    ) -> BackupReportResponse {
        respond(async {
            let days = days_param("days", days.0, 30)?;
            let stale_days = days_param("stale_days", stale_days.0, 7)?;
            let sub = include_sub_accounts.0.unwrap_or(false);
            let accounts = covered_accounts(&state, &auth, &account_id, sub).await?;
            let sources = source_figures(&state.db, accounts, days, stale_days).await?;
            Ok(BackupReportResponse::Ok(
                Csv(csv_report(&sources)?),
                format!("attachment; filename=\"backups-{}.csv\"", account_id.0),
            ))
        })
        .await
    }

    /// Records per stream in each complete snapshot of a source that ended in the last `days`
    /// (oldest first, at most the latest 500).
    #[oai(
        path = "/v1/sources/:source_id/analytics/streams",
        method = "get",
        operation_id = "getStreamHistory"
    )]
    async fn streams(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// 1 to 366 days (default 30).
        days: Query<Option<u32>>,
    ) -> StreamHistoryResponse {
        respond(async {
            let days = days_param("days", days.0, 30)?;
            let src = source::Entity::find_by_id(source_id.as_str())
                .one(&state.db)
                .await?
                .filter(|s| auth.0.reaches(&s.account_id))
                .ok_or_else(|| ApiError::not_found("source", &source_id))?;
            let since = Utc::now() - Duration::days(i64::from(days));
            let mut snaps = snapshot::Entity::find()
                .filter(snapshot::Column::SourceId.eq(src.id.as_str()))
                .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
                .filter(snapshot::Column::CompletedAt.gte(since))
                .order_by_desc(snapshot::Column::CompletedAt)
                .limit(MAX_SNAPSHOTS)
                .all(&state.db)
                .await?;
            snaps.reverse();
            let ids: Vec<String> = snaps.iter().map(|s| s.id.clone()).collect();
            let counts: Vec<(String, String, Option<i64>)> = snapshot_part::Entity::find()
                .select_only()
                .column(snapshot_part::Column::SnapshotId)
                .column(snapshot_part::Column::Stream)
                .column_as(sum_as_bigint(snapshot_part::Column::Records), "records")
                .filter(snapshot_part::Column::SnapshotId.is_in(ids))
                .group_by(snapshot_part::Column::SnapshotId)
                .group_by(snapshot_part::Column::Stream)
                .order_by_asc(snapshot_part::Column::Stream)
                .into_tuple()
                .all(&state.db)
                .await?;
            let snapshots = snaps
                .into_iter()
                .map(|s| {
                    let streams: Vec<StreamCount> = counts
                        .iter()
                        .filter(|(id, _, _)| *id == s.id)
                        .map(|(_, stream, n)| StreamCount {
                            stream: stream.clone(),
                            records: n.unwrap_or(0).max(0).unsigned_abs(),
                        })
                        .collect();
                    SnapshotStreams {
                        kind: match s.kind {
                            entities::JobKind::Backup => "backup",
                            entities::JobKind::Sync => "sync",
                        }
                        .into(),
                        records: s.records.max(0).unsigned_abs(),
                        snapshot_id: s.id,
                        completed_at: s.completed_at,
                        streams,
                    }
                })
                .collect();
            Ok(StreamHistoryResponse::Ok(Json(StreamHistory {
                source_id: src.id,
                days,
                snapshots,
            })))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(
        platform: &str,
        stored: u64,
        ok: u64,
        failed: u64,
        mean: Option<f64>,
    ) -> SourceAnalytics {
        SourceAnalytics {
            source_id: format!("src_{platform}_{stored}"),
            account_id: "acc".into(),
            name: "n".into(),
            platform: platform.into(),
            snapshots: 1,
            stored_bytes: stored,
            raw_bytes: stored * 7,
            jobs_succeeded: ok,
            jobs_failed: failed,
            jobs_cancelled: 0,
            success_rate: None,
            mean_duration_secs: mean,
            last_success_at: None,
            stale: ok == 0,
        }
    }

    #[test]
    fn totals_weigh_durations_by_jobs_and_platforms_sort_by_size() {
        let sources = [
            source("stripe", 10, 3, 1, Some(10.0)),
            source("hubspot", 50, 0, 0, None),
            source("stripe", 30, 0, 2, Some(40.0)),
        ];
        let t = totals(&sources);
        assert_eq!((t.sources, t.stored_bytes, t.jobs_failed), (3, 90, 3));
        assert_eq!(t.success_rate, Some(0.5));
        assert_eq!(t.mean_duration_secs, Some((10.0 * 4.0 + 40.0 * 2.0) / 6.0));
        assert_eq!(t.stale_sources, 2);
        let p = platforms(&sources);
        assert_eq!(p[0].platform, "hubspot");
        assert_eq!(
            (p[1].platform.as_str(), p[1].sources, p[1].stored_bytes),
            ("stripe", 2, 40)
        );
        let csv = csv_report(&sources).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert_eq!(spreadsheet_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(spreadsheet_safe("Stripe EU"), "Stripe EU");
        assert!(csv.starts_with("account_id,source_id,name,platform,"));
    }
}
