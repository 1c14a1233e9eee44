//! Webhooks: created with a secret shown once (stored sealed), listed, read, changed, tested,
//! rotated and deleted; job events become delivery rows for the webhooks that want them, and
//! the delivery log shows them.

use crate::harness::*;
use entities::{
    JobKind, JobStatus, repo,
    sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter},
    webhook, webhook_delivery,
};
use serde_json::{Value, json};

const URL: &str = "https://hooks.example.com/listbackup";

async fn create(app: &App, user: &User, body: Value) -> Reply {
    app.post(
        &format!("/v1/accounts/{}/webhooks", user.account_id),
        &user.access,
        body,
    )
    .await
}

/// A job of a fresh source of `account_id`, moved to `status` with its event recorded the way
/// the worker records it.
async fn job_event(app: &App, account_id: &str, status: JobStatus, event: &str) -> Vec<String> {
    let conn = repo::create_connection(
        &app.db,
        account_id,
        "stripe",
        &format!("Stripe {}", entities::new_id()),
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    let source = repo::create_source(&app.db, &conn, &entities::new_id(), &[])
        .await
        .unwrap();
    let job = repo::create_job(&app.db, &source, JobKind::Sync)
        .await
        .unwrap();
    let error = (status != JobStatus::Succeeded).then(|| "HTTP 401: invalid key".to_owned());
    assert!(
        repo::finish_job(&app.db, &job.id, status, error)
            .await
            .unwrap()
    );
    repo::enqueue_job_event(&app.db, &job.id, event)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_webhook_is_created_with_a_secret_shown_once_and_managed() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;

    let created = create(
        &app,
        &ada,
        json!({"url": URL, "events": ["job.succeeded", "job.failed", "job.succeeded"], "description": " ops "}),
    )
    .await;
    let created = created.ok(201).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(created["url"], URL);
    assert_eq!(created["events"], json!(["job.succeeded", "job.failed"]));
    assert_eq!(created["description"], "ops");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["account_id"], ada.account_id.as_str());
    let stored = webhook::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored.secret_sealed.contains(&secret), "stored sealed");
    assert_eq!(
        app.master.open_string(&stored.secret_sealed).unwrap(),
        secret
    );

    // Read back, never with the secret.
    let list = app
        .get(
            &format!("/v1/accounts/{}/webhooks", ada.account_id),
            &ada.access,
        )
        .await;
    assert!(!list.body.to_string().contains(&secret));
    assert_eq!(list.ok(200)["items"][0]["id"], id.as_str());
    assert!(list.body.get("next_cursor").is_none());
    let one = app.get(&format!("/v1/webhooks/{id}"), &ada.access).await;
    assert!(one.ok(200).get("secret").is_none());
    assert_eq!(one.body["events"], created["events"]);

    // Changed field by field; an empty description removes it.
    let patched = app
        .patch(
            &format!("/v1/webhooks/{id}"),
            &ada.access,
            json!({"url": "https://other.example.com/x", "events": ["schedule.missed", "verification.failed"], "description": "", "enabled": false}),
        )
        .await;
    let patched = patched.ok(200);
    assert_eq!(patched["url"], "https://other.example.com/x");
    assert_eq!(
        patched["events"],
        json!(["schedule.missed", "verification.failed"])
    );
    assert!(patched.get("description").is_none(), "{patched}");
    assert_eq!(patched["enabled"], false);

    // A disabled webhook cannot be tested; enabled again, it can.
    app.post(&format!("/v1/webhooks/{id}/test"), &ada.access, json!({}))
        .await
        .error(409, "webhook_disabled");
    app.patch(
        &format!("/v1/webhooks/{id}"),
        &ada.access,
        json!({"enabled": true}),
    )
    .await
    .ok(200);
    let test = app
        .post(&format!("/v1/webhooks/{id}/test"), &ada.access, json!({}))
        .await;
    let test = test.ok(202);
    assert_eq!(test["event"], "webhook.test");
    assert_eq!(test["status"], "pending");
    assert_eq!(test["attempts"], 0);
    assert_eq!(test["payload"]["delivery_id"], test["id"]);
    assert_eq!(test["payload"]["webhook_id"], id.as_str());
    assert_eq!(test["payload"]["account_id"], ada.account_id.as_str());
    let row = webhook_delivery::Entity::find_by_id(test["id"].as_str().unwrap())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.dispatched_at.is_none(), "waits for the dispatcher");

    // Rotation answers a new secret, once, and stores it sealed.
    let rotated = app
        .post(
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &ada.access,
            json!({}),
        )
        .await;
    let new_secret = rotated.ok(200)["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let stored = webhook::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.master.open_string(&stored.secret_sealed).unwrap(),
        new_secret
    );

    // Deleting takes the delivery log with it.
    app.delete(&format!("/v1/webhooks/{id}"), &ada.access)
        .await
        .ok(204);
    app.get(&format!("/v1/webhooks/{id}"), &ada.access)
        .await
        .error(404, "not_found");
    app.delete(&format!("/v1/webhooks/{id}"), &ada.access)
        .await
        .error(404, "not_found");
    assert_eq!(
        webhook_delivery::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );

    let actions: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .filter(|(_, _, target)| *target == id)
        .map(|(actor, action, _)| {
            assert_eq!(actor, format!("user:{}", ada.id));
            action
        })
        .collect();
    assert_eq!(
        actions,
        [
            "webhook.created",
            "webhook.updated",
            "webhook.updated",
            "webhook.tested",
            "webhook.secret_rotated",
            "webhook.deleted"
        ]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn bad_webhooks_are_refused_naming_the_field_and_change_nothing() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let ok = create(&app, &ada, json!({"url": URL, "events": ["job.failed"]})).await;
    let id = ok.ok(201)["id"].as_str().unwrap().to_owned();
    let before = webhook::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap();

    let long_url = format!("https://hooks.example.com/{}", "a".repeat(2048));
    for (body, field) in [
        (
            json!({"url": "ftp://hooks.example.com/x", "events": ["job.failed"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["job.failed"]}), "url"),
        (
            json!({"url": "https://user:pw@hooks.example.com/x", "events": ["job.failed"]}),
            "url",
        ),
        (json!({"url": long_url, "events": ["job.failed"]}), "url"),
        (json!({"url": URL, "events": []}), "events"),
        (
            json!({"url": URL, "events": ["job.failed"], "description": "x".repeat(501)}),
            "description",
        ),
        (
            json!({"url": URL, "events": ["job.failed"], "description": "a\u{7}b"}),
            "description",
        ),
    ] {
        let r = create(&app, &ada, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}");
        let patch = app
            .patch(&format!("/v1/webhooks/{id}"), &ada.access, body.clone())
            .await;
        patch.error(422, "invalid_field");
        assert_eq!(patch.field(), field, "{body}");
    }
    // Not readable at all: an unknown event, an unknown field, a missing field, the wrong type.
    for body in [
        json!({"url": URL, "events": ["job.exploded"]}),
        json!({"url": URL, "events": ["job.failed"], "secret": "mine"}),
        json!({"events": ["job.failed"]}),
        json!({"url": URL, "events": "job.failed"}),
    ] {
        create(&app, &ada, body.clone())
            .await
            .error(400, "invalid_request");
    }
    app.patch(
        &format!("/v1/webhooks/{id}"),
        &ada.access,
        json!({"enabled": "yes"}),
    )
    .await
    .error(400, "invalid_request");
    for path in [
        format!("/v1/accounts/{}/webhooks?limit=0", ada.account_id),
        format!("/v1/webhooks/{id}/deliveries?limit=201"),
        format!("/v1/webhooks/{id}/deliveries?cursor=%%%"),
    ] {
        app.get(&path, &ada.access)
            .await
            .error(400, "invalid_request");
    }
    // Unknown ids and accounts.
    for (method, path) in [
        ("GET", "/v1/webhooks/nope".to_owned()),
        ("PATCH", "/v1/webhooks/nope".to_owned()),
        ("DELETE", "/v1/webhooks/nope".to_owned()),
        ("GET", "/v1/webhooks/nope/deliveries".to_owned()),
        ("POST", "/v1/webhooks/nope/test".to_owned()),
        ("POST", "/v1/webhooks/nope/rotate-secret".to_owned()),
        ("GET", "/v1/accounts/nope/webhooks".to_owned()),
        ("POST", "/v1/accounts/nope/webhooks".to_owned()),
    ] {
        let body = (method != "GET" && method != "DELETE")
            .then(|| json!({"url": URL, "events": ["job.failed"]}));
        app.call(method, &path, Some(&ada.access), body)
            .await
            .error(404, "not_found");
    }
    app.call("GET", &format!("/v1/webhooks/{id}"), None, None)
        .await
        .error(401, "unauthorized");

    let after = webhook::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap();
    assert_eq!(after, before, "nothing changed");
    assert_eq!(webhook::Entity::find().count(&app.db).await.unwrap(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn job_events_reach_the_enabled_webhooks_that_want_them_and_the_log_pages() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let wants = |r: Reply| r.ok(201)["id"].as_str().unwrap().to_owned();
    let both = wants(
        create(
            &app,
            &ada,
            json!({"url": URL, "events": ["job.succeeded", "job.failed"]}),
        )
        .await,
    );
    let failures = wants(
        create(
            &app,
            &ada,
            json!({"url": "http://127.0.0.1:9/hook", "events": ["job.failed"]}),
        )
        .await,
    );
    let disabled = wants(
        create(
            &app,
            &ada,
            json!({"url": URL, "events": ["job.succeeded", "job.failed"], "enabled": false}),
        )
        .await,
    );
    let other_tenant =
        wants(create(&app, &bea, json!({"url": URL, "events": ["job.failed"]})).await);

    let succeeded = job_event(
        &app,
        &ada.account_id,
        JobStatus::Succeeded,
        repo::JOB_SUCCEEDED,
    )
    .await;
    assert_eq!(succeeded.len(), 1, "only `both` wants job.succeeded");
    let failed = job_event(&app, &ada.account_id, JobStatus::Failed, repo::JOB_FAILED).await;
    assert_eq!(failed.len(), 2, "`both` and `failures`");
    let none = job_event(
        &app,
        &ada.account_id,
        JobStatus::NeedsReauth,
        repo::JOB_NEEDS_REAUTH,
    )
    .await;
    assert!(none.is_empty(), "nobody subscribed to job.needs_reauth");

    let log = |id: &str| format!("/v1/webhooks/{id}/deliveries");
    let deliveries = app.get(&log(&both), &ada.access).await;
    let items = deliveries.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["event"], "job.failed", "newest first");
    assert_eq!(items[1]["event"], "job.succeeded");
    let payload = &items[1]["payload"];
    assert_eq!(payload["event"], "job.succeeded");
    assert_eq!(payload["delivery_id"], items[1]["id"]);
    assert_eq!(payload["account_id"], ada.account_id.as_str());
    assert_eq!(payload["job"]["status"], "succeeded");
    assert_eq!(payload["job"]["kind"], "sync");
    assert!(payload["job"]["snapshot_id"].is_string(), "{payload}");
    assert!(payload["occurred_at"].is_string(), "{payload}");
    let failed_payload = &items[0]["payload"];
    assert_eq!(failed_payload["job"]["status"], "failed");
    assert_eq!(failed_payload["job"]["error"], "HTTP 401: invalid key");
    assert!(failed_payload["job"]["snapshot_id"].is_null());
    assert_eq!(items[0]["status"], "pending");
    assert_eq!(items[0]["attempts"], 0);
    assert_eq!(items[0]["attempt_log"], json!([]));

    // Paged like every list.
    let first = app
        .get(&format!("{}?limit=1", log(&both)), &ada.access)
        .await;
    let cursor = first.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(first.body["items"][0]["id"], items[0]["id"]);
    let second = app
        .get(
            &format!("{}?limit=1&cursor={cursor}", log(&both)),
            &ada.access,
        )
        .await;
    assert_eq!(second.ok(200)["items"][0]["id"], items[1]["id"]);
    assert!(second.body.get("next_cursor").is_none());

    // An attempt recorded by the worker shows in the log.
    let failed_id = failed[0].clone();
    repo::record_attempt(
        &app.db,
        &failed_id,
        repo::Attempt {
            status_code: Some(503),
            error: Some("the receiver answered HTTP 503".into()),
            last: false,
        },
    )
    .await
    .unwrap();
    repo::record_attempt(
        &app.db,
        &failed_id,
        repo::Attempt {
            status_code: Some(204),
            error: None,
            last: false,
        },
    )
    .await
    .unwrap();
    let owner_of = webhook_delivery::Entity::find_by_id(failed_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .webhook_id;
    let shown = app.get(&log(&owner_of), &ada.access).await;
    let shown = shown.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == failed_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["status"], "delivered");
    assert_eq!(shown["attempts"], 2);
    assert_eq!(shown["last_status_code"], 204);
    assert_eq!(shown["attempt_log"][0]["status_code"], 503);
    assert_eq!(shown["attempt_log"][1]["attempt"], 2);
    assert!(shown["delivered_at"].is_string());

    for quiet in [&disabled, &other_tenant] {
        let r = app
            .get(
                &log(quiet),
                if *quiet == other_tenant {
                    &bea.access
                } else {
                    &ada.access
                },
            )
            .await;
        assert_eq!(r.ok(200)["items"], json!([]), "{quiet}");
    }
    assert_eq!(
        webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::WebhookId.eq(failures.as_str()))
            .count(&app.db)
            .await
            .unwrap(),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn webhooks_work_on_sqlite() {
    let app = App::spawn_on_sqlite().await;
    let ada = app.register("ada@example.com").await;
    let id = create(&app, &ada, json!({"url": URL, "events": ["job.succeeded"]}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ids = job_event(
        &app,
        &ada.account_id,
        JobStatus::Succeeded,
        repo::JOB_SUCCEEDED,
    )
    .await;
    assert_eq!(ids.len(), 1);
    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), &ada.access)
        .await;
    assert_eq!(log.ok(200)["items"][0]["id"], ids[0].as_str());
    app.delete(&format!("/v1/webhooks/{id}"), &ada.access)
        .await
        .ok(204);
    app.shutdown().await;
}
