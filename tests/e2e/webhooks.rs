//! Webhook notifications through the worker: a receiver that is down when a job finishes gets
//! the `job.succeeded` notification once it is back (a minute later), exactly once and signed;
//! the delivery log shows the failed attempts and the success. A job whose connection the
//! platform refuses is announced as `job.needs_reauth`.

use crate::harness::*;
use connectors::webhook::signature;
use entities::{repo, webhook_delivery};
use poem::{
    EndpointExt, Route, Server, handler, http::HeaderMap, listener::TcpListener, post, web::Data,
};
use sandbox::SandboxConfig;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: HeaderMap,
    body: String,
}

pub(crate) type Inbox = Arc<Mutex<Vec<Received>>>;

#[handler]
fn receive(headers: &HeaderMap, body: String, inbox: Data<&Inbox>) -> &'static str {
    inbox.lock().unwrap().push(Received {
        headers: headers.clone(),
        body,
    });
    "ok"
}

/// Serves `inbox` on `port` until `stop` is cancelled.
pub(crate) async fn receiver(port: u16, inbox: Inbox, stop: CancellationToken) {
    let app = Route::new().at("/hook", post(receive)).data(inbox);
    Server::new(TcpListener::bind(format!("127.0.0.1:{port}")))
        .run_with_graceful_shutdown(app, stop.cancelled_owned(), None)
        .await
        .expect("the receiver listens");
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The notifications of `event` received so far, each checked against `secret`.
pub(crate) fn received(inbox: &Inbox, event: &str, secret: &str) -> Vec<Value> {
    let inbox = inbox.lock().unwrap().clone();
    inbox
        .iter()
        .filter(|r| header(r, "x-listbackup-event") == event)
        .map(|r| {
            let timestamp = header(r, "x-listbackup-timestamp");
            assert_eq!(
                header(r, "x-listbackup-signature"),
                signature(secret, timestamp, r.body.as_bytes()),
                "a valid signature"
            );
            let sent: i64 = timestamp.parse().expect("unix seconds");
            assert!(
                (chrono::Utc::now().timestamp() - sent).abs() < 600,
                "{sent}"
            );
            let payload: Value = serde_json::from_str(&r.body).expect("a JSON body");
            assert_eq!(payload["event"], event);
            assert_eq!(header(r, "x-listbackup-delivery"), payload["delivery_id"]);
            payload
        })
        .collect()
}

pub(crate) async fn wait_for(
    inbox: &Inbox,
    event: &str,
    secret: &str,
    patience: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let got = received(inbox, event, secret);
        if !got.is_empty() {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "no {event} notification in {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn deliveries(stack: &Stack, tenant: &Tenant, webhook_id: &str) -> Vec<Value> {
    let r = http()
        .get(format!(
            "{}/v1/webhooks/{webhook_id}/deliveries",
            stack.api_base
        ))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_each_notification_once_and_signed() {
    let config = SandboxConfig::new(71)
        .with_records("stripe.customers", 120)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");

    // A port nothing listens on yet: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = http()
        .post(format!(
            "{}/v1/accounts/{}/webhooks",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&json!({
            "url": format!("http://127.0.0.1:{port}/hook"),
            "events": ["job.succeeded", "job.failed", "job.needs_reauth"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let webhook_id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();

    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    let finished = Instant::now();

    // While the receiver is down, attempts fail and are recorded.
    let deadline = finished + Duration::from_secs(55);
    let delivery = loop {
        let row = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(webhook_id.as_str()))
            .filter(webhook_delivery::Column::Event.eq(repo::JOB_SUCCEEDED))
            .one(&stack.db)
            .await
            .unwrap();
        if let Some(row) = row.filter(|r| r.attempts >= 2) {
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempts recorded\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(delivery.status, repo::DELIVERY_PENDING);
    assert!(delivery.last_error.is_some() && delivery.last_status_code.is_none());
    assert!(delivery.dispatched_at.is_some());

    // The receiver comes up a minute after the job finished.
    tokio::time::sleep_until((finished + Duration::from_secs(60)).into()).await;
    let inbox = Inbox::default();
    let stop = CancellationToken::new();
    let server = tokio::spawn(receiver(port, inbox.clone(), stop.clone()));
    let got = wait_for(
        &inbox,
        repo::JOB_SUCCEEDED,
        &secret,
        Duration::from_secs(420),
    )
    .await;
    let payload = &got[0];
    assert_eq!(payload["delivery_id"], delivery.id.as_str());
    assert_eq!(payload["webhook_id"], webhook_id.as_str());
    assert_eq!(payload["account_id"], tenant.account_id.as_str());
    assert_eq!(payload["job"]["id"], job_id.as_str());
    assert_eq!(payload["job"]["source_id"], tenant.source_id.as_str());
    assert_eq!(payload["job"]["status"], "succeeded");
    assert_eq!(payload["job"]["kind"], "backup");
    assert_eq!(payload["job"]["snapshot_id"], job["snapshot_id"]);
    assert_eq!(payload["job"]["records"], job["records"]);

    // The log shows every failed attempt and then the success.
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let items = deliveries(&stack, &tenant, &webhook_id).await;
        let item = items
            .into_iter()
            .find(|d| d["id"] == delivery.id.as_str())
            .expect("the delivery is in the log");
        if item["status"] == "delivered" {
            break item;
        }
        assert!(Instant::now() < deadline, "{item}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let attempts = logged["attempt_log"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{logged}");
    assert_eq!(logged["attempts"], attempts.len());
    let (success, failures) = attempts.split_last().unwrap();
    assert_eq!(success["status_code"], 200, "{logged}");
    assert!(success.get("error").is_none(), "{logged}");
    for failed in failures {
        assert!(failed["error"].is_string(), "{logged}");
        assert!(failed.get("status_code").is_none(), "{logged}");
    }
    assert_eq!(logged["last_status_code"], 200);
    assert!(logged["delivered_at"].is_string());
    assert_eq!(
        received(&inbox, repo::JOB_SUCCEEDED, &secret).len(),
        1,
        "delivered exactly once"
    );

    // A source whose key the platform refuses: the job waits for a reconnection, and says so.
    let refused = stack
        .add_source(
            &tenant,
            "stripe",
            json!({"api_key": "sk_test_not_the_key"}),
            json!({"base_url": stack.sandbox_url()}),
        )
        .await
        .unwrap();
    let waiting = start_backup_of(&stack, &tenant, &refused).await.unwrap();
    let got = wait_for(
        &inbox,
        repo::JOB_NEEDS_REAUTH,
        &secret,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["job"]["id"], waiting.as_str());
    assert_eq!(got[0]["job"]["status"], "needs_reauth");
    assert!(got[0]["job"]["error"].is_string(), "{}", got[0]);
    assert!(got[0]["job"]["snapshot_id"].is_null(), "{}", got[0]);
    assert_eq!(
        received(&inbox, repo::JOB_SUCCEEDED, &secret).len(),
        1,
        "still exactly once"
    );

    stop.cancel();
    let _ = server.await;
    stack.shutdown().await;
}
