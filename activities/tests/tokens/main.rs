//! The database token store, on SQLite and Postgres: concurrent refreshers of one connection,
//! each with its own database pool as separate workers would have, refresh exactly once.

use activities::tokens::DbTokenStore;
use connectors::oauth::{RefreshFn, TokenSet, TokenStore};
use entities::repo;
use sea_orm::DatabaseConnection;
use serde_json::json;
use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};
use storage::keys::MasterKey;

fn tokens(n: u32) -> TokenSet {
    TokenSet {
        access_token: format!("access-{n}"),
        refresh_token: Some(format!("refresh-{n}")),
        expires_at: Some(0),
        obtained_at: None,
    }
}

async fn connection(db: &DatabaseConnection, master: &MasterKey) -> String {
    let acct = repo::create_account(db, "A", None, "age1x", None)
        .await
        .unwrap();
    let sealed = master
        .seal_string(&tokens(0).to_credentials().to_string())
        .unwrap();
    repo::create_connection(db, &acct.id, "keap", "Keap", sealed, json!({}))
        .await
        .unwrap()
        .id
}

async fn refresh_concurrently(url: &str) {
    let master = Arc::new(MasterKey::generate());
    let first = entities::connect_and_migrate(url).await.unwrap();
    let connection_id = connection(&first, &master).await;
    let calls = Arc::new(AtomicU32::new(0));
    let workers = (0..8).map(|_| {
        let (url, master, connection_id, calls) = (
            url.to_owned(),
            master.clone(),
            connection_id.clone(),
            calls.clone(),
        );
        tokio::spawn(async move {
            let db = entities::connect(&url).await.unwrap();
            let store = DbTokenStore::new(db, master, &connection_id, "keap");
            let stale = store.load().await.unwrap();
            let refresh: RefreshFn<'_> = Box::new(move |old: TokenSet| {
                Box::pin(async move {
                    assert_eq!(
                        old.refresh_token.as_deref(),
                        Some("refresh-0"),
                        "only the original tokens are ever refreshed"
                    );
                    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok(tokens(n))
                })
            });
            store.refresh_once(&stale, refresh).await.unwrap()
        })
    });
    let results: Vec<TokenSet> = futures::future::join_all(workers)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one refresh for one expiry"
    );
    assert!(
        results.iter().all(|t| *t == tokens(1)),
        "everyone got the refreshed tokens"
    );
    let store = DbTokenStore::new(first, master, &connection_id, "keap");
    assert_eq!(
        store.load().await.unwrap(),
        tokens(1),
        "the rotated tokens are stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_across_workers_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    refresh_concurrently(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("t.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_refresh_across_workers_on_postgres() {
    let (name, url) = entities::testing::create_database("lbtok")
        .await
        .expect("test Postgres");
    refresh_concurrently(&url).await;
    let db = entities::connect(&url).await.unwrap();
    entities::testing::drop_database(db, &name).await.unwrap();
}
