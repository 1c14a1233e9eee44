//! Schedules on a real Temporal dev server: the Temporal Schedule follows every API call, a
//! triggered run creates its own job row and succeeds, a run that finds the source busy is
//! skipped and recorded, and `next_runs` are the cron's times in the schedule's time zone.

use crate::harness::*;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use entities::{JobKind, JobStatus, repo, source};
use sandbox::SandboxConfig;
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn call(
    stack: &Stack,
    tenant: &Tenant,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http()
        .request(method, format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, body)
}

/// The next `n` times after `after` at `hour:minute` every day in `tz`.
fn daily_in(
    tz: chrono_tz::Tz,
    hour: u32,
    minute: u32,
    after: DateTime<Utc>,
    n: usize,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut day = after.with_timezone(&tz).date_naive();
    while out.len() < n {
        let local = tz
            .with_ymd_and_hms(day.year(), day.month(), day.day(), hour, minute, 0)
            .earliest()
            .expect("a time that exists");
        let at = local.with_timezone(&Utc);
        if at > after {
            out.push(at);
        }
        day = day.succ_opt().unwrap();
    }
    out
}

fn times(v: &Value) -> Vec<DateTime<Utc>> {
    v.as_array()
        .unwrap_or_else(|| panic!("next_runs: {v}"))
        .iter()
        .map(|t| t.as_str().unwrap().parse().unwrap())
        .collect()
}

