//! Pages of jobs read an index in the page's order and stop after one page: Postgres's plans
//! for the queries job lists send, over enough jobs that a sort or a long filter would be chosen
//! if the index were missing.

use entities::{JobStatus, job, repo};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, Statement,
};
use sea_orm_migration::MigratorTrait;

/// Postgres's plan for `query`, as text.
async fn plan(db: &DatabaseConnection, query: &Statement) -> String {
    let explain = Statement::from_sql_and_values(
        query.db_backend,
        format!("EXPLAIN {}", query.sql),
        query.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    db.query_all_raw(explain)
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The page queries job lists send (newest first, one row more than the page).
fn pages(account: &str, source: &str) -> [(&'static str, Statement); 2] {
    let page = |select: sea_orm::Select<job::Entity>| {
        select
            .order_by_desc(job::Column::Id)
            .limit(51)
            .build(sea_orm::DbBackend::Postgres)
    };
    [
        (
            "a source's jobs",
            page(job::Entity::find().filter(job::Column::SourceId.eq(source))),
        ),
        (
            "an account's failed jobs",
            page(
                job::Entity::find()
                    .filter(job::Column::AccountId.is_in([account]))
                    .filter(job::Column::Status.is_in([JobStatus::Failed])),
            ),
        ),
    ]
}

pub async fn suite(db: &DatabaseConnection) {
    let account = repo::create_account(db, "Listed", None, "age1l", None)
        .await
        .unwrap();
    let conn = repo::create_connection(
        db,
        &account.id,
        "stripe",
        "Stripe",
        "sealed".into(),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // 1,000 sources with 100 jobs each, a minute apart, one job in twenty failed.
    db.execute_unprepared(&format!(
        "INSERT INTO sources (id, account_id, connection_id, platform, name, streams, options, \
         stream_state, created_at, updated_at) \
         SELECT 'src-' || i, '{account}', '{conn}', 'stripe', 'source ' || i, '[]', '{{}}', \
         '{{}}', now(), now() FROM generate_series(1, 1000) AS i;
         INSERT INTO jobs (id, account_id, source_id, kind, status, workflow_id, snapshot_id, \
         progress, records, bytes, created_at) \
         SELECT 'job-' || lpad(i::text, 10, '0'), '{account}', 'src-' || (1 + i % 1000), \
         'backup', CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'succeeded' END, 'backup-' || i, \
         'snap-' || i, '{{}}', 0, 0, now() - (100000 - i) * interval '1 minute' \
         FROM generate_series(1, 100000) AS i;
         ANALYZE jobs",
        account = account.id,
        conn = conn.id
    ))
    .await
    .unwrap();

    for (what, query) in pages(&account.id, "src-7") {
        let plan = plan(db, &query).await;
        assert!(
            plan.contains("Index Scan Backward") && !plan.contains("Sort"),
            "{what}: the page is read from an index in order:\n{plan}"
        );
        // The scan's condition holds every filter: nothing read is thrown away.
        assert!(!plan.contains("Filter:"), "{what}: rows read past:\n{plan}");
    }

    // Without the migration that made them, the same pages sort or filter: the check above
    // holds the indexes, not the planner's mood.
    entities::migration::Migrator::down(db, Some(1))
        .await
        .unwrap();
    for (what, query) in pages(&account.id, "src-7") {
        let plan = plan(db, &query).await;
        assert!(
            plan.contains("Sort") || plan.contains("Filter:"),
            "{what} without the indexes:\n{plan}"
        );
    }
    entities::migrate(db).await.unwrap();
    for (_, query) in pages(&account.id, "src-7") {
        assert!(!plan(db, &query).await.contains("Sort"));
    }
}
