//! Bad requests get the JSON error envelope with the right status, and change nothing.

use crate::harness::*;
use entities::{Role, activity_log, job, repo};
use sandbox::SandboxConfig;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

async fn check(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["error"]["request_id"], request_id.as_str(), "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_envelope_and_write_nothing() {
    let stack = Stack::start(Db::Sqlite, SandboxConfig::new(1))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let other = stack.provision().await.expect("second tenant");
    let (_, viewer_key) =
        repo::create_api_key(&stack.db, &tenant.account_id, None, "viewer", Role::Viewer)
            .await
            .unwrap();
    let base = &stack.api_base;
    let c = http();
    let backups = |source: &str| format!("{base}/v1/sources/{source}/backups");

    check(
        c.post(backups(&tenant.source_id))
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    check(
        c.post(backups(&tenant.source_id))
            .bearer_auth("lbk_not-a-real-key")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    check(
        c.post(backups(&tenant.source_id))
            .bearer_auth("garbage")
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    check(
        c.post(backups("src_doesnotexist"))
            .bearer_auth(&tenant.api_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    // Another tenant's source is indistinguishable from a missing one.
    check(
        c.post(backups(&other.source_id))
            .bearer_auth(&tenant.api_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    let malformed = c
        .post(backups(&tenant.source_id))
        .bearer_auth(&tenant.api_key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    check(malformed, 400, "invalid_request").await;
    check(
        c.post(backups(&tenant.source_id))
            .bearer_auth(&tenant.api_key)
            .json(&json!({"colour": "red"}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    let unknown_stream = check(
        c.post(backups(&tenant.source_id))
            .bearer_auth(&tenant.api_key)
            .json(&json!({"streams": ["customers", "unicorns"]}))
            .send()
            .await
            .unwrap(),
        400,
        "invalid_request",
    )
    .await;
    assert_eq!(unknown_stream["error"]["details"]["field"], "streams");
    assert_eq!(
        unknown_stream["error"]["details"]["unknown"],
        json!(["unicorns"])
    );
    check(
        c.post(backups(&tenant.source_id))
            .bearer_auth(&viewer_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    check(
        c.get(format!("{base}/v1/jobs/job_nope"))
            .bearer_auth(&tenant.api_key)
            .send()
            .await
            .unwrap(),
        404,
        "not_found",
    )
    .await;
    check(
        c.get(format!("{base}/v1/nowhere")).send().await.unwrap(),
        404,
        "not_found",
    )
    .await;

    assert_eq!(
        job::Entity::find().count(&stack.db).await.unwrap(),
        0,
        "no job was created"
    );
    assert_eq!(
        activity_log::Entity::find().count(&stack.db).await.unwrap(),
        0,
        "nothing was logged as done"
    );

    // The catalog needs no key and lists every registered platform with its streams.
    let catalog: Value = c
        .get(format!("{base}/v1/platforms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    let registered: Vec<&str> = connectors::platforms().iter().map(|p| p.id).collect();
    assert_eq!(ids, registered);
    let mut every = ids.clone();
    every.sort_unstable();
    assert_eq!(
        every,
        [
            "activecampaign",
            "dropbox",
            "gohighlevel",
            "googledrive",
            "hubspot",
            "keap",
            "mailchimp",
            "slack",
            "stripe",
            "zendesk"
        ],
        "the ten platforms the product promises"
    );
    let drive = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "googledrive")
        .unwrap();
    assert_eq!(drive["auth"], "oauth2");
    assert_eq!(
        drive["streams"][0],
        json!({"name": "files", "incremental": true, "files": true, "deletes": true})
    );
    let stripe = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "stripe")
        .unwrap();
    assert_eq!(stripe["auth"], "api_key");
    assert_eq!(
        stripe["streams"].as_array().unwrap().len(),
        sandbox::stripe::STREAMS.len()
    );
    assert_eq!(
        stripe["streams"][0],
        json!({"name": "customers", "incremental": true, "files": false, "deletes": false})
    );

    // The service is healthy and says so per component.
    let health: Value = c
        .get(format!("{base}/v1/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    for part in ["db", "temporal", "storage"] {
        assert_eq!(health[part]["ok"], true, "{health}");
    }
    stack.shutdown().await;
}
