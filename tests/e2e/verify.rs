//! Verification through the worker's maintenance queue: intact snapshots (parts and file
//! blobs) pass with every object read and every record counted; a flipped byte, a deleted part
//! and a deleted blob fail verification naming each object and the snapshot, and the account's
//! webhook is told; an account that holds its own key still has every object's sha256 checked.

use crate::harness::*;
use crate::webhooks::{Inbox, received, receiver, wait_for};
use bytes::Bytes;
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;

async fn call(stack: &Stack, tenant: &Tenant, method: reqwest::Method, path: &str) -> (u16, Value) {
    let r = http()
        .request(method, format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("the API answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Starts a verification of `snapshot_id` and waits for its verdict.
async fn verify(stack: &Stack, tenant: &Tenant, snapshot_id: &str) -> Value {
    verify_with_key(stack, tenant, snapshot_id, None).await
}

/// Like [`verify`], sending `key` in `X-Listbackup-Identity` (an account that holds its own).
async fn verify_with_key(
    stack: &Stack,
    tenant: &Tenant,
    snapshot_id: &str,
    key: Option<&str>,
) -> Value {
    let mut request = http()
        .post(format!(
            "{}/v1/snapshots/{snapshot_id}/verifications",
            stack.api_base
        ))
        .bearer_auth(&tenant.api_key);
    if let Some(key) = key {
        request = request.header("X-Listbackup-Identity", key);
    }
    let r = request.send().await.expect("the API answers");
    let status = r.status().as_u16();
    let started: Value = r.json().await.unwrap();
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["status"], "running");
    assert_eq!(started["snapshot_id"], snapshot_id);
    let id = started["id"].as_str().expect("id").to_owned();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (status, row) = call(
            stack,
            tenant,
            reqwest::Method::GET,
            &format!("/v1/verifications/{id}"),
        )
        .await;
        assert_eq!(status, 200, "{row}");
        if row["status"] != "running" {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "verification {id} still running\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn manifest(stack: &Stack, tenant: &Tenant, snapshot_id: &str) -> Value {
    let path = format!("/v1/snapshots/{snapshot_id}/manifest");
    let (status, body) = call(stack, tenant, reqwest::Method::GET, &path).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn part_keys(manifest: &Value) -> Vec<String> {
    manifest["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .flat_map(|s| s["parts"].as_array().expect("parts").iter())
        .map(|p| p["key"].as_str().expect("key").to_owned())
        .collect()
}

/// The parts' record indexes: their keys and their stored bytes in all.
fn index_keys(manifest: &Value) -> (Vec<String>, u64) {
    let indexes: Vec<&Value> = manifest["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .flat_map(|s| s["parts"].as_array().expect("parts").iter())
        .map(|p| &p["index"])
        .collect();
    let keys = indexes
        .iter()
        .map(|i| {
            i["key"]
                .as_str()
                .expect("every part has an index")
                .to_owned()
        })
        .collect();
    let bytes = indexes
        .iter()
        .map(|i| i["stored_bytes"].as_u64().unwrap())
        .sum();
    (keys, bytes)
}

fn blob_shas(manifest: &Value) -> BTreeSet<String> {
    manifest["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .flat_map(|s| s["parts"].as_array().expect("parts").iter())
        .flat_map(|p| p["blobs"].as_array().cloned().unwrap_or_default())
        .map(|b| b.as_str().expect("sha256").to_owned())
        .collect()
}

fn problems(row: &Value) -> Vec<(String, String)> {
    row["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap().to_owned(),
                p["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn flip_a_byte(stack: &Stack, key: &str) {
    let mut body = stack.store.get(key).await.expect("get").to_vec();
    let at = body.len() / 2;
    body[at] ^= 0x20;
    stack.store.put(key, Bytes::from(body)).await.expect("put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_and_missing_objects_fail_verification_by_name_and_alert() {
    let config = SandboxConfig::new(61)
        .with_records("stripe.customers", 3000)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let dropbox_source = add_dropbox_source(&stack, &tenant)
        .await
        .expect("dropbox source");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inbox = Inbox::default();
    let stop = CancellationToken::new();
    let server = tokio::spawn(receiver(port, inbox.clone(), stop.clone()));
    let r = http()
        .post(format!(
            "{}/v1/accounts/{}/webhooks",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&json!({
            "url": format!("http://127.0.0.1:{port}/hook"),
            "events": ["verification.failed"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let secret = r.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    stack.spawn_worker().expect("worker");
    stack.serve_key_holder();
    let job = start_backup(&stack, &tenant).await.expect("stripe backup");
    let job = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let stripe = job["snapshot_id"].as_str().unwrap().to_owned();
    let job = start_backup_of(&stack, &tenant, &dropbox_source)
        .await
        .expect("dropbox backup");
    let job = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let dropbox = job["snapshot_id"].as_str().unwrap().to_owned();

    // Intact: every part read, every record counted, every blob decrypted and hashed.
    let stripe_manifest = manifest(&stack, &tenant, &stripe).await;
    let stripe_parts = part_keys(&stripe_manifest);
    let (stripe_indexes, index_bytes) = index_keys(&stripe_manifest);
    assert!(stripe_parts.len() >= 4, "{stripe_parts:?}");
    let passed = verify(&stack, &tenant, &stripe).await;
    assert_eq!(passed["status"], "passed", "{passed}");
    assert_eq!(passed["decrypted"], true);
    assert_eq!(
        passed["objects_checked"],
        stripe_parts.len() + stripe_indexes.len()
    );
    assert_eq!(passed["records_counted"], stripe_manifest["records"]);
    assert_eq!(
        passed["bytes_checked"],
        stripe_manifest["stored_bytes"].as_u64().unwrap() + index_bytes
    );
    assert_eq!(passed["problem_count"], 0);
    assert!(passed["finished_at"].is_string());

    let dropbox_manifest = manifest(&stack, &tenant, &dropbox).await;
    let blobs = blob_shas(&dropbox_manifest);
    assert!(!blobs.is_empty(), "the Dropbox snapshot refers to files");
    let passed = verify(&stack, &tenant, &dropbox).await;
    assert_eq!(passed["status"], "passed", "{passed}");
    assert_eq!(
        passed["objects_checked"],
        2 * part_keys(&dropbox_manifest).len() + blobs.len(),
        "each part, its index and each file"
    );
    assert_eq!(passed["records_counted"], dropbox_manifest["records"]);

    // One byte flipped in one part and in another part's index, another part deleted.
    let flipped = stripe_parts[1].clone();
    let flipped_index = stripe_indexes[0].clone();
    let deleted = stripe_parts[stripe_parts.len() - 1].clone();
    flip_a_byte(&stack, &flipped).await;
    flip_a_byte(&stack, &flipped_index).await;
    stack.store.delete(&deleted).await.expect("delete");
    let failed = verify(&stack, &tenant, &stripe).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["problem_count"], 3);
    assert_eq!(
        problems(&failed),
        vec![
            (flipped_index.clone(), "checksum_mismatch".to_owned()),
            (flipped.clone(), "checksum_mismatch".to_owned()),
            (deleted.clone(), "missing".to_owned()),
        ]
    );
    assert_eq!(
        failed["objects_checked"],
        stripe_parts.len() + stripe_indexes.len(),
        "the rest is still checked"
    );

    // The account's webhook is told, naming the snapshot and the objects.
    let got = wait_for(
        &inbox,
        "verification.failed",
        &secret,
        Duration::from_secs(60),
    )
    .await;
    let alert = &got[0]["verification"];
    assert_eq!(alert["id"], failed["id"]);
    assert_eq!(alert["snapshot_id"], stripe.as_str());
    assert_eq!(alert["status"], "failed");
    let named: Vec<&str> = alert["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        named,
        vec![flipped_index.as_str(), flipped.as_str(), deleted.as_str()]
    );

    // A file's blob deleted: the Dropbox snapshot fails, naming the blob.
    let sha = blobs.iter().next().unwrap();
    let blob_key = storage::layout::blob_key(&tenant.account_id, sha);
    stack.store.delete(&blob_key).await.expect("delete blob");
    let failed = verify(&stack, &tenant, &dropbox).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(problems(&failed), vec![(blob_key, "missing".to_owned())]);

    // The account hands its key over to the customer: the service can decrypt nothing, and the
    // flipped byte is still found by its sha256.
    let customer = storage::keys::AccountKey::generate();
    let r = http()
        .put(format!(
            "{}/v1/accounts/{}/encryption-key",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"recipient": customer.recipient(), "discard_service_key": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sealed_only = verify(&stack, &tenant, &stripe).await;
    assert_eq!(sealed_only["decrypted"], false);
    assert_eq!(sealed_only["records_counted"], 0);
    assert_eq!(sealed_only["status"], "failed");
    assert_eq!(
        problems(&sealed_only),
        vec![
            (flipped_index, "checksum_mismatch".to_owned()),
            (flipped, "checksum_mismatch".to_owned()),
            (deleted, "missing".to_owned()),
        ]
    );

    // A backup since is encrypted to the customer's key alone; it verifies by sha256.
    let job = start_backup(&stack, &tenant).await.unwrap();
    let job = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let fresh = job["snapshot_id"].as_str().unwrap().to_owned();
    let fresh_manifest = manifest(&stack, &tenant, &fresh).await;
    assert_eq!(
        fresh_manifest["encryption"]["recipient"],
        customer.recipient()
    );
    let first = &fresh_manifest["streams"][0]["parts"][0];
    let body = stack
        .store
        .get(first["key"].as_str().unwrap())
        .await
        .unwrap();
    let plain =
        storage::part::open_part(customer.identity(), &body).expect("the customer's key opens it");
    assert_eq!(
        plain.iter().filter(|b| **b == b'\n').count() as u64,
        first["records"].as_u64().unwrap()
    );
    assert!(storage::part::open_part(tenant.key.identity(), &body).is_err());
    let passed = verify(&stack, &tenant, &fresh).await;
    assert_eq!(passed["status"], "passed", "{passed}");
    assert_eq!(passed["decrypted"], false);

    // With the customer's key sent along, the checks run where it is held and decrypt: every
    // record is counted, and the key is let go afterwards.
    let decrypted =
        verify_with_key(&stack, &tenant, &fresh, Some(&customer.to_secret_string())).await;
    assert_eq!(decrypted["status"], "passed", "{decrypted}");
    assert_eq!(decrypted["decrypted"], true);
    assert_eq!(
        decrypted["records_counted"], fresh_manifest["records"],
        "{decrypted}"
    );
    let id = decrypted["id"].as_str().unwrap();
    assert!(
        stack.key_holder.held.get(id).is_none(),
        "the key was let go"
    );
    // Another account's key, or something that is not a key: 400 naming the header.
    let other = storage::keys::AccountKey::generate().to_secret_string();
    for wrong in [other.as_str(), "#d"] {
        let r = http()
            .post(format!(
                "{}/v1/snapshots/{fresh}/verifications",
                stack.api_base
            ))
            .bearer_auth(&tenant.api_key)
            .header("X-Listbackup-Identity", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["error"]["details"]["field"], "X-Listbackup-Identity");
    }

    // Passed verifications send nothing; each failed one is announced once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while received(&inbox, "verification.failed", &secret).len() < 3 {
        assert!(Instant::now() < deadline, "three alerts");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(received(&inbox, "verification.failed", &secret).len(), 3);

    let (status, listed) = call(
        &stack,
        &tenant,
        reqwest::Method::GET,
        &format!(
            "/v1/accounts/{}/verifications?status=failed",
            tenant.account_id
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    let (_, listed) = call(
        &stack,
        &tenant,
        reqwest::Method::GET,
        &format!("/v1/snapshots/{stripe}/verifications"),
    )
    .await;
    let statuses: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["failed", "failed", "passed"], "newest first");

    stop.cancel();
    let _ = server.await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_pass_verifies_each_sources_newest_snapshot_and_its_chain() {
    let config = SandboxConfig::new(62)
        .with_records("stripe.customers", 150)
        .unwrap();
    let mut stack = Stack::start(Db::Sqlite, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let second = stack
        .add_source(
            &tenant,
            "stripe",
            json!({"api_key": stack.sandbox.stripe().api_key()}),
            json!({"base_url": stack.sandbox_url()}),
        )
        .await
        .expect("second source");
    stack.spawn_worker().expect("worker");

    // Source one: a full backup, then a sync building on it. Source two: a full backup.
    let job = start_backup(&stack, &tenant).await.unwrap();
    let full = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let full = full["snapshot_id"].as_str().unwrap().to_owned();
    let r = http()
        .post(format!(
            "{}/v1/sources/{}/syncs",
            stack.api_base, tenant.source_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job = r.json::<Value>().await.unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sync = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let sync = sync["snapshot_id"].as_str().unwrap().to_owned();
    let job = start_backup_of(&stack, &tenant, &second).await.unwrap();
    let other = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let other = other["snapshot_id"].as_str().unwrap().to_owned();
    let (_, snap) = call(
        &stack,
        &tenant,
        reqwest::Method::GET,
        &format!("/v1/snapshots/{sync}"),
    )
    .await;
    assert_eq!(snap["parent_snapshot_id"], full.as_str(), "{snap}");

    // The full snapshot a restore of the newest state needs is damaged.
    let damaged = part_keys(&manifest(&stack, &tenant, &full).await)[0].clone();
    flip_a_byte(&stack, &damaged).await;

    let path = format!("/v1/accounts/{}/verification-schedule", tenant.account_id);
    let r = http()
        .put(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"cron": "0 4 * * SUN", "timezone": "Europe/Berlin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let schedule: Value = r.json().await.unwrap();
    assert_eq!(schedule["cron"], "0 4 * * SUN");
    let temporal_id = schedule["temporal_schedule_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let described = temporal::describe_schedule(&stack.client, &temporal_id)
        .await
        .expect("the Temporal Schedule exists");
    assert!(!described.paused && !described.next_runs.is_empty());

    temporal::trigger_schedule(&stack.client, &temporal_id)
        .await
        .expect("trigger");
    let listing = format!("/v1/accounts/{}/verifications", tenant.account_id);
    let deadline = Instant::now() + Duration::from_secs(240);
    let items = loop {
        let (status, body) = call(&stack, &tenant, reqwest::Method::GET, &listing).await;
        assert_eq!(status, 200);
        let items = body["items"].as_array().unwrap().clone();
        if items.len() == 3 && items.iter().all(|v| v["status"] != "running") {
            break items;
        }
        assert!(
            Instant::now() < deadline,
            "the pass did not finish: {body}\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut verdicts: Vec<(String, String)> = items
        .iter()
        .map(|v| {
            assert_eq!(v["requested_by"], "schedule");
            (
                v["snapshot_id"].as_str().unwrap().to_owned(),
                v["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    verdicts.sort();
    let mut expected = vec![
        (full.clone(), "failed".to_owned()),
        (sync.clone(), "passed".to_owned()),
        (other.clone(), "passed".to_owned()),
    ];
    expected.sort();
    assert_eq!(verdicts, expected);
    let failed = items.iter().find(|v| v["status"] == "failed").unwrap();
    assert_eq!(
        problems(failed),
        vec![(damaged, "checksum_mismatch".to_owned())]
    );

    // Paused, then deleted: Temporal follows.
    let r = http()
        .put(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"cron": "0 5 * * *", "paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        temporal::describe_schedule(&stack.client, &temporal_id)
            .await
            .unwrap()
            .paused
    );
    let (status, got) = call(&stack, &tenant, reqwest::Method::GET, &path).await;
    assert_eq!(status, 200);
    assert_eq!(got["cron"], "0 5 * * *");
    assert_eq!(got["timezone"], "UTC");
    assert_eq!(got["created_at"], schedule["created_at"]);
    let (status, _) = call(&stack, &tenant, reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 204);
    let (status, _) = call(&stack, &tenant, reqwest::Method::GET, &path).await;
    assert_eq!(status, 404);
    assert!(matches!(
        temporal::describe_schedule(&stack.client, &temporal_id).await,
        Err(temporal::TemporalError::ScheduleNotFound(_))
    ));
    stack.shutdown().await;
}
