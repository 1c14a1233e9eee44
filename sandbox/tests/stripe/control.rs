//! `/_sandbox/...` control endpoints, as a test in another process drives them.

use reqwest::StatusCode;
use sandbox::{FaultPlan, Stats};
use serde_json::json;

use crate::Harness;

#[tokio::test]
async fn health_reports_seed_and_counts() {
    let harness = Harness::with_seed(41).await;
    let answer = harness
        .send(harness.client.get(harness.url("/_sandbox/health")))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "ok");
    assert_eq!(answer.body["seed"], 41);
    assert_eq!(answer.body["records"]["stripe"]["customers"], 100);
    assert_eq!(answer.body["records"]["stripe"]["subscriptions"], 50);
    assert_eq!(answer.body["records"]["stripe"]["payment_intents"], 50);
    assert_eq!(
        answer.body["records"]["stripe"]["events"],
        harness.sandbox.stripe().count("events")
    );
}

#[tokio::test]
async fn stats_and_reset() {
    let harness = Harness::with_seed(42).await;
    harness.get("/v1/customers").await;
    harness.get("/v1/customers?limit=0").await;
    harness
        .send(harness.client.get(harness.url("/v1/customers")))
        .await;

    let answer = harness
        .send(harness.client.get(harness.url("/_sandbox/stats")))
        .await;
    let stats: Stats = serde_json::from_value(answer.body).unwrap();
    assert_eq!(
        stats,
        Stats {
            requests: 3,
            ok: 1,
            unauthorized: 1,
            bad_requests: 1,
            ..Stats::default()
        }
    );
    assert_eq!(
        stats,
        harness.sandbox.stats(),
        "control requests are not counted"
    );

    let reset = harness
        .send(harness.client.post(harness.url("/_sandbox/stats/reset")))
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT);
    assert_eq!(harness.sandbox.stats(), Stats::default());
}

#[tokio::test]
async fn faults_over_http() {
    let harness = Harness::with_seed(43).await;
    let put = |body: String| {
        harness
            .client
            .put(harness.url("/_sandbox/faults"))
            .header("content-type", "application/json")
            .body(body)
    };

    let answer = harness
        .send(put(json!({"rate_limit_every": 2}).to_string()))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let expected = FaultPlan {
        rate_limit_every: Some(2),
        ..FaultPlan::default()
    };
    assert_eq!(
        serde_json::from_value::<FaultPlan>(answer.body).unwrap(),
        expected
    );
    assert_eq!(harness.sandbox.faults(), expected);
    let current = harness
        .send(harness.client.get(harness.url("/_sandbox/faults")))
        .await;
    assert_eq!(
        serde_json::from_value::<FaultPlan>(current.body).unwrap(),
        expected
    );

    assert_eq!(harness.get("/v1/customers").await.status, StatusCode::OK);
    assert_eq!(
        harness.get("/v1/customers").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    for bad in [
        "{not json",
        r#"{"rate_limit_evry": 2}"#,
        r#"{"delay_ms": -1}"#,
        "",
    ] {
        let answer = harness.send(put(bad.to_owned())).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid fault plan")
        );
    }
    assert_eq!(
        harness.sandbox.faults(),
        expected,
        "a rejected plan changes nothing"
    );
}

#[tokio::test]
async fn grow_over_http() {
    let harness = Harness::with_seed(44).await;
    let grow = |path: &str| harness.client.post(harness.url(path));

    let answer = harness
        .send(grow("/_sandbox/stripe/invoices/grow?n=5"))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["count"], 55);
    assert_eq!(harness.sandbox.stripe().count("invoices"), 55);
    let newest = harness.get("/v1/invoices?limit=1").await;
    assert_eq!(
        newest.body["data"][0]["id"],
        harness.sandbox.stripe().id_of("invoices", 54)
    );

    let unknown = harness
        .send(grow("/_sandbox/stripe/disputes/grow?n=5"))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let follows = harness
        .send(grow("/_sandbox/stripe/refunds/grow?n=5"))
        .await;
    assert_eq!(follows.status, StatusCode::BAD_REQUEST);
    assert!(
        follows.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("follow charges"),
        "{}",
        follows.body
    );
    for bad in ["", "?n=", "?n=-3", "?n=many"] {
        let answer = harness
            .send(grow(&format!("/_sandbox/stripe/invoices/grow{bad}")))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(answer.body["error"]["message"].is_string());
    }
    assert_eq!(harness.sandbox.stripe().count("invoices"), 55);
}

#[tokio::test]
async fn advance_over_http() {
    let harness = Harness::with_seed(46).await;
    let before = harness.sandbox.stripe().now();
    let advance = |query: &str| {
        harness
            .client
            .post(harness.url(&format!("/_sandbox/stripe/advance{query}")))
    };
    let answer = harness.send(advance("?secs=3600")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["now"], before + 3600);
    assert_eq!(harness.sandbox.stripe().now(), before + 3600);
    for bad in ["", "?secs=-1", "?secs=soon"] {
        let answer = harness.send(advance(bad)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert_eq!(harness.sandbox.stripe().now(), before + 3600);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let harness = Harness::with_seed(45).await;
    let url = harness.url("/_sandbox/health");
    assert_eq!(
        harness.client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    let Harness { running, .. } = harness;
    running.shutdown().await;
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(&url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}
