//! Password guessing is limited per email and per client address: 429 with `Retry-After`.

use crate::harness::*;
use api::{Limit, SignInLimits};
use serde_json::json;
use std::time::Duration;

fn tight(auth: api::AuthSettings) -> api::AuthSettings {
    let hour = Duration::from_secs(3600);
    auth.with_limits(SignInLimits {
        per_address: Limit::new(4, hour),
        per_email: Limit::new(2, hour),
    })
    .with_client_address_header(poem::http::HeaderName::from_static("x-forwarded-for"))
}

#[tokio::test]
async fn guessing_one_password_is_throttled_even_with_the_right_one() {
    let app = App::spawn_with(tight).await;
    let ada = app.register("ada@example.com").await;
    let app_ref = &app;
    let login = |address: &'static str, email: &str, password: &str| {
        let body = json!({"email": email, "password": password});
        async move {
            app_ref
                .call_with(
                    "POST",
                    "/v1/auth/login",
                    None,
                    Some(body),
                    &[("x-forwarded-for", address)],
                )
                .await
        }
    };

    // Two guesses for Ada from two addresses, then her email is limited from anywhere.
    login("10.0.0.1", &ada.email, "guess one")
        .await
        .error(401, "invalid_credentials");
    login("10.0.0.2", &ada.email, "guess two")
        .await
        .error(401, "invalid_credentials");
    let limited = login("10.0.0.3", &ada.email, PASSWORD).await;
    limited.error(429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(limited.body["error"]["details"]["retry_after"], retry_after);

    // An unknown email is limited the same way (the limit tells nothing about who exists).
    for _ in 0..2 {
        login("10.0.0.4", "nobody@example.com", "x")
            .await
            .error(401, "invalid_credentials");
    }
    login("10.0.0.5", "nobody@example.com", "x")
        .await
        .error(429, "rate_limited");

    // One address trying many emails: four attempts (the register above came from the
    // listener's own address), then 429 whatever the email.
    for i in 0..4 {
        login("10.9.9.9", &format!("user{i}@example.com"), "x")
            .await
            .error(401, "invalid_credentials");
    }
    login("10.9.9.9", "fresh@example.com", "x")
        .await
        .error(429, "rate_limited");
    app.shutdown().await;
}

#[tokio::test]
async fn registrations_from_one_address_are_throttled() {
    let app = App::spawn_with(tight).await;
    let app_ref = &app;
    let register = |i: usize| {
        let body = json!({"email": format!("u{i}@example.com"), "password": PASSWORD, "name": "U"});
        async move {
            app_ref
                .call_with(
                    "POST",
                    "/v1/auth/register",
                    None,
                    Some(body),
                    &[("x-forwarded-for", "10.1.1.1")],
                )
                .await
        }
    };
    for i in 0..4 {
        register(i).await.ok(201);
    }
    let r = register(4).await;
    r.error(429, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    // The last entry of X-Forwarded-For is the address the proxy saw: another client is fine.
    app.call_with(
        "POST",
        "/v1/auth/register",
        None,
        Some(json!({"email": "other@example.com", "password": PASSWORD, "name": "O"})),
        &[("x-forwarded-for", "10.1.1.1, 10.2.2.2")],
    )
    .await
    .ok(201);
    app.shutdown().await;
}

#[tokio::test]
async fn each_credential_has_a_request_budget() {
    let app = App::spawn_with(|auth| {
        App::generous(auth).with_api_rate_limit(api::ApiRateLimit::new(1, 3))
    })
    .await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..3 {
        app.get("/v1/me", &ada.access).await.ok(200);
    }
    let limited = app
        .get(&format!("/v1/accounts/{}", ada.account_id), &ada.access)
        .await;
    limited.error(429, "rate_limited");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    assert_eq!(limited.body["error"]["details"]["retry_after"], retry_after);
    // Another sign-in of the same user shares the budget.
    let again = app.login(&ada.email, PASSWORD).await;
    let second = again.ok(200)["access_token"].as_str().unwrap().to_owned();
    app.get("/v1/me", &second).await.error(429, "rate_limited");
    // Another credential has its own; endpoints without credentials are not counted.
    let bea = app.register("bea@example.com").await;
    app.get("/v1/me", &bea.access).await.ok(200);
    app.call("GET", "/v1/health", None, None).await;
    // Bad credentials are still a 401, not a 429.
    app.get("/v1/me", "lbk_nope")
        .await
        .error(401, "unauthorized");
    app.shutdown().await;
}
