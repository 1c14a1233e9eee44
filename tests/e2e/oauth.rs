//! OAuth connections through the worker: an access token that dies mid-life is refreshed once,
//! the rotated refresh token is stored in the connection, and a revoked grant fails the job at
//! once with a message that says to reconnect.

use crate::harness::*;
use connectors::oauth::TokenSet;
use entities::{connection, source};
use sandbox::SandboxConfig;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use std::time::Duration;

async fn stored_tokens(stack: &Stack, source_id: &str) -> TokenSet {
    let src = source::Entity::find_by_id(source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let conn = connection::Entity::find_by_id(&src.connection_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let text = stack.master.open_string(&conn.credentials_sealed).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_tokens_are_refreshed_once_stored_rotated_and_revocation_fails_fast() {
    let config = SandboxConfig::new(61)
        .with_records("keap.contacts", 400)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let base = stack.sandbox_url();
    let issued = stack.sandbox.oauth().issue("keap");
    let credentials = json!({"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_at": issued.expires_at});
    let settings = json!({
        "base_url": base,
        "oauth_app": {
            "client_id": sandbox::oauth::CLIENT_ID,
            "client_secret": sandbox::oauth::CLIENT_SECRET,
            "authorize_url": format!("{base}/oauth/keap/authorize"),
            "token_url": format!("{base}/oauth/keap/token"),
        },
    });
    let source_id = stack
        .add_source(&tenant, "keap", credentials, settings)
        .await
        .unwrap();
    // The platform's clock runs two days ahead: the token we hold looks valid to us but is
    // expired there, so the first request gets a 401 and must refresh.
    stack.sandbox.oauth().advance(2 * 24 * 3600);
    stack.spawn_worker().expect("worker");

    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    assert_eq!(
        stack.sandbox.oauth().refresh_count(),
        1,
        "one expiry, one refresh, across six stream activities"
    );
    let tokens = stored_tokens(&stack, &source_id).await;
    assert_ne!(
        tokens.refresh_token.as_deref(),
        Some(issued.refresh_token.as_str()),
        "the rotated refresh token was stored"
    );
    assert!(
        stack
            .sandbox
            .oauth()
            .check("keap", &tokens.access_token)
            .is_ok(),
        "the stored access token is the live one"
    );
    let (_, streams) = read_snapshot_of(
        &stack,
        &tenant,
        &source_id,
        job["snapshot_id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let expected: Vec<Value> = stack.sandbox.keap().records("contacts").collect();
    assert_eq!(streams["contacts"].len(), expected.len());

    // The user disconnects the app: the next job fails at once, saying what to do.
    stack.sandbox.oauth().revoke_all("keap");
    stack.sandbox.oauth().advance(2 * 24 * 3600);
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    let job = wait_for_job(&stack, &tenant, &job_id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("reconnect"),
        "{job}"
    );
    stack.shutdown().await;
}
