//! Secret-key authentication.

use reqwest::StatusCode;

use crate::{Harness, KEY, assert_stripe_error};

#[tokio::test]
async fn missing_key_is_401() {
    let harness = Harness::with_seed(21).await;
    let answer = harness
        .send(harness.client.get(harness.url("/v1/customers")))
        .await;
    assert_stripe_error(&answer, StatusCode::UNAUTHORIZED, "invalid_request_error");
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not provide an API key")
    );
    assert_eq!(harness.sandbox.stats().unauthorized, 1);
}

#[tokio::test]
async fn wrong_key_is_401_and_never_echoed() {
    let harness = Harness::with_seed(22).await;
    let wrong = "sk_test_51AbCdEfGhIjKlMnOpQrStUvWxYz";
    for request in [
        harness
            .client
            .get(harness.url("/v1/customers"))
            .bearer_auth(wrong),
        harness
            .client
            .get(harness.url("/v1/customers"))
            .header("authorization", wrong),
        harness
            .client
            .get(harness.url("/v1/customers"))
            .basic_auth(wrong, Some("")),
    ] {
        let answer = harness.send(request).await;
        assert_stripe_error(&answer, StatusCode::UNAUTHORIZED, "invalid_request_error");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Invalid API Key provided: sk_test_****"),
            "{message}"
        );
        assert!(!message.contains(wrong), "{message}");
        assert!(!message.contains("AbCdEfGh"), "{message}");
    }
    assert_eq!(harness.sandbox.stats().unauthorized, 3);
    assert_eq!(harness.sandbox.stats().ok, 0);
}

#[tokio::test]
async fn bearer_and_basic_auth_both_work() {
    let harness = Harness::with_seed(23).await;
    let bearer = harness
        .send(
            harness
                .client
                .get(harness.url("/v1/products"))
                .bearer_auth(KEY),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::OK);
    let basic = harness
        .send(
            harness
                .client
                .get(harness.url("/v1/products"))
                .basic_auth(KEY, Some("")),
        )
        .await;
    assert_eq!(basic.status, StatusCode::OK);
    assert_eq!(bearer.body, basic.body);
}

#[tokio::test]
async fn configured_key_replaces_the_default() {
    let mut config = sandbox::SandboxConfig::new(24);
    config.stripe_api_key = "sk_test_custom".into();
    let harness = Harness::start(config).await;
    assert_eq!(harness.sandbox.stripe().api_key(), "sk_test_custom");
    assert_eq!(
        harness.get("/v1/customers").await.status,
        StatusCode::UNAUTHORIZED
    );
    let answer = harness
        .send(
            harness
                .client
                .get(harness.url("/v1/customers"))
                .bearer_auth("sk_test_custom"),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
}
