//! The job queue: an account's jobs beyond its cap wait `queued` and run as slots free up; a
//! platform's daily quota puts a run to sleep until the quota resets, and the same snapshot
//! then completes; operators find runs by their status search attribute.

use crate::harness::*;
use entities::{JobStatus, activity_log, connection, job, repo, snapshot, source};
use sandbox::{FaultPlan, SandboxConfig};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use std::{
    collections::{BTreeSet, HashSet},
    time::{Duration, Instant},
};

/// Polls until the runs `ListbackupJobStatus = status` of the tenant's account are exactly
/// `expected` (workflow ids), or panics after a while.
async fn expect_runs_with_status(
    stack: &Stack,
    tenant: &Tenant,
    status: &str,
    expected: &BTreeSet<String>,
) {
    let query = format!(
        "ListbackupJobStatus = '{status}' AND ListbackupAccountId = '{}'",
        tenant.account_id
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs: BTreeSet<String> = temporal::find_runs(&stack.client, &query, 20)
            .await
            .expect("list runs")
            .into_iter()
            .collect();
        if &runs == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "runs with {query}: {runs:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The activity log's actions about `job_id`, oldest first.
async fn logged_actions(stack: &Stack, job_id: &str) -> Vec<String> {
    let mut rows = activity_log::Entity::find()
        .filter(activity_log::Column::TargetId.eq(job_id))
        .all(&stack.db)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.created_at);
    rows.into_iter().map(|r| r.action).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_over_the_account_cap_wait_queued_and_all_complete() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(71))
        .await
        .expect("stack");
    // Slow pages keep each job running long enough for the others to queue behind it.
    stack.sandbox.set_faults(FaultPlan {
        delay_ms: 150,
        ..FaultPlan::default()
    });
    let tenant = stack.provision().await.expect("provision");
    // Four more sources on the tenant's Stripe connection.
    let first = source::Entity::find_by_id(&tenant.source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let conn = connection::Entity::find_by_id(&first.connection_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let mut sources = vec![first.id];
    for i in 2..=5 {
        let source = repo::create_source(&stack.db, &conn, &format!("Stripe {i}"), &[])
            .await
            .expect("source");
        sources.push(source.id);
    }
    stack
        .spawn_worker_with(&[("LISTBACKUP_ACCOUNT_MAX_JOBS", "2")])
        .expect("worker");

    // Five backups at once: every one is accepted.
    let mut jobs = Vec::new();
    for source in &sources {
        jobs.push(start_backup_of(&stack, &tenant, source).await.expect("202"));
    }

    let (mut most_running, mut queued_behind_full) = (0, HashSet::new());
    let mut phase_queued_seen = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let rows = job::Entity::find()
            .filter(job::Column::AccountId.eq(tenant.account_id.as_str()))
            .all(&stack.db)
            .await
            .unwrap();
        let running = rows
            .iter()
            .filter(|j| j.status == JobStatus::Running)
            .count();
        most_running = most_running.max(running);
        let queued: Vec<&job::Model> = rows
            .iter()
            .filter(|j| j.status == JobStatus::Queued)
            .collect();
        if running == 2 {
            queued_behind_full.extend(queued.iter().map(|j| j.id.clone()));
        }
        if rows.iter().all(|j| j.status.is_final()) {
            break;
        }
        // The API shows why a queued job waits.
        if let Some(waiting) = queued.first().filter(|_| !phase_queued_seen) {
            let view = get_job(&stack, &tenant, &waiting.id).await.unwrap();
            phase_queued_seen = view["status"] == "queued" && view["phase"] == "queued";
        }
        assert!(
            Instant::now() < deadline,
            "jobs still active: {rows:?}\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        most_running, 2,
        "never more than the cap ran; the cap was used"
    );
    assert!(
        queued_behind_full.len() >= 3,
        "the jobs over the cap waited queued: {queued_behind_full:?}"
    );
    assert!(phase_queued_seen, "a queued job's phase reads `queued`");

    let mut workflows = BTreeSet::new();
    for (source, job_id) in sources.iter().zip(&jobs) {
        let job = expect_success(&stack, &tenant, job_id, Duration::from_secs(30), 0).await;
        assert_eq!(job["records"], stripe_records(&stack.sandbox), "{job}");
        assert_source_snapshot(
            &stack,
            &tenant,
            source,
            job["snapshot_id"].as_str().unwrap(),
            &sandbox::stripe::STREAMS,
            |name| stack.sandbox.stripe().records(name).collect(),
        )
        .await
        .expect("snapshot equals the dataset");
        let run_link = temporal::web_ui_link(
            "http://127.0.0.1:8233",
            "default",
            job["workflow_id"].as_str().unwrap(),
        );
        assert_eq!(
            job["temporal_ui_url"],
            run_link.as_str(),
            "the job links to its run"
        );
        let actions = logged_actions(&stack, job_id).await;
        assert_eq!(
            actions.iter().filter(|a| *a == "job.running").count(),
            1,
            "{actions:?}"
        );
        workflows.insert(job["workflow_id"].as_str().unwrap().to_owned());
    }
    // Operators find finished runs by their status.
    expect_runs_with_status(&stack, &tenant, "succeeded", &workflows).await;
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_quota_puts_the_run_to_sleep_until_it_resets_and_the_snapshot_completes() {
    let config = SandboxConfig::new(73)
        .with_records("keap.contacts", 300)
        .unwrap();
    let mut stack = Stack::start(Db::Sqlite, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let base = stack.sandbox_url();
    let settings = json!({
        "base_url": base,
        "oauth_app": sandbox_oauth_app(&base, "keap"),
        "page_size": 50,
        "requests_per_second": 10,
    });
    let grant = sandbox_grant(&stack.sandbox, "keap");
    let source = stack
        .add_source(&tenant, "keap", grant, settings)
        .await
        .unwrap();
    // The backup takes about a dozen requests; the quota allows 8 per 12-second window, so the
    // run exhausts it early in a window, far from its reset. A `Retry-After` over 2 s is a
    // daily quota to this worker.
    stack.sandbox.keap().set_quota_window(12);
    stack.sandbox.keap().set_daily_quota(8);
    stack
        .spawn_worker_with(&[("LISTBACKUP_PLATFORM_MAX_RETRY_AFTER_SECS", "2")])
        .expect("worker");

    let job_id = start_backup_of(&stack, &tenant, &source).await.unwrap();
    let snapshot_id = get_job(&stack, &tenant, &job_id).await.unwrap()["snapshot_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut waiting_seen, mut found_by_status) = (None::<Value>, false);
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job = get_job(&stack, &tenant, &job_id).await.unwrap();
        if ["succeeded", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
            break job;
        }
        if job["phase"] == "waiting_for_quota" {
            if !found_by_status {
                let query = format!(
                    "ListbackupJobStatus = 'waiting_for_quota' AND ListbackupSourceId = '{source}'"
                );
                found_by_status = !temporal::find_runs(&stack.client, &query, 5)
                    .await
                    .unwrap()
                    .is_empty();
            }
            waiting_seen.get_or_insert_with(|| job.clone());
        }
        assert!(
            Instant::now() < deadline,
            "job still {}: {job}\n{}",
            job["status"],
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}\n{}", stack.worker_log(0));
    let waiting = waiting_seen.expect("the job was seen waiting for the quota");
    assert_eq!(
        waiting["status"], "queued",
        "it gave its slot up: {waiting}"
    );
    assert!(
        waiting["error"]
            .as_str()
            .is_some_and(|e| e.contains("quota")),
        "it says what it waits for: {waiting}"
    );
    assert!(
        found_by_status,
        "operators find the waiting run by its status"
    );

    // The same snapshot completed, equal to the dataset, with every part stored once.
    assert_eq!(job["snapshot_id"], snapshot_id.as_str());
    let snapshots = snapshot::Entity::find()
        .filter(snapshot::Column::SourceId.eq(source.as_str()))
        .count(&stack.db)
        .await
        .unwrap();
    assert_eq!(snapshots, 1, "one snapshot, continued, not started over");
    let streams: Vec<&str> = connectors::platform("keap")
        .unwrap()
        .streams
        .iter()
        .map(|s| s.name)
        .collect();
    let manifest = assert_source_snapshot(&stack, &tenant, &source, &snapshot_id, &streams, |s| {
        stack.sandbox.keap().records(s).collect()
    })
    .await
    .expect("snapshot equals the dataset");
    assert_eq!(job["records"], manifest.records, "{job}");
    let part_keys: Vec<String> = stack
        .puts
        .keys()
        .into_iter()
        .filter(|k| k.contains("/streams/"))
        .collect();
    let listed: HashSet<&str> = manifest.object_keys().collect();
    assert_eq!(
        part_keys.len(),
        listed.len(),
        "each part (and index) stored once"
    );
    assert!(part_keys.iter().all(|k| listed.contains(k.as_str())));

    // Each exhausted quota was one wait, not retried attempts: a 429 stops the stream that got
    // it, so one `job.waiting_for_quota` answers at most one 429 per stream running at once.
    let actions = logged_actions(&stack, &job_id).await;
    let waits = actions
        .iter()
        .filter(|a| *a == "job.waiting_for_quota")
        .count() as u64;
    assert!(waits >= 1, "{actions:?}");
    let refused = stack.sandbox.stats().rate_limited;
    assert!(
        (waits..=waits * workflows::backup::STREAMS_AT_ONCE as u64).contains(&refused),
        "{refused} 429s for {waits} waits: {actions:?}"
    );
    expect_runs_with_status(
        &stack,
        &tenant,
        "succeeded",
        &BTreeSet::from([job["workflow_id"].as_str().unwrap().to_owned()]),
    )
    .await;

    // `LISTBACKUP_RECORD_HISTORY=1` records this run (job slot, streams at once ended by a quota
    // wait, status search attribute) as a replay fixture of the workflows crate.
    record_replay_fixture(
        &stack,
        job["workflow_id"].as_str().unwrap(),
        "backup_history_concurrent_quota_wait.json",
    )
    .await;
    stack.shutdown().await;
}
