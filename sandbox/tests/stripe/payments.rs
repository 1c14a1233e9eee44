//! Payment intents, refunds, balance transactions and events: their filters, the 30-day
//! event window, and payments settling as time passes.

use reqwest::StatusCode;
use sandbox::stripe::{CREATED_BASE, CREATED_STEP, EVENT_RETENTION_SECS, SETTLEMENT_SECS};
use serde_json::Value;

use crate::{Harness, assert_stripe_error, ids};

const DAY: u64 = 86_400;

fn created(record: &Value) -> i64 {
    record["created"].as_i64().unwrap()
}

#[tokio::test]
async fn created_filters_select_by_timestamp_on_every_new_stream() {
    let harness = Harness::with_seed(61).await;
    let pivot = CREATED_BASE + 20 * CREATED_STEP;
    for stream in [
        "payment_intents",
        "refunds",
        "balance_transactions",
        "events",
    ] {
        let all: Vec<Value> = harness.sandbox.stripe().records(stream).collect();
        for (op, keep) in [
            ("gte", (|c, p| c >= p) as fn(i64, i64) -> bool),
            ("gt", |c, p| c > p),
            ("lte", |c, p| c <= p),
            ("lt", |c, p| c < p),
        ] {
            let walked = harness
                .walk(stream, 7, &format!("&created[{op}]={pivot}"))
                .await;
            let expected: Vec<Value> = all
                .iter()
                .filter(|r| keep(created(r), pivot))
                .cloned()
                .collect();
            assert!(!expected.is_empty(), "{stream} created[{op}]");
            assert_eq!(ids(&walked), ids(&expected), "{stream} created[{op}]");
        }
    }
}

#[tokio::test]
async fn payment_intents_filter_by_customer() {
    let harness = Harness::with_seed(62).await;
    let all: Vec<Value> = harness
        .sandbox
        .stripe()
        .records("payment_intents")
        .collect();
    let customer = all[3]["customer"].as_str().unwrap();
    let walked = harness
        .walk("payment_intents", 2, &format!("&customer={customer}"))
        .await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|p| p["customer"] == customer)
        .cloned()
        .collect();
    assert_eq!(walked, expected);

    let answer = harness.get("/v1/payment_intents?customer=cus_nobody").await;
    assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
    assert_eq!(answer.body["error"]["code"], "resource_missing");
    assert_eq!(answer.body["error"]["param"], "customer");
    // Only payment intents take a customer filter here.
    let elsewhere = harness
        .get(&format!("/v1/refunds?customer={customer}"))
        .await;
    assert_stripe_error(&elsewhere, StatusCode::BAD_REQUEST, "invalid_request_error");
}

