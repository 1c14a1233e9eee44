//! `created[...]` filters and the subscription status filter.

use reqwest::StatusCode;
use sandbox::stripe::{CREATED_BASE, CREATED_STEP};
use serde_json::Value;

use crate::{Harness, assert_stripe_error, ids};

fn created(record: &Value) -> i64 {
    record["created"].as_i64().unwrap()
}

#[tokio::test]
async fn created_filters_select_by_timestamp() {
    let harness = Harness::with_seed(11).await;
    let all: Vec<Value> = harness.sandbox.stripe().records("charges").collect();
    let pivot = CREATED_BASE + 20 * CREATED_STEP;
    type Keep = fn(i64, i64) -> bool;
    let cases: [(&str, i64, Keep); 4] = [
        ("gte", pivot, |c, p| c >= p),
        ("gt", pivot, |c, p| c > p),
        ("lte", pivot, |c, p| c <= p),
        ("lt", pivot, |c, p| c < p),
    ];
    for (op, at, keep) in cases {
        // Both the encoded form a client library sends and raw brackets.
        for name in [format!("created%5B{op}%5D"), format!("created[{op}]")] {
            let walked = harness.walk("charges", 7, &format!("&{name}={at}")).await;
            let expected: Vec<Value> = all
                .iter()
                .filter(|r| keep(created(r), at))
                .cloned()
                .collect();
            assert_eq!(ids(&walked), ids(&expected), "created[{op}]={at}");
        }
    }
    assert_eq!(
        harness
            .walk("charges", 100, &format!("&created[gte]={pivot}"))
            .await
            .len(),
        30
    );

    // A window between two records' timestamps, and a combined range.
    let between = harness
        .walk(
            "charges",
            10,
            &format!(
                "&created[gt]={}&created[lt]={}",
                pivot,
                pivot + CREATED_STEP
            ),
        )
        .await;
    assert!(between.is_empty());
    let window = harness
        .walk(
            "charges",
            3,
            &format!(
                "&created[gte]={pivot}&created[lt]={}",
                pivot + 5 * CREATED_STEP
            ),
        )
        .await;
    assert_eq!(window.len(), 5);
    let exact = harness
        .walk("charges", 10, &format!("&created={pivot}"))
        .await;
    assert_eq!(
        ids(&exact),
        vec![harness.sandbox.stripe().id_of("charges", 20)]
    );
    let far_future = harness
        .walk("charges", 10, "&created[gte]=9223372036854775807")
        .await;
    assert!(far_future.is_empty());
}

#[tokio::test]
async fn created_filters_reject_non_numbers() {
    let harness = Harness::with_seed(12).await;
    for query in ["created[gte]=yesterday", "created[lt]=1.5", "created=abc"] {
        let answer = harness.get(&format!("/v1/customers?{query}")).await;
        assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
        let param = query.split('=').next().unwrap();
        assert_eq!(answer.body["error"]["param"], param);
    }
    let unknown = harness.get("/v1/customers?created[after]=1").await;
    assert_stripe_error(&unknown, StatusCode::BAD_REQUEST, "invalid_request_error");
}

#[tokio::test]
async fn subscriptions_hide_canceled_unless_status_all() {
    let harness = Harness::with_seed(13).await;
    let all: Vec<Value> = harness.sandbox.stripe().records("subscriptions").collect();
    let canceled = all.iter().filter(|s| s["status"] == "canceled").count();
    assert!(
        canceled > 0 && canceled < all.len(),
        "seed 13 has {canceled} canceled of {}",
        all.len()
    );

    let default = harness.walk("subscriptions", 10, "").await;
    let not_canceled: Vec<Value> = all
        .iter()
        .filter(|s| s["status"] != "canceled")
        .cloned()
        .collect();
    assert_eq!(default, not_canceled);

    assert_eq!(harness.walk("subscriptions", 10, "&status=all").await, all);

    let only_canceled = harness.walk("subscriptions", 4, "&status=canceled").await;
    assert_eq!(only_canceled.len(), canceled);
    assert!(only_canceled.iter().all(|s| s["status"] == "canceled"));

    let active = harness.walk("subscriptions", 4, "&status=active").await;
    assert!(!active.is_empty() && active.iter().all(|s| s["status"] == "active"));

    let bad = harness.get("/v1/subscriptions?status=sleeping").await;
    assert_stripe_error(&bad, StatusCode::BAD_REQUEST, "invalid_request_error");
    assert_eq!(bad.body["error"]["param"], "status");

    // Only subscriptions take a status filter, as in Stripe.
    let elsewhere = harness.get("/v1/customers?status=all").await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
}
