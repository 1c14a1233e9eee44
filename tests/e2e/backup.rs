//! A real backup, checked record by record against the sandbox's dataset.

use crate::harness::*;
use sandbox::{FaultPlan, SandboxConfig};
use std::{collections::HashSet, time::Duration};

fn ten_thousand_customers(seed: u64) -> SandboxConfig {
    SandboxConfig::new(seed)
        .with_records("stripe.customers", 10_000)
        .expect("valid records spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_of_10k_customers_equals_the_dataset_on_postgres() {
    let mut stack = Stack::start(Db::Postgres, ten_thousand_customers(7))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");

    let job_id = start_backup(&stack, &tenant).await.expect("start");
    // A second request while the first job runs names the running job.
    let again = http()
        .post(format!(
            "{}/v1/sources/{}/backups",
            stack.api_base, tenant.source_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(body["error"]["details"]["job_id"], job_id.as_str());

    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(240), 0).await;
    let records = stripe_records(&stack.sandbox);
    // 10,000 customers, 50 of the other counted streams, the payment intents, refunds and
    // balance transactions of the charges, and an event for each object created.
    assert!(records > 2 * 10_000, "{records}");
    assert_eq!(job["records"], records);
    assert!(
        job["workflow_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("backup/{}/", tenant.source_id))
    );

    let snapshot_id = job["snapshot_id"].as_str().unwrap();
    let manifest = assert_snapshot_is_dataset(&stack, &tenant, snapshot_id)
        .await
        .expect("snapshot");
    let customers = manifest.stream("customers").unwrap();
    assert!(
        customers.parts.len() > 1,
        "1 MiB parts: 10,000 customers span several parts"
    );
    assert_eq!(manifest.records, records);
    assert_eq!(manifest.job_id, job_id);

    // Every line the worker logged about this job carries its ids.
    let log = stack.worker_log(0);
    let job_lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("part committed"))
        .collect();
    assert!(!job_lines.is_empty(), "the worker logged committed parts");
    for line in job_lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
        let span = &v["span"];
        assert_eq!(span["job_id"], job_id.as_str(), "{line}");
        assert_eq!(span["account_id"], tenant.account_id.as_str(), "{line}");
        assert_eq!(span["source_id"], tenant.source_id.as_str(), "{line}");
    }
    assert!(
        !log.contains(stack.sandbox.stripe().api_key()),
        "the platform key is never logged"
    );

    // Operators find the run by the search attributes it carries.
    let workflow_id = job["workflow_id"].as_str().unwrap();
    let query = format!(
        "ListbackupSourceId = '{}' AND ListbackupAccountId = '{}' AND ListbackupPlatform = 'stripe' AND ListbackupJobKind = 'backup'",
        tenant.source_id, tenant.account_id
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let runs = temporal::find_runs(&stack.client, &query, 10)
            .await
            .expect("list runs");
        if runs == [workflow_id] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run is not findable by its search attributes: {runs:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The source's streams were extracted several at once, never more than the run allows.
    let history = temporal::backup_history_json(&stack.client, workflow_id)
        .await
        .expect("history");
    let at_once = extractions_at_once(&history);
    assert!(
        (2..=workflows::backup::STREAMS_AT_ONCE).contains(&at_once),
        "{at_once} streams extracted at once"
    );
    // `LISTBACKUP_RECORD_HISTORY=1` records this run as a replay fixture of the workflows crate.
    save_replay_fixture("backup_history_concurrent_streams.json", &history);

    // The CLI restores the same records as plain JSON Lines.
    let out = stack.tmp.path().join("restored");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_listbackup"))
        .args(["restore", "--snapshot", snapshot_id, "--out"])
        .arg(&out)
        .envs(stack.child_env())
        .output()
        .expect("restore runs");
    assert!(
        status.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let restored = std::fs::read_to_string(out.join("customers.jsonl")).unwrap();
    let expected: Vec<serde_json::Value> = stack.sandbox.stripe().records("customers").collect();
    let got: Vec<serde_json::Value> = restored
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got, expected);

    // The API serves the same records: NDJSON pages across part boundaries, and one download.
    let api_records = api_stream_records(&stack, &tenant, snapshot_id, "customers", 700).await;
    assert!(api_records == expected, "paged records equal the dataset");
    let download = http()
        .get(format!(
            "{}/v1/snapshots/{snapshot_id}/streams/customers/download?format=jsonl.zst",
            stack.api_base
        ))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    let jsonl = zstd::decode_all(download.bytes().await.unwrap().as_ref()).unwrap();
    assert!(
        jsonl == restored.as_bytes(),
        "the download equals the restored JSON Lines"
    );

    // The source's cursors advanced to the newest `created` of each stream.
    use sea_orm::EntityTrait;
    let source = entities::source::Entity::find_by_id(&tenant.source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(source.last_snapshot_id.as_deref(), Some(snapshot_id));
    let newest = expected[0]["created"].as_i64().unwrap();
    assert_eq!(source.stream_state["customers"], newest);
    stack.shutdown().await;
}

/// The most `backup.extract_stream` activities a run's history (the SDK's JSON form) had
/// scheduled and not yet closed at one time.
fn extractions_at_once(history: &[u8]) -> usize {
    let history: serde_json::Value = serde_json::from_slice(history).expect("history JSON");
    let mut open = HashSet::new();
    let mut most = 0;
    for event in history["events"].as_array().expect("events") {
        let id = &event["event_id"];
        let Some((kind, attributes)) = event["attributes"]
            .as_object()
            .and_then(|a| a.iter().next())
        else {
            continue;
        };
        match kind.as_str() {
            "ActivityTaskScheduledEventAttributes"
                if attributes["activity_type"]["name"] == "backup.extract_stream" =>
            {
                open.insert(id.to_string());
                most = most.max(open.len());
            }
            "ActivityTaskCompletedEventAttributes"
            | "ActivityTaskFailedEventAttributes"
            | "ActivityTaskTimedOutEventAttributes"
            | "ActivityTaskCanceledEventAttributes" => {
                open.remove(&attributes["scheduled_event_id"].to_string());
            }
            _ => {}
        }
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_rides_out_429s_and_500s_on_sqlite() {
    let mut stack = Stack::start(Db::Sqlite, ten_thousand_customers(11))
        .await
        .expect("stack");
    stack.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(9),
        retry_after_secs: 1,
        server_error_every: Some(7),
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");

    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(300), 0).await;
    let stats = stack.sandbox.stats();
    assert!(stats.rate_limited >= 5, "429s were served: {stats:?}");
    assert!(stats.server_errors >= 5, "500s were served: {stats:?}");
    assert_snapshot_is_dataset(&stack, &tenant, job["snapshot_id"].as_str().unwrap())
        .await
        .expect("snapshot");

    // Each part was stored once: retries of pages never produce a second object.
    let keys = stack.puts.keys();
    let distinct: HashSet<&String> = keys.iter().filter(|k| k.contains("/streams/")).collect();
    assert_eq!(
        distinct.len(),
        keys.iter().filter(|k| k.contains("/streams/")).count()
    );
    stack.shutdown().await;
}

/// Every record of a stream, read through the API's NDJSON pages of `limit` records.
async fn api_stream_records(
    stack: &Stack,
    tenant: &Tenant,
    snapshot_id: &str,
    stream: &str,
    limit: u32,
) -> Vec<serde_json::Value> {
    let mut records = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/v1/snapshots/{snapshot_id}/streams/{stream}/records?limit={limit}",
            stack.api_base
        );
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = http()
            .get(url)
            .bearer_auth(&tenant.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        cursor = r
            .headers()
            .get("x-next-cursor")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.text().await.unwrap();
        records.extend(
            body.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
        );
        if cursor.is_none() {
            return records;
        }
    }
}
