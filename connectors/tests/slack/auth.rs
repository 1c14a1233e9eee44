//! Tokens: rotating refresh tokens (stored exactly once, refused when reused), installs
//! without rotation, revoked tokens.

use crate::*;
use connectors::ErrorKind;
use sandbox::slack::TOKEN_POLICY;

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once_and_the_rotation_is_stored() {
    let env = env(&[("members", 40)]).await;
    let issued = env.sandbox.oauth().issue("slack");
    let store = store(token_set(&issued));
    let c = env.rotating(store.clone());

    let mut request = first("members");
    let mut ids = Vec::new();
    for page_number in 0.. {
        if page_number == 2 {
            // Slack's clock passes the 12 hours; ours does not notice: `token_expired`.
            env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
        }
        let page = c.read_page(&request).await.expect("the walk goes on");
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        match after(&request, &page) {
            Some(next) => request = next,
            None => break,
        }
    }
    assert_eq!(unique(ids), dataset_ids(&env.sandbox, "members"));
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "exactly one refresh"
    );

    let stored = store.load().await.unwrap();
    let rotated = stored.refresh_token.clone().unwrap();
    assert_ne!(
        rotated, issued.refresh_token,
        "the new refresh token was stored"
    );
    assert!(
        env.sandbox
            .oauth()
            .check("slack", &stored.access_token)
            .is_ok()
    );
    // The stored refresh token is the live one: `oauth.v2.access` accepts it.
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/slack/api/oauth.v2.access",
            env.running.base_url()
        ))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &rotated)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["token_type"], "bot");
}

#[tokio::test]
async fn twenty_connectors_on_an_expired_token_refresh_once() {
    let env = env(&[]).await;
    let issued = env.sandbox.oauth().issue("slack");
    env.sandbox
        .oauth()
        .advance(TOKEN_POLICY.access_ttl_secs + 1);
    let mut expired = token_set(&issued);
    expired.expires_at = Some(issued.expires_at - TOKEN_POLICY.access_ttl_secs - 10);
    let store: Arc<dyn TokenStore> = store(expired);
    let runs = (0..20).map(|_| {
        let c = env.rotating(store.clone());
        tokio::spawn(async move { c.read_page(&first("channels")).await })
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap().expect("no connector fails");
    }
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "one refresh for twenty"
    );
}

#[tokio::test]
async fn a_refused_refresh_answered_with_a_200_is_unauthorized() {
    let env = env(&[]).await;
    let issued = env.sandbox.oauth().issue("slack");
    let original = token_set(&issued);
    let current = env.rotating(store(original.clone()));
    env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
    current
        .read_page(&first("channels"))
        .await
        .expect("refreshes");
    assert_eq!(env.sandbox.oauth().refresh_count(), 1);

    // A copy that never saw the rotation presents the used refresh token: Slack answers
    // `{"ok": false, "error": "invalid_refresh_token"}` with a 200.
    let stale = env.rotating(store(original));
    let err = stale
        .read_page(&first("channels"))
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("invalid_refresh_token"), "{err}");
    assert!(err.message.contains("reconnect"), "{err}");
    assert!(!err.is_temporary());
}

#[tokio::test]
async fn an_install_without_rotation_uses_its_token_as_it_is() {
    let env = env(&[("members", 15)]).await;
    // No OAuth app anywhere: a token that never expires needs none.
    let credentials = json!({"access_token": env.sandbox.slack().bot_token()});
    let mut config = env.config(json!({}));
    config.as_object_mut().unwrap().remove("oauth_app");
    let c = connectors::build("slack", &credentials, &config, &http()).unwrap();
    c.check().await.expect("auth.test");
    let (ids, _) = read_all(c.as_ref(), "members", None).await.unwrap();
    assert_eq!(unique(ids), dataset_ids(&env.sandbox, "members"));

    env.sandbox.slack().revoke_bot_token();
    env.sandbox.reset_stats();
    let err = c.read_page(&first("members")).await.expect_err("revoked");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("token_revoked"), "{err}");
    assert_eq!(env.sandbox.stats().requests, 1, "no retry, no refresh");
    assert_eq!(env.sandbox.oauth().refresh_count(), 0);
}

#[tokio::test]
async fn a_revoked_rotating_install_is_not_refreshed() {
    let env = env(&[]).await;
    let issued = env.sandbox.oauth().issue("slack");
    let c = env.rotating(store(token_set(&issued)));
    env.sandbox.oauth().revoke_all("slack");
    let err = c.read_page(&first("messages")).await.expect_err("revoked");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("token_revoked"), "{err}");
    assert_eq!(env.sandbox.stats().requests, 1, "one request, no refresh");
}
