//! OAuth sessions against the sandbox's authorization server, over HTTP.

use connectors::{
    ErrorKind,
    oauth::{MemoryTokenStore, OAuthApp, OAuthSession, TokenSet, TokenStore},
};
use sandbox::{
    Sandbox, SandboxConfig,
    oauth::{CLIENT_ID, CLIENT_SECRET, TokenPolicy},
};
use std::sync::Arc;

async fn setup(
    policy: TokenPolicy,
) -> (
    Sandbox,
    sandbox::RunningSandbox,
    Arc<MemoryTokenStore>,
    Arc<OAuthSession>,
) {
    let sb = Sandbox::new(SandboxConfig::new(1)).unwrap();
    let running = sb.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    sb.oauth().set_policy("keap", policy);
    let issued = sb.oauth().issue("keap");
    let store = Arc::new(MemoryTokenStore::new(TokenSet {
        access_token: issued.access_token,
        refresh_token: Some(issued.refresh_token),
        // The connector's clock is the wall clock; the sandbox's may run ahead.
        expires_at: Some(issued.expires_at),
        obtained_at: None,
    }));
    let app = OAuthApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        authorize_url: format!("{}/oauth/keap/authorize", running.base_url()),
        token_url: format!("{}/oauth/keap/token", running.base_url()),
        credentials_in_body: false,
    };
    let session = Arc::new(OAuthSession::new("keap", app, store.clone()));
    (sb, running, store, session)
}

#[tokio::test]
async fn a_token_about_to_expire_is_refreshed_once_by_many_callers_and_rotation_is_stored() {
    let (sb, _running, store, session) = setup(TokenPolicy {
        access_ttl_secs: 30,
        rotate_refresh_tokens: true,
    })
    .await;
    let before = store.load().await.unwrap();
    // 30 s left is inside the refresh margin: every caller needs a fresh token at once.
    let calls = (0..20).map(|_| {
        let s = session.clone();
        tokio::spawn(async move { s.access_token().await })
    });
    let tokens: Vec<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().unwrap())
        .collect();
    assert_eq!(sb.oauth().refresh_count(), 1, "one refresh for one expiry");
    let after = store.load().await.unwrap();
    assert!(tokens.iter().all(|t| *t == after.access_token));
    assert_ne!(
        after.refresh_token, before.refresh_token,
        "the rotated refresh token was stored"
    );
    assert!(sb.oauth().check("keap", &after.access_token).is_ok());
}

#[tokio::test]
async fn a_401_refreshes_once_and_a_revoked_grant_is_unauthorized() {
    let (sb, _running, _store, session) = setup(TokenPolicy {
        access_ttl_secs: 3600,
        rotate_refresh_tokens: true,
    })
    .await;
    let first = session.access_token().await.unwrap();
    assert_eq!(
        sb.oauth().refresh_count(),
        0,
        "a fresh token is used as it is"
    );
    let second = session.after_unauthorized(&first).await.unwrap();
    assert_ne!(first, second);
    // A second 401 report about the old token does not refresh again.
    assert_eq!(session.after_unauthorized(&first).await.unwrap(), second);
    assert_eq!(sb.oauth().refresh_count(), 1);

    sb.oauth().revoke_all("keap");
    let err = session.after_unauthorized(&second).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(!err.is_temporary());
    assert!(err.to_string().contains("reconnect"), "{err}");
}

/// Two jobs of one connection: one refreshes after an expiry, then that token expires too
/// before the other job uses it. The other job's request refreshes again instead of taking the
/// second 401 for a revoked grant, and each expiry costs exactly one refresh.
#[tokio::test]
async fn a_token_taken_over_from_another_refresh_that_died_since_is_refreshed_again() {
    let (sb, running, store, first) = setup(TokenPolicy {
        access_ttl_secs: 3600,
        rotate_refresh_tokens: true,
    })
    .await;
    let app = OAuthApp {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        authorize_url: format!("{}/oauth/keap/authorize", running.base_url()),
        token_url: format!("{}/oauth/keap/token", running.base_url()),
        credentials_in_body: false,
    };
    let second = OAuthSession::new("keap", app, store.clone());
    let send = |token: String| {
        let sb = sb.clone();
        async move {
            sb.oauth().check("keap", &token).map_err(|_| {
                let mut e = connectors::ConnectorError::new(
                    "keap",
                    ErrorKind::Unauthorized,
                    "HTTP 401: invalid access token",
                );
                e.status = Some(401);
                e
            })
        }
    };
    first.authorized(send).await.unwrap();
    second.authorized(send).await.unwrap();
    assert_eq!(sb.oauth().refresh_count(), 0);

    // Expiry 1: the first job refreshes. Expiry 2 before the second job's next request.
    sb.oauth().advance(3601);
    first.authorized(send).await.unwrap();
    assert_eq!(sb.oauth().refresh_count(), 1);
    sb.oauth().advance(3601);
    second
        .authorized(send)
        .await
        .expect("not taken for a revoked grant");
    assert_eq!(sb.oauth().refresh_count(), 2, "one refresh per expiry");
    first.authorized(send).await.unwrap();
    assert_eq!(sb.oauth().refresh_count(), 2);

    // A revoked grant still fails at once.
    sb.oauth().revoke_all("keap");
    let err = second.authorized(send).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.to_string().contains("reconnect"), "{err}");
}
