//! Live progress: a dashboard subscribed to `GET /v1/jobs/{id}/events` sees a running backup's
//! progress in order, each stream finish once, and the final event, without polling.

use crate::harness::*;
use sandbox::{FaultPlan, SandboxConfig};
use serde_json::Value;
use std::{collections::BTreeSet, time::Duration};

/// One Server-Sent Event: its type, id and JSON data.
#[derive(Debug)]
struct Sse {
    event: String,
    id: u64,
    data: Value,
}

/// Reads the whole event stream of `job_id` (it closes after `finished`).
async fn subscribe(stack: &Stack, tenant: &Tenant, job_id: &str) -> Vec<Sse> {
    let mut resp = http()
        .get(format!("{}/v1/jobs/{job_id}/events", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("the API answers");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = resp.chunk().await.expect("the stream reads") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(Duration::from_secs(240), read)
        .await
        .expect("the stream ends after the job does");
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut id = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = Some(v.trim().to_owned());
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            Some(Sse {
                event: event?,
                id: id?,
                data: serde_json::from_str(&data).expect("JSON data"),
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_sees_a_running_backups_progress_in_order_and_its_end() {
    let config = SandboxConfig::new(41)
        .with_records("stripe.customers", 6_000)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    // Slow pages, so the run lasts long enough to be watched.
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 60,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");

    let events = subscribe(&stack, &tenant, &job_id).await;
    let job = get_job(&stack, &tenant, &job_id).await.unwrap();
    assert_eq!(job["status"], "succeeded", "{job}");

    // Ids count up from 1 without gaps; each event's data says the same.
    let ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=events.len() as u64).collect::<Vec<_>>());
    for e in &events {
        assert_eq!(e.data["seq"], e.id);
        assert_eq!(e.data["event"], e.event.as_str());
        assert_eq!(e.data["job"]["id"], job_id.as_str());
    }

    // Progress first, while running, never going back.
    let progress: Vec<&Sse> = events.iter().filter(|e| e.event == "progress").collect();
    assert_eq!(events[0].event, "progress", "{:?}", events[0]);
    assert!(
        progress.len() >= 3,
        "the run was watched as it went: {} progress events",
        progress.len()
    );
    let records: Vec<u64> = progress
        .iter()
        .map(|e| e.data["job"]["records"].as_u64().unwrap())
        .collect();
    assert!(records.windows(2).all(|w| w[0] <= w[1]), "{records:?}");
    assert!(
        records.iter().any(|&r| r > 0 && r < 6_000),
        "progress part-way through: {records:?}"
    );
    assert!(progress.iter().all(|e| {
        !["succeeded", "failed", "cancelled"].contains(&e.data["job"]["status"].as_str().unwrap())
    }));

    // Every stream finished once; then the end, last.
    let done: Vec<String> = events
        .iter()
        .filter(|e| e.event == "stream_done")
        .map(|e| e.data["stream"].as_str().unwrap().to_owned())
        .collect();
    let unique: BTreeSet<&String> = done.iter().collect();
    assert_eq!(unique.len(), done.len(), "each stream once: {done:?}");
    let streams: BTreeSet<String> = job["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        streams
    );
    let last = events.last().unwrap();
    assert_eq!(last.event, "finished");
    assert_eq!(events.iter().filter(|e| e.event == "finished").count(), 1);
    assert_eq!(last.data["job"]["status"], "succeeded");
    assert_eq!(last.data["job"]["records"], job["records"]);

    // A subscriber after the end sees the end alone.
    let late = subscribe(&stack, &tenant, &job_id).await;
    let kinds: Vec<&str> = late.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["finished"], "{late:?}");

    // Someone else's job, or none, is a 404 with the envelope.
    let r = http()
        .get(format!("{}/v1/jobs/nope/events", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    stack.shutdown().await;
}
