//! Limits, cursors, retrieval and growth during a walk.

use std::collections::HashSet;

use reqwest::StatusCode;
use sandbox::SandboxConfig;
use sandbox::stripe::STREAMS;
use serde_json::Value;

use crate::{Harness, assert_stripe_error, ids, last_id};

#[tokio::test]
async fn full_walk_returns_every_record_once_newest_first() {
    let harness = Harness::start(
        SandboxConfig::new(1)
            .with_records("stripe.customers", 237)
            .unwrap(),
    )
    .await;
    for stream in STREAMS {
        let extra = if stream == "subscriptions" {
            "&status=all"
        } else {
            ""
        };
        for limit in [1, 7, 100] {
            let walked = harness.walk(stream, limit, extra).await;
            let expected: Vec<Value> = harness.sandbox.stripe().records(stream).collect();
            assert_eq!(walked.len() as u64, harness.sandbox.stripe().count(stream));
            assert_eq!(walked, expected, "{stream} limit {limit}");
            let unique: HashSet<String> = ids(&walked).into_iter().collect();
            assert_eq!(unique.len(), walked.len(), "{stream}: duplicate ids");
            let created: Vec<i64> = walked
                .iter()
                .map(|r| r["created"].as_i64().unwrap())
                .collect();
            // A charge's balance transactions, and the events of one second, share `created`.
            let shared_seconds = matches!(stream, "balance_transactions" | "events");
            assert!(
                created
                    .windows(2)
                    .all(|w| w[0] > w[1] || (shared_seconds && w[0] == w[1])),
                "{stream}: not newest first"
            );
        }
    }
}

#[tokio::test]
async fn list_envelope_matches_stripe() {
    let harness = Harness::with_seed(2).await;
    let page = harness.get("/v1/invoices").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "application/json");
    assert_eq!(page.body["object"], "list");
    assert_eq!(page.body["url"], "/v1/invoices");
    assert_eq!(page.body["has_more"], true);
    assert_eq!(
        page.body["data"].as_array().unwrap().len(),
        10,
        "default limit"
    );
    assert_eq!(
        page.body["data"][0]["id"],
        harness.sandbox.stripe().id_of("invoices", 49)
    );
}

#[tokio::test]
async fn limit_rules() {
    let harness = Harness::with_seed(3).await;
    let all = harness.get("/v1/customers?limit=100").await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 100);
    assert_eq!(
        all.body["has_more"], false,
        "exactly 100 customers fit one page"
    );
    let one = harness.get("/v1/customers?limit=1").await;
    assert_eq!(one.body["data"].as_array().unwrap().len(), 1);

    for bad in ["0", "101", "abc", "-5"] {
        let answer = harness.get(&format!("/v1/customers?limit={bad}")).await;
        assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
        assert_eq!(answer.body["error"]["param"], "limit", "limit={bad}");
    }
    assert_eq!(harness.sandbox.stats().bad_requests, 4);
}

#[tokio::test]
async fn unknown_cursor_ids_are_resource_missing() {
    let harness = Harness::with_seed(4).await;
    let other = Harness::with_seed(5).await;
    let foreign = other.sandbox.stripe().id_of("customers", 3);
    let price = harness.sandbox.stripe().id_of("prices", 3);
    let future = harness.sandbox.stripe().id_of("customers", 100);
    for id in [
        "cus_doesnotexist",
        foreign.as_str(),
        price.as_str(),
        future.as_str(),
        "%F0%9F%92%A5",
    ] {
        for param in ["starting_after", "ending_before"] {
            let answer = harness.get(&format!("/v1/customers?{param}={id}")).await;
            assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
            assert_eq!(answer.body["error"]["code"], "resource_missing", "{id}");
            assert_eq!(answer.body["error"]["param"], param);
        }
    }
    let both = harness
        .get(&format!(
            "/v1/customers?starting_after={future}&ending_before={future}"
        ))
        .await;
    assert_stripe_error(&both, StatusCode::BAD_REQUEST, "invalid_request_error");
}

