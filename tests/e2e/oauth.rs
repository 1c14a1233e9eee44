//! OAuth connections through the worker: an access token that dies mid-life is refreshed once,
//! the rotated refresh token is stored in the connection, and a revoked grant puts the job in
//! `needs_reauth`, where it waits until the connection is reconnected (then continues) or
//! cancelled, or its wait ends (then it fails with the platform's refusal).

use crate::harness::*;
use connectors::oauth::TokenSet;
use entities::{connection, source};
use sandbox::SandboxConfig;
use sea_orm::EntityTrait;
use serde_json::Value;
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
async fn oauth_tokens_are_refreshed_once_stored_rotated_and_a_revoked_grant_waits_for_reconnection()
{
    let config = SandboxConfig::new(61)
        .with_records("keap.contacts", 400)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let source_id = add_keap_source(&stack, &tenant).await.unwrap();
    let issued = stored_tokens(&stack, &source_id).await;
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
        issued.refresh_token.as_deref(),
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

    // The user disconnects the app: the next job stops at once and waits, saying what to do.
    stack.sandbox.oauth().revoke_all("keap");
    stack.sandbox.oauth().advance(2 * 24 * 3600);
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    let job = wait_for_status(
        &stack,
        &tenant,
        &job_id,
        &["needs_reauth", "succeeded", "failed", "cancelled"],
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    assert_eq!(job["status"], "needs_reauth", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("reconnect"),
        "{job}"
    );
    let requests_while_refused = stack.sandbox.stats().requests;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stack.sandbox.stats().requests,
        requests_while_refused,
        "a waiting job does not keep calling the platform"
    );
    let again = start_backup_of(&stack, &tenant, &source_id).await;
    assert!(
        again.is_err_and(|e| e.to_string().contains("409")),
        "the waiting job is still the source's active job"
    );

    // The user reconnects through the API: authorizes again at the platform, the callback
    // replaces the revoked tokens and the same job continues.
    let revoked = stored_tokens(&stack, &source_id).await;
    let resumed = reconnect_through_api(&stack, &tenant, &source_id).await;
    assert_eq!(resumed["waiting_jobs"], 1, "{resumed}");
    assert_eq!(resumed["resumed_jobs"], 1, "{resumed}");
    assert_eq!(resumed["connection"]["status"], "active", "{resumed}");
    let fresh = stored_tokens(&stack, &source_id).await;
    assert_ne!(fresh.access_token, revoked.access_token);
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    let (_, streams) = read_snapshot_of(
        &stack,
        &tenant,
        &source_id,
        job["snapshot_id"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(streams["contacts"].len(), expected.len());
    let log = activity_actions(&stack, &job_id).await;
    assert!(
        log.contains(&"job.needs_reauth".to_owned())
            && log.contains(&"job.reauthorized".to_owned()),
        "{log:?}"
    );

    // Revoked again, and nobody reconnects: cancelling the waiting job ends it.
    stack.sandbox.oauth().revoke_all("keap");
    stack.sandbox.oauth().advance(2 * 24 * 3600);
    let job_id = start_backup_of(&stack, &tenant, &source_id).await.unwrap();
    wait_for_status(
        &stack,
        &tenant,
        &job_id,
        &["needs_reauth"],
        Duration::from_secs(120),
    )
    .await
    .unwrap();
    let r = http()
        .post(format!("{}/v1/jobs/{job_id}/cancel", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job = wait_for_job(&stack, &tenant, &job_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(job["status"], "cancelled", "{job}");
    stack.shutdown().await;
}

/// Reconnects the source's connection as a user would: `POST /v1/connections/{id}/reconnect`,
/// the platform's authorize page (the sandbox approves at once), then the callback it redirects
/// to. Returns the callback's answer.
async fn reconnect_through_api(stack: &Stack, tenant: &Tenant, source_id: &str) -> Value {
    let src = source::Entity::find_by_id(source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = browser
        .post(format!(
            "{}/v1/connections/{}/reconnect",
            stack.api_base, src.connection_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let started: Value = started.json().await.unwrap();
    let authorize_url = started["authorize_url"].as_str().unwrap();
    let granted = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(granted.status(), 302);
    let callback = granted.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/v1/oauth/callback?", stack.api_base)));
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), 200);
    done.json().await.unwrap()
}

/// The actions the activity log holds for a job, oldest first.
async fn activity_actions(stack: &Stack, job_id: &str) -> Vec<String> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    entities::activity_log::Entity::find()
        .filter(entities::activity_log::Column::TargetId.eq(job_id))
        .order_by_asc(entities::activity_log::Column::CreatedAt)
        .all(&stack.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_nobody_reauthorizes_fails_when_its_wait_ends() {
    let config = SandboxConfig::new(62)
        .with_records("keap.contacts", 50)
        .unwrap();
    let mut stack = Stack::start(Db::Sqlite, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let source_id = add_keap_source(&stack, &tenant).await.unwrap();
    stack.sandbox.oauth().revoke_all("keap");
    stack.sandbox.oauth().advance(2 * 24 * 3600);
    stack.spawn_worker().expect("worker");

    // A run started with a short wait (the API uses seven days).
    let src = source::Entity::find_by_id(&source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let job = entities::repo::start_job(&stack.db, &src, entities::JobKind::Backup)
        .await
        .unwrap();
    let input = workflows::contracts::BackupInput {
        job_id: job.id.clone(),
        account_id: job.account_id.clone(),
        source_id: source_id.clone(),
        platform: "keap".into(),
        kind: workflows::contracts::BackupKind::Backup,
        streams: None,
        skip_streams: Vec::new(),
        reauth_wait_secs: Some(3),
        schedule_id: None,
    };
    temporal::start_backup(&stack.client, &job.workflow_id, &input)
        .await
        .unwrap();
    let job = wait_for_job(&stack, &tenant, &job.id, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(job["status"], "failed", "{job}");
    assert!(
        job["error"].as_str().unwrap().contains("reconnect"),
        "the platform's refusal is the job's error: {job}"
    );
    stack.shutdown().await;
}
