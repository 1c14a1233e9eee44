//! Keap's traps, against the Keap fake and the sandbox's authorization server over HTTP:
//! an access token expiring mid-run, a rotated refresh token saved exactly once under
//! concurrency, a reused (rotated) refresh token revoking the grant, and the daily quota.

use connectors::{
    Connector, ErrorKind, PageRequest,
    http::{HttpClient, RetrySettings},
    oauth::{MemoryTokenStore, TokenSet, TokenStore},
};
use sandbox::{
    RunningSandbox, Sandbox, SandboxConfig,
    keap::TOKEN_POLICY,
    oauth::{CLIENT_ID, CLIENT_SECRET, IssuedTokens},
};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

struct Env {
    sandbox: Sandbox,
    running: RunningSandbox,
}

async fn env(contacts: u64) -> Env {
    let sandbox = Sandbox::new(
        SandboxConfig::new(11)
            .with_records("keap.contacts", contacts)
            .unwrap(),
    )
    .unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env { sandbox, running }
}

fn token_set(issued: &IssuedTokens) -> TokenSet {
    TokenSet {
        access_token: issued.access_token.clone(),
        refresh_token: Some(issued.refresh_token.clone()),
        expires_at: Some(issued.expires_at),
        obtained_at: None,
    }
}

fn config(env: &Env) -> Value {
    let base = env.running.base_url();
    json!({
        "base_url": base,
        "page_size": 20,
        "requests_per_second": 200,
        "oauth_app": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorize_url": format!("{base}/oauth/keap/authorize"),
            "token_url": format!("{base}/oauth/keap/token"),
        },
    })
}

fn http() -> HttpClient {
    HttpClient::new(RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    })
    .allowing_private_networks(true)
}

/// A connector whose refreshes go through `store`.
fn connector(env: &Env, store: Arc<dyn TokenStore>) -> Arc<dyn Connector> {
    connectors::build_with_tokens("keap", &Value::Null, &config(env), &http(), Some(store)).unwrap()
}

/// A connector holding its own copy of `credentials`, as a worker with stale tokens would.
fn connector_from(env: &Env, credentials: &TokenSet) -> Arc<dyn Connector> {
    connectors::build("keap", &credentials.to_credentials(), &config(env), &http()).unwrap()
}

fn first_page() -> PageRequest {
    PageRequest {
        stream: "contacts".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once_and_the_rotation_is_stored() {
    let env = env(120).await;
    let issued = env.sandbox.oauth().issue("keap");
    let store = Arc::new(MemoryTokenStore::new(token_set(&issued)));
    let c = connector(&env, store.clone());

    let mut request = first_page();
    let mut ids = Vec::new();
    for page_number in 0.. {
        if page_number == 2 {
            // The platform's clock passes the token's expiry; ours does not notice.
            env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
        }
        let page = c.read_page(&request).await.expect("the walk goes on");
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    let expected: Vec<String> = (0..120)
        .map(|i| env.sandbox.keap().id_of("contacts", i).to_string())
        .collect();
    assert_eq!(ids, expected, "the walk completed");
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "exactly one refresh"
    );

    let stored = store.load().await.unwrap();
    assert_ne!(
        stored.refresh_token.as_deref(),
        Some(issued.refresh_token.as_str())
    );
    assert!(
        env.sandbox
            .oauth()
            .check("keap", &stored.access_token)
            .is_ok()
    );
    // The stored refresh token is the live one: the authority accepts it.
    let answer = reqwest::Client::new()
        .post(format!("{}/oauth/keap/token", env.running.base_url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", stored.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

#[tokio::test]
async fn twenty_connectors_on_an_expired_token_refresh_once() {
    let env = env(50).await;
    let issued = env.sandbox.oauth().issue("keap");
    env.sandbox
        .oauth()
        .advance(TOKEN_POLICY.access_ttl_secs + 1);
    let mut expired = token_set(&issued);
    // Expired on our clock too.
    expired.expires_at = Some(issued.expires_at - TOKEN_POLICY.access_ttl_secs - 10);
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new(expired));

    let runs = (0..20).map(|_| {
        let c = connector(&env, store.clone());
        tokio::spawn(async move { c.read_page(&first_page()).await })
    });
    for result in futures::future::join_all(runs).await {
        let page = result.unwrap().expect("no connector fails");
        assert_eq!(page.records.len(), 20);
    }
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "one refresh for twenty"
    );
    let stored = store.load().await.unwrap();
    assert_ne!(
        stored.refresh_token.as_deref(),
        Some(issued.refresh_token.as_str())
    );
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_grant() {
    let env = env(30).await;
    let issued = env.sandbox.oauth().issue("keap");
    let original = token_set(&issued);
    let store = Arc::new(MemoryTokenStore::new(original.clone()));
    let current = connector(&env, store.clone());
    env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
    current
        .read_page(&first_page())
        .await
        .expect("refreshes and reads");
    assert_eq!(env.sandbox.oauth().refresh_count(), 1);

    // A copy of the connection that never saw the rotation presents the used refresh token.
    let stale = connector_from(&env, &original);
    let err = stale.read_page(&first_page()).await.expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(!err.is_temporary());
    assert!(err.to_string().contains("reconnect"), "{err}");

    // Keap's answer to reuse is revoking the family: the up-to-date connector is out too.
    let err = current.read_page(&first_page()).await.expect_err("revoked");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("reconnect"), "{err}");
}

#[tokio::test]
async fn the_daily_quota_is_a_temporary_failure_that_is_not_waited_out() {
    let env = env(10).await;
    env.sandbox.keap().set_daily_quota(0);
    let issued = env.sandbox.oauth().issue("keap");
    // The quota resets at the next UTC midnight, which may be seconds away: a client that waits
    // out no `Retry-After` at all shows the failure itself, whatever the time of day.
    let http = HttpClient::new(RetrySettings {
        min_delay: Duration::from_millis(10),
        max_retry_after: Duration::ZERO,
        ..RetrySettings::default()
    })
    .allowing_private_networks(true);
    let c = connectors::build(
        "keap",
        &token_set(&issued).to_credentials(),
        &config(&env),
        &http,
    )
    .unwrap();
    let err = c.read_page(&first_page()).await.expect_err("over quota");
    assert_eq!(err.kind, ErrorKind::RateLimited, "{err}");
    assert!(err.is_temporary(), "Temporal retries it later");
    assert!(
        err.retry_after.is_some_and(|d| d >= Duration::from_secs(1)),
        "{err:?}"
    );
    assert_eq!(
        env.sandbox.stats().requests,
        1,
        "one request: the quota is not retried in-process"
    );
}

#[tokio::test]
async fn v1_streams_stop_at_count_although_next_is_always_there() {
    let env = env(10).await;
    let issued = env.sandbox.oauth().issue("keap");
    let c = connector_from(&env, &token_set(&issued));
    let mut request = PageRequest {
        stream: "orders".into(),
        ..Default::default()
    };
    let mut pages = 0;
    let mut records = 0;
    loop {
        let page = c.read_page(&request).await.unwrap();
        pages += 1;
        records += page.records.len();
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    // 20 orders in pages of 20: one page, no empty second request.
    assert_eq!((pages, records), (1, 20));
    assert_eq!(env.sandbox.stats().requests, 1);
}
