//! Injected throttling, server errors and latency.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sandbox::{FaultPlan, Stats};

use crate::{Harness, assert_stripe_error};

async fn statuses(harness: &Harness, n: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..n {
        statuses.push(harness.get("/v1/customers?limit=2").await.status);
    }
    statuses
}

#[tokio::test]
async fn every_third_request_is_429_with_retry_after() {
    let harness = Harness::with_seed(31).await;
    harness.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(3),
        retry_after_secs: 2,
        ..FaultPlan::default()
    });
    for round in 0..3 {
        assert_eq!(
            harness.get("/v1/customers").await.status,
            StatusCode::OK,
            "round {round}"
        );
        assert_eq!(
            harness.get("/v1/charges").await.status,
            StatusCode::OK,
            "round {round}"
        );
        let limited = harness.get("/v1/products").await;
        assert_stripe_error(&limited, StatusCode::TOO_MANY_REQUESTS, "rate_limit_error");
        assert_eq!(limited.headers["retry-after"], "2");
    }
    assert_eq!(
        harness.sandbox.stats(),
        Stats {
            requests: 9,
            ok: 6,
            rate_limited: 3,
            ..Stats::default()
        }
    );
}

#[tokio::test]
async fn server_errors_and_the_429_precedence() {
    let harness = Harness::with_seed(32).await;
    harness.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(2),
        server_error_every: Some(3),
        ..FaultPlan::default()
    });
    let ok = StatusCode::OK;
    let limited = StatusCode::TOO_MANY_REQUESTS;
    let failed = StatusCode::INTERNAL_SERVER_ERROR;
    assert_eq!(
        statuses(&harness, 6).await,
        vec![ok, limited, failed, limited, ok, limited],
        "request 6 is due both and answers 429"
    );
    let stats = harness.sandbox.stats();
    assert_eq!(
        (stats.rate_limited, stats.server_errors, stats.ok),
        (3, 1, 2)
    );

    harness.sandbox.set_faults(FaultPlan {
        server_error_every: Some(1),
        ..FaultPlan::default()
    });
    let answer = harness.get("/v1/customers").await;
    assert_stripe_error(&answer, StatusCode::INTERNAL_SERVER_ERROR, "api_error");

    harness.sandbox.set_faults(FaultPlan::default());
    assert_eq!(statuses(&harness, 3).await, vec![ok; 3]);
}

#[tokio::test]
async fn delay_slows_every_platform_request() {
    let harness = Harness::with_seed(33).await;
    harness.sandbox.set_faults(FaultPlan {
        delay_ms: 1500,
        ..FaultPlan::default()
    });
    let started = Instant::now();
    assert_eq!(harness.get("/v1/customers").await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(1500));

    // Control endpoints are not slowed (nor counted).
    let started = Instant::now();
    harness
        .send(harness.client.get(harness.url("/_sandbox/health")))
        .await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(harness.sandbox.stats().requests, 1);
}

#[tokio::test]
async fn token_bucket_throttles_bursts() {
    let harness = Harness::with_seed(34).await;
    harness.sandbox.set_faults(FaultPlan {
        max_requests_per_sec: Some(2),
        ..FaultPlan::default()
    });
    // Ten quick requests cannot all fit in a bucket of two refilled at 2/s
    // unless they take over four seconds.
    let mut limited = 0;
    for _ in 0..10 {
        let answer = harness.get("/v1/customers?limit=1").await;
        if answer.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(answer.headers["retry-after"], "1");
            limited += 1;
        }
    }
    assert!(limited > 0);
    assert_eq!(harness.sandbox.stats().rate_limited, limited);
}

#[tokio::test]
async fn bare_429s_cycling_5xx_resets_and_slow_answers() {
    let harness = Harness::with_seed(35).await;
    harness.sandbox.set_faults(FaultPlan {
        bare_rate_limit_every: Some(4),
        server_error_every: Some(3),
        server_error_statuses: vec![502, 503],
        reset_every: Some(5),
        ..FaultPlan::default()
    });
    let ok = StatusCode::OK;
    let mut seen = Vec::new();
    for n in 1..=6 {
        let request = harness
            .client
            .get(harness.url("/v1/customers?limit=3"))
            .bearer_auth(crate::KEY);
        let response = request.send().await.expect("the answer starts");
        let status = response.status();
        let retry_after = response.headers().get("retry-after").cloned();
        let body = response.bytes().await;
        if n == 5 {
            assert_eq!(status, ok, "a reset keeps the real status");
            assert!(body.is_err(), "request 5 is cut off mid-body: {body:?}");
            continue;
        }
        assert!(body.is_ok(), "request {n} reads whole");
        assert!(retry_after.is_none(), "request {n}: no Retry-After");
        seen.push(status);
    }
    assert_eq!(
        seen,
        vec![
            ok,
            ok,
            StatusCode::BAD_GATEWAY,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE
        ]
    );
    let stats = harness.sandbox.stats();
    assert_eq!(
        (
            stats.requests,
            stats.resets,
            stats.rate_limited,
            stats.server_errors
        ),
        (6, 1, 1, 2)
    );

    harness.sandbox.set_faults(FaultPlan {
        slow_every: Some(2),
        slow_ms: 1500,
        ..FaultPlan::default()
    });
    assert_eq!(harness.get("/v1/customers").await.status, ok);
    let started = Instant::now();
    assert_eq!(harness.get("/v1/customers").await.status, ok);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "request 2 is"
    );
}

#[tokio::test]
async fn pretty_printed_answers_are_the_same_json_on_many_lines() {
    let harness = Harness::with_seed(37).await;
    let text = |r: reqwest::Response| async move { r.text().await.unwrap() };
    let url = harness.url("/v1/customers?limit=3");
    let get = || harness.client.get(&url).bearer_auth(crate::KEY).send();
    let compact = text(get().await.unwrap()).await;
    harness.sandbox.set_faults(FaultPlan {
        pretty_json: true,
        ..FaultPlan::default()
    });
    let answer = get().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let pretty = text(answer).await;
    assert!(
        !compact.contains('\n') && pretty.lines().count() > 20,
        "{pretty}"
    );
    let value = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(value(&pretty), value(&compact));
}