#[tokio::test]
async fn ending_before_returns_the_previous_page() {
    let harness = Harness::with_seed(6).await;
    let first = harness.get("/v1/customers?limit=10").await;
    let first_data = first.body["data"].as_array().unwrap().clone();
    let second = harness
        .get(&format!(
            "/v1/customers?limit=10&starting_after={}",
            last_id(&first_data)
        ))
        .await;
    let second_data = second.body["data"].as_array().unwrap().clone();
    assert_eq!(ids(&second_data).len(), 10);

    let back = harness
        .get(&format!(
            "/v1/customers?limit=10&ending_before={}",
            second_data[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(back.body["data"].as_array().unwrap(), &first_data);
    assert_eq!(
        back.body["has_more"], false,
        "nothing is newer than the first page"
    );

    let partial = harness
        .get(&format!(
            "/v1/customers?limit=3&ending_before={}",
            second_data[0]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        partial.body["data"].as_array().unwrap(),
        &first_data[7..].to_vec()
    );
    assert_eq!(partial.body["has_more"], true);
}

#[tokio::test]
async fn retrieve_one_by_id() {
    let harness = Harness::with_seed(7).await;
    for stream in STREAMS {
        // Charge 11's refund and balance transaction, customer 12's creation event.
        let index = match stream {
            "refunds" => 11,
            "balance_transactions" => 22,
            "events" => 96,
            _ => 12,
        };
        let id = harness.sandbox.stripe().id_of(stream, index);
        let answer = harness.get(&format!("/v1/{stream}/{id}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{stream}");
        assert_eq!(answer.body, harness.sandbox.stripe().record(stream, index));
    }
    // Charge 12 is not refunded.
    let none = harness.sandbox.stripe().id_of("refunds", 12);
    let answer = harness.get(&format!("/v1/refunds/{none}")).await;
    assert_stripe_error(&answer, StatusCode::NOT_FOUND, "invalid_request_error");
    let wrong_stream = harness.sandbox.stripe().id_of("products", 1);
    for id in ["cus_nope", wrong_stream.as_str()] {
        let answer = harness.get(&format!("/v1/customers/{id}")).await;
        assert_stripe_error(&answer, StatusCode::NOT_FOUND, "invalid_request_error");
        assert_eq!(answer.body["error"]["code"], "resource_missing");
    }
}

#[tokio::test]
async fn unknown_paths_answer_stripe_shaped_404s() {
    let harness = Harness::with_seed(8).await;
    for path in ["/v1/disputes", "/v1/customers/a/b", "/v1", "/nope"] {
        let answer = harness.get(path).await;
        assert_stripe_error(&answer, StatusCode::NOT_FOUND, "invalid_request_error");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Unrecognized request URL")
        );
    }
    let post = harness
        .send(
            harness
                .client
                .post(harness.url("/v1/customers"))
                .bearer_auth(crate::KEY),
        )
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.body["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn growth_mid_walk_neither_duplicates_nor_skips() {
    let harness = Harness::with_seed(9).await;
    let before: Vec<String> = ids(&harness
        .sandbox
        .stripe()
        .records("customers")
        .collect::<Vec<_>>());

    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = "/v1/customers?limit=10".to_owned();
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&starting_after={cursor}"));
        }
        let page = harness.get(&path).await;
        let data = page.body["data"].as_array().unwrap().clone();
        walked.extend(ids(&data));
        pages += 1;
        if pages == 3 {
            // New customers sign up while the backup runs.
            let grown = harness
                .send(
                    harness
                        .client
                        .post(harness.url("/_sandbox/stripe/customers/grow?n=25")),
                )
                .await;
            assert_eq!(grown.body["count"], 125);
        }
        if page.body["has_more"] == false {
            break;
        }
        cursor = Some(last_id(&data));
    }
    assert_eq!(
        walked, before,
        "the walk in progress sees exactly the records that existed"
    );

    let after = harness.walk("customers", 100, "").await;
    assert_eq!(after.len(), 125);
    assert_eq!(
        ids(&after[25..]),
        before,
        "old records keep their ids and order"
    );
    assert!(after[0]["created"].as_i64() > after[25]["created"].as_i64());
}

#[tokio::test]
async fn empty_streams_list_nothing() {
    let config = SandboxConfig::new(10)
        .with_records("stripe.products", 0)
        .unwrap();
    let harness = Harness::start(config).await;
    let page = harness.get("/v1/products").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["data"], serde_json::json!([]));
    assert_eq!(page.body["has_more"], false);
    harness.sandbox.stripe().grow("products", 2);
    assert_eq!(harness.walk("products", 1, "").await.len(), 2);
}