/// Polls the source's jobs until `pred` holds for the list, or fails after `patience`.
async fn wait_for_jobs(
    stack: &Stack,
    tenant: &Tenant,
    pred: impl Fn(&[Value]) -> bool,
    patience: Duration,
) -> Vec<Value> {
    let deadline = Instant::now() + patience;
    loop {
        let (status, body) = call(
            stack,
            tenant,
            "GET",
            &format!("/v1/sources/{}/jobs", tenant.source_id),
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let items = body["items"].as_array().unwrap().clone();
        if pred(&items) {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "jobs never matched: {items:?}\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_drives_its_temporal_schedule_and_its_runs_create_jobs() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(5))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let src = &tenant.source_id;

    // Create: the answer's next runs are the cron's times in New York, as Temporal has them.
    let before = Utc::now();
    let (status, created) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/sources/{src}/schedules"),
        Some(json!({"cron": "30 9 * * *", "timezone": "America/New_York", "kind": "backup"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let temporal_id = created["temporal_schedule_id"].as_str().unwrap().to_owned();
    assert_eq!(created["paused"], false);
    assert_eq!(created["kind"], "backup");
    assert_eq!(created["catchup_window_secs"], 3600);
    assert!(created["last_run"].is_null(), "{created}");
    let next = times(&created["next_runs"]);
    assert_eq!(
        next,
        daily_in(chrono_tz::America::New_York, 9, 30, before, 5)
    );

    // Temporal has it: not paused, overlap Skip, the catch-up window, the same times.
    let described = stack
        .client
        .get_schedule_handle(temporal_id.clone())
        .describe(Default::default())
        .await
        .expect("the Temporal schedule exists");
    assert!(!described.paused());
    let policies = described
        .raw()
        .schedule
        .as_ref()
        .and_then(|s| s.policies)
        .expect("policies");
    assert_eq!(policies.overlap_policy, 1, "SCHEDULE_OVERLAP_POLICY_SKIP");
    assert_eq!(
        policies.catchup_window.map(|d| d.seconds),
        Some(3600),
        "catch-up window"
    );
    let temporal_next: Vec<DateTime<Utc>> = described
        .future_action_times()
        .into_iter()
        .take(5)
        .map(DateTime::<Utc>::from)
        .collect();
    assert_eq!(temporal_next, next);

    // Listed under its source.
    let (status, listed) = call(
        &stack,
        &tenant,
        "GET",
        &format!("/v1/sources/{src}/schedules"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str());

    // Trigger: the run creates its own job row, which runs to success.
    let (status, body) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/schedules/{id}/trigger"),
        None,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let jobs = wait_for_jobs(&stack, &tenant, |j| !j.is_empty(), Duration::from_secs(60)).await;
    let job_id = jobs[0]["id"].as_str().unwrap().to_owned();
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(180), 0).await;
    assert_eq!(job["kind"], "backup");
    let workflow_id = job["workflow_id"].as_str().unwrap();
    assert!(
        workflow_id.starts_with(&format!("scheduled/{src}/{id}")),
        "{workflow_id}"
    );
    assert!(
        job["temporal_ui_url"]
            .as_str()
            .unwrap()
            .contains("/workflows/scheduled%2F")
    );
    let (_, got) = call(&stack, &tenant, "GET", &format!("/v1/schedules/{id}"), None).await;
    assert_eq!(got["last_run"]["outcome"], "started", "{got}");
    assert_eq!(got["last_run"]["job_id"], job_id.as_str());

    // The job's life is in the activity log, the scheduled start and the transitions by `system`.
    let (status, log) = call(
        &stack,
        &tenant,
        "GET",
        &format!(
            "/v1/accounts/{}/activity?target_id={job_id}",
            tenant.account_id
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    let actions: Vec<(&str, &str)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["actor"].as_str().unwrap(), a["action"].as_str().unwrap()))
        .collect();
    for expected in ["backup.scheduled", "job.running", "job.succeeded"] {
        assert!(
            actions.contains(&("system", expected)),
            "{expected}: {actions:?}"
        );
    }

    // A run that finds the source busy is skipped and recorded; no second job starts. (The API
    // refuses to trigger then, so the run is started through Temporal, as the schedule would.)
    let src_row = source::Entity::find_by_id(src.as_str())
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let busy = repo::start_job(&stack.db, &src_row, JobKind::Sync)
        .await
        .unwrap();
    let (status, body) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/schedules/{id}/trigger"),
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["job_id"], busy.id.as_str());
    temporal::trigger_schedule(&stack.client, &temporal_id)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, got) = call(&stack, &tenant, "GET", &format!("/v1/schedules/{id}"), None).await;
        if got["last_run"]["outcome"] == "skipped" {
            assert_eq!(got["last_run"]["job_id"], busy.id.as_str());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never skipped: {got}\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, log) = call(
        &stack,
        &tenant,
        "GET",
        &format!(
            "/v1/accounts/{}/activity?action=schedule.&target_id={id}",
            tenant.account_id
        ),
        None,
    )
    .await;
    let skipped = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "schedule.skipped")
        .unwrap_or_else(|| panic!("{log}"));
    assert_eq!(skipped["actor"], "system");
    assert_eq!(skipped["details"]["active_job_id"], busy.id.as_str());
    let jobs = wait_for_jobs(&stack, &tenant, |_| true, Duration::from_secs(1)).await;
    assert_eq!(
        jobs.len(),
        2,
        "the busy job and the first run only: {jobs:?}"
    );
    repo::finish_job(&stack.db, &busy.id, JobStatus::Cancelled, None)
        .await
        .unwrap();

    // Pause and resume are Temporal's state too.
    let (status, paused) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/schedules/{id}/pause"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["paused"], true);
    assert_eq!(paused["next_runs"], json!([]));
    let d = temporal::describe_schedule(&stack.client, &temporal_id)
        .await
        .unwrap();
    assert!(d.paused);
    let (status, resumed) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/schedules/{id}/resume"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{resumed}");
    assert_eq!(resumed["paused"], false);
    assert!(
        !temporal::describe_schedule(&stack.client, &temporal_id)
            .await
            .unwrap()
            .paused
    );

    // An update moves the Temporal schedule to the new time and zone.
    let before = Utc::now();
    let (status, updated) = call(
        &stack,
        &tenant,
        "PATCH",
        &format!("/v1/schedules/{id}"),
        Some(json!({"cron": "0 18 * * *", "timezone": "Asia/Tokyo"})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(
        times(&updated["next_runs"]),
        daily_in(chrono_tz::Asia::Tokyo, 18, 0, before, 5)
    );
    let d = temporal::describe_schedule(&stack.client, &temporal_id)
        .await
        .unwrap();
    let temporal_next: Vec<DateTime<Utc>> = d
        .next_runs
        .into_iter()
        .take(5)
        .map(DateTime::<Utc>::from)
        .collect();
    assert_eq!(temporal_next, times(&updated["next_runs"]));

    // Delete removes the Temporal schedule.
    let (status, _) = call(
        &stack,
        &tenant,
        "DELETE",
        &format!("/v1/schedules/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(matches!(
        temporal::describe_schedule(&stack.client, &temporal_id).await,
        Err(temporal::TemporalError::ScheduleNotFound(_))
    ));
    let (status, _) = call(&stack, &tenant, "GET", &format!("/v1/schedules/{id}"), None).await;
    assert_eq!(status, 404);
    // Validation happens before Temporal: a bad time zone names the field.
    let (status, body) = call(
        &stack,
        &tenant,
        "POST",
        &format!("/v1/sources/{src}/schedules"),
        Some(json!({"cron": "0 2 * * *", "timezone": "Mars/Olympus"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["field"], "timezone");
    stack.shutdown().await;
}
