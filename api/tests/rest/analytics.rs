//! Analytics and reports over stored jobs and snapshots: storage per source and platform, job
//! outcomes and durations in a window, stale sources, roll-up over sub-accounts, CSV, records
//! per stream over time — on Postgres and SQLite (their date arithmetic differs).

use crate::harness::*;
use chrono::{Duration, Utc};
use entities::{
    JobKind, JobStatus, SnapshotStatus, job, repo,
    sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr},
    snapshot, snapshot_part,
};
use serde_json::{Value, json};

/// A job of `source` that started `secs` seconds before it ended `ago` ago, with `status`.
async fn ended_job(
    app: &App,
    source: &entities::source::Model,
    status: JobStatus,
    ago: Duration,
    secs: i64,
) -> job::Model {
    let j = repo::create_job(&app.db, source, JobKind::Backup)
        .await
        .unwrap();
    repo::finish_job(&app.db, &j.id, status, None)
        .await
        .unwrap();
    let end = Utc::now() - ago;
    job::Entity::update_many()
        .col_expr(job::Column::FinishedAt, Expr::value(end))
        .col_expr(
            job::Column::StartedAt,
            Expr::value(end - Duration::seconds(secs)),
        )
        .filter(job::Column::Id.eq(j.id.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    j
}

/// A complete snapshot of `job` with parts `(stream, records)`, `stored` bytes.
async fn snapshot_of(
    app: &App,
    j: &job::Model,
    kind: JobKind,
    stored: i64,
    parts: &[(&str, i64)],
    ago: Duration,
) {
    let records: i64 = parts.iter().map(|(_, n)| n).sum();
    snapshot::ActiveModel {
        id: Set(j.snapshot_id.clone()),
        account_id: Set(j.account_id.clone()),
        source_id: Set(j.source_id.clone()),
        job_id: Set(j.id.clone()),
        kind: Set(kind),
        status: Set(SnapshotStatus::Complete),
        parent_snapshot_id: Set(None),
        manifest_key: Set(Some(format!("manifests/{}", j.snapshot_id))),
        records: Set(records),
        raw_bytes: Set(stored * 7),
        stored_bytes: Set(stored),
        created_at: Set(Utc::now()),
        completed_at: Set(Some(Utc::now() - ago)),
    }
    .insert(&app.db)
    .await
    .unwrap();
    for (n, (stream, count)) in parts.iter().enumerate() {
        snapshot_part::ActiveModel {
            id: Set(entities::new_id()),
            snapshot_id: Set(j.snapshot_id.clone()),
            stream: Set((*stream).into()),
            part_no: Set(n as i32),
            key: Set(format!("parts/{}/{n}", j.snapshot_id)),
            records: Set(*count),
            raw_bytes: Set(0),
            stored_bytes: Set(0),
            sha256: Set("00".repeat(32)),
            cursor_after: Set(json!(null)),
            stream_cursor: Set(json!(null)),
            blobs: Set(None),
            record_index: Set(None),
            created_at: Set(Utc::now()),
        }
        .insert(&app.db)
        .await
        .unwrap();
    }
}

struct Fixture {
    owner: User,
    sub: String,
    stripe: String,
    hubspot: String,
}

/// Stripe in the account: two successes (one 40 days ago) and a failure, two snapshots.
/// HubSpot in a sub-account: a cancelled job, never a success.
async fn fixture(app: &App) -> Fixture {
    let owner = app.register("ada@example.com").await;
    let sub = app
        .sub_account(&owner.access, &owner.account_id, "Branch")
        .await;
    let conn = repo::create_connection(
        &app.db,
        &owner.account_id,
        "stripe",
        "S",
        "x".into(),
        json!({}),
    )
    .await
    .unwrap();
    let stripe = repo::create_source(&app.db, &conn, "Stripe", &[])
        .await
        .unwrap();
    let old = ended_job(app, &stripe, JobStatus::Succeeded, Duration::days(40), 500).await;
    snapshot_of(
        app,
        &old,
        JobKind::Backup,
        1000,
        &[("customers", 6), ("customers", 4), ("invoices", 5)],
        Duration::days(40),
    )
    .await;
    ended_job(app, &stripe, JobStatus::Failed, Duration::hours(3), 50).await;
    let recent = ended_job(app, &stripe, JobStatus::Succeeded, Duration::hours(1), 100).await;
    snapshot_of(
        app,
        &recent,
        JobKind::Sync,
        3000,
        &[("customers", 2)],
        Duration::hours(1),
    )
    .await;
    let conn = repo::create_connection(&app.db, &sub, "hubspot", "H", "x".into(), json!({}))
        .await
        .unwrap();
    let hubspot = repo::create_source(&app.db, &conn, "HubSpot", &[])
        .await
        .unwrap();
    ended_job(app, &hubspot, JobStatus::Cancelled, Duration::days(2), 10).await;
    Fixture {
        owner,
        sub,
        stripe: stripe.id,
        hubspot: hubspot.id,
    }
}

fn source<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source_id"] == id)
        .unwrap_or_else(|| panic!("{id} in {report}"))
}

async fn analytics_figures_are_right(app: &App) {
    let f = fixture(app).await;
    let base = format!("/v1/accounts/{}/analytics", f.owner.account_id);

    let r = app.get(&base, &f.owner.access).await;
    let report = r.ok(200);
    assert_eq!(report["sources"].as_array().unwrap().len(), 1, "{report}");
    let s = source(report, &f.stripe);
    assert_eq!(s["snapshots"], 2);
    assert_eq!(s["stored_bytes"], 4000);
    assert_eq!(s["raw_bytes"], 28000);
    assert_eq!(
        (s["jobs_succeeded"].as_u64(), s["jobs_failed"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["success_rate"], 0.5);
    let mean = s["mean_duration_secs"].as_f64().unwrap();
    assert!((mean - 75.0).abs() < 0.5, "{mean}");
    assert_eq!(s["stale"], false);
    let last =
        chrono::DateTime::parse_from_rfc3339(s["last_success_at"].as_str().unwrap()).unwrap();
    assert!((Utc::now() - last.with_timezone(&Utc)).num_minutes().abs() <= 61);
    assert_eq!(report["platforms"][0]["platform"], "stripe");

    // Rolled up: the sub-account's source is there, stale, and in the totals.
    let r = app
        .get(
            &format!("{base}?include_sub_accounts=true&days=60"),
            &f.owner.access,
        )
        .await;
    let report = r.ok(200);
    let h = source(report, &f.hubspot);
    assert_eq!(
        (h["stale"].as_bool(), h["jobs_cancelled"].as_u64()),
        (Some(true), Some(1))
    );
    assert!(h.get("last_success_at").is_none(), "{h}");
    assert_eq!(
        source(report, &f.stripe)["jobs_succeeded"],
        2,
        "60 days take in the old one"
    );
    let t = &report["totals"];
    assert_eq!(t["sources"], 2);
    assert_eq!(t["stale_sources"], 1);
    assert_eq!(t["jobs_succeeded"], 2);
    assert_eq!(t["jobs_failed"], 1);
    assert_eq!(t["jobs_cancelled"], 1);
    assert_eq!(t["success_rate"], 0.5);
    let platforms: Vec<&str> = report["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["stripe", "hubspot"]);

    // The same as CSV.
    let (status, headers, body) = app
        .get_raw(
            &format!(
                "/v1/accounts/{}/reports/backups.csv?include_sub_accounts=true",
                f.owner.account_id
            ),
            Some(&f.owner.access),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains(".csv")
    );
    let csv = String::from_utf8(body).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[0].starts_with("account_id,source_id,name,platform,snapshots,stored_bytes"));
    assert!(
        rows.iter()
            .any(|r| r.contains(&f.stripe) && r.contains(",4000,28000,1,1,0,0.5000,")),
        "{csv}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(&f.hubspot) && r.ends_with(",true")),
        "{csv}"
    );

    // Records per stream over time, oldest first.
    let r = app
        .get(
            &format!("/v1/sources/{}/analytics/streams?days=60", f.stripe),
            &f.owner.access,
        )
        .await;
    let snaps = r.ok(200)["snapshots"].as_array().unwrap().clone();
    assert_eq!(snaps.len(), 2);
    assert_eq!(snaps[0]["kind"], "backup");
    assert_eq!(
        snaps[0]["streams"],
        json!([{"stream": "customers", "records": 10}, {"stream": "invoices", "records": 5}])
    );
    assert_eq!(snaps[1]["kind"], "sync");
    assert_eq!(
        snaps[1]["streams"],
        json!([{"stream": "customers", "records": 2}])
    );

    // Bad windows, and what another member does not reach.
    let r = app.get(&format!("{base}?days=0"), &f.owner.access).await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "days");
    let r = app
        .get(&format!("{base}?stale_days=400"), &f.owner.access)
        .await;
    assert_eq!(r.field(), "stale_days");
    let sid = app
        .member(&f.owner, &f.sub, "sid@example.com", "viewer")
        .await;
    app.get(&base, &sid.access).await.error(404, "not_found");
    app.get(
        &format!("/v1/sources/{}/analytics/streams", f.stripe),
        &sid.access,
    )
    .await
    .error(404, "not_found");
    let r = app
        .get(
            &format!("/v1/accounts/{}/analytics?include_sub_accounts=true", f.sub),
            &sid.access,
        )
        .await;
    let ids: Vec<&str> = r.ok(200)["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.hubspot.as_str()]);
}

#[tokio::test]
async fn analytics_on_postgres() {
    let app = App::spawn_with(App::generous).await;
    analytics_figures_are_right(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn analytics_on_sqlite() {
    let app = App::spawn_on_sqlite().await;
    analytics_figures_are_right(&app).await;
    app.shutdown().await;
}