#[tokio::test]
async fn refunds_filter_by_charge_and_payment_intent() {
    let harness = Harness::with_seed(63).await;
    let stripe = harness.sandbox.stripe();
    let refund = stripe.record("refunds", 6);
    let charge = refund["charge"].as_str().unwrap();
    let intent = refund["payment_intent"].as_str().unwrap();
    for query in [
        format!("charge={charge}"),
        format!("payment_intent={intent}"),
        format!("charge={charge}&payment_intent={intent}"),
    ] {
        let page = harness.get(&format!("/v1/refunds?{query}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.body["data"], serde_json::json!([refund]), "{query}");
    }
    // Charge 7 was declined: nothing to refund.
    let declined = stripe.id_of("charges", 7);
    let page = harness.get(&format!("/v1/refunds?charge={declined}")).await;
    assert_eq!(page.body["data"], serde_json::json!([]));
    let other_intent = stripe.id_of("payment_intents", 11);
    let page = harness
        .get(&format!(
            "/v1/refunds?charge={charge}&payment_intent={other_intent}"
        ))
        .await;
    assert_eq!(page.body["data"], serde_json::json!([]), "they disagree");
    for query in ["charge=ch_nope", "payment_intent=pi_nope"] {
        let answer = harness.get(&format!("/v1/refunds?{query}")).await;
        assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
        assert_eq!(answer.body["error"]["code"], "resource_missing", "{query}");
    }
}

#[tokio::test]
async fn balance_transactions_filter_by_source_type_and_currency() {
    let harness = Harness::with_seed(64).await;
    let stripe = harness.sandbox.stripe();
    let all: Vec<Value> = stripe.records("balance_transactions").collect();
    let charge = stripe.record("charges", 1);
    let refund = stripe.record("refunds", 1);
    for (source, txn) in [
        (&charge, &charge["balance_transaction"]),
        (&refund, &refund["balance_transaction"]),
    ] {
        let page = harness
            .get(&format!(
                "/v1/balance_transactions?source={}",
                source["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(
            ids(page.body["data"].as_array().unwrap()),
            [txn.as_str().unwrap()]
        );
    }
    let refunds = harness
        .walk("balance_transactions", 5, "&type=refund")
        .await;
    let expected: Vec<Value> = all
        .iter()
        .filter(|t| t["type"] == "refund")
        .cloned()
        .collect();
    assert_eq!(refunds, expected);
    assert_eq!(refunds.len() as u64, stripe.count("refunds"));
    assert_eq!(
        harness
            .walk("balance_transactions", 100, "&currency=usd")
            .await,
        all
    );
    for empty in [
        "type=payout",
        "currency=eur",
        "payout=po_1NbO3",
        "source=tr_1Nb",
    ] {
        let page = harness
            .get(&format!("/v1/balance_transactions?{empty}"))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{empty}");
        assert_eq!(page.body["data"], serde_json::json!([]), "{empty}");
    }
    for (bad, param) in [("type=bogus", "type"), ("currency=USD", "currency")] {
        let answer = harness
            .get(&format!("/v1/balance_transactions?{bad}"))
            .await;
        assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
        assert_eq!(answer.body["error"]["param"], param);
    }
}

#[tokio::test]
async fn events_filter_by_type() {
    let harness = Harness::with_seed(65).await;
    let all: Vec<Value> = harness.sandbox.stripe().records("events").collect();
    let of_type = |keep: &dyn Fn(&str) -> bool| -> Vec<Value> {
        all.iter()
            .filter(|e| keep(e["type"].as_str().unwrap()))
            .cloned()
            .collect()
    };
    let charges = harness.walk("events", 10, "&type=charge.*").await;
    assert_eq!(charges, of_type(&|t| t.starts_with("charge.")));
    assert!(charges.iter().any(|e| e["type"] == "charge.failed"));
    let succeeded = harness.walk("events", 10, "&type=charge.succeeded").await;
    assert_eq!(succeeded, of_type(&|t| t == "charge.succeeded"));
    let created = harness.walk("events", 10, "&type=*.created").await;
    assert_eq!(created, of_type(&|t| t.ends_with(".created")));
    let two = harness
        .walk(
            "events",
            10,
            "&types[]=customer.created&types[]=refund.created",
        )
        .await;
    assert_eq!(
        two,
        of_type(&|t| t == "customer.created" || t == "refund.created")
    );
    assert_eq!(
        harness.walk("events", 100, "&delivery_success=true").await,
        all
    );
    let undelivered = harness.get("/v1/events?delivery_success=false").await;
    assert_eq!(undelivered.body["data"], serde_json::json!([]));

    let too_many: String = (0..21).map(|i| format!("&types[]=t{i}")).collect();
    for bad in [
        "type=charge.*&types[]=charge.failed".to_owned(),
        too_many,
        "delivery_success=maybe".to_owned(),
        "status=all".to_owned(),
    ] {
        let answer = harness.get(&format!("/v1/events?{bad}")).await;
        assert_stripe_error(&answer, StatusCode::BAD_REQUEST, "invalid_request_error");
    }
}

#[tokio::test]
async fn events_are_listed_for_30_days_only() {
    let harness = Harness::with_seed(66).await;
    let stripe = harness.sandbox.stripe();
    let before: Vec<Value> = stripe.records("events").collect();
    assert_eq!(harness.walk("events", 100, "").await, before);
    let oldest = before.last().unwrap()["id"].as_str().unwrap().to_owned();

    // A month later, everything created before is gone from the listing and from retrieval.
    stripe.advance(20 * DAY);
    stripe.grow("customers", 5);
    assert_eq!(
        harness.walk("events", 100, "").await.len(),
        before.len() + 5
    );
    stripe.advance(15 * DAY);
    let now = stripe.now();
    let listed = harness.walk("events", 100, "&created[gte]=0").await;
    assert_eq!(listed.len(), 5, "only the customers of day 20 remain");
    assert!(listed.iter().all(|e| e["type"] == "customer.created"));
    assert!(
        listed
            .iter()
            .all(|e| created(e) >= now - EVENT_RETENTION_SECS)
    );
    assert_eq!(stripe.count("events"), 5);
    let gone = harness.get(&format!("/v1/events/{oldest}")).await;
    assert_stripe_error(&gone, StatusCode::NOT_FOUND, "invalid_request_error");

    // An expired event still marks a place in the list.
    let after_it = harness
        .get(&format!("/v1/events?ending_before={oldest}&limit=100"))
        .await;
    assert_eq!(after_it.status, StatusCode::OK);
    assert_eq!(ids(after_it.body["data"].as_array().unwrap()), ids(&listed));

    // The objects themselves stay listed.
    assert_eq!(stripe.count("customers"), 105);
    assert_eq!(harness.walk("customers", 100, "").await.len(), 105);
}

#[tokio::test]
async fn pending_payments_settle_as_time_passes() {
    let harness = Harness::with_seed(67).await;
    let stripe = harness.sandbox.stripe();
    let intent = stripe.id_of("payment_intents", 13);
    let refund = stripe.id_of("refunds", 1);
    let statuses = || async {
        let mut statuses = Vec::new();
        for path in [
            format!("/v1/payment_intents/{intent}"),
            format!("/v1/refunds/{refund}"),
        ] {
            statuses.push(harness.get(&path).await.body["status"].clone());
        }
        let funds = harness.walk("balance_transactions", 100, "").await;
        statuses.extend(funds.iter().map(|t| t["status"].clone()));
        statuses.sort_by_key(Value::to_string);
        statuses.dedup();
        statuses
    };
    // Charge 13 waits for its funds, refund 1 for the card network, and every balance
    // transaction for its `available_on`.
    assert_eq!(statuses().await, ["pending", "processing"]);
    stripe.advance(SETTLEMENT_SECS as u64);
    assert_eq!(statuses().await, ["available", "succeeded"]);
    // The events keep the state they were created with.
    let processing = harness
        .walk("events", 100, "&type=payment_intent.processing")
        .await;
    assert!(
        processing
            .iter()
            .any(|e| e["data"]["object"]["id"] == intent.as_str())
    );
}
