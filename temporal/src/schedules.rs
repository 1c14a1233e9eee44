//! Temporal Schedules behind ListBackup's schedules: one Temporal Schedule per source schedule
//! row, whose action starts `BackupWorkflow` with the schedule's id in its input (the run claims
//! its job row first; see `workflows::backup`), and one per account verification schedule,
//! whose action starts `VerifyAccountWorkflow`. Overlap policy Skip, a catch-up window, jitter.
//!
//! Created with the raw `CreateSchedule` call (the SDK's high-level action carries no search
//! attributes or memo), so scheduled runs are filterable in the Web UI like API-started ones.

use crate::TemporalError;
use std::time::{Duration, SystemTime};
use temporalio_client::{
    Client, NamespacedClient,
    grpc::WorkflowService,
    schedules::{ScheduleError, ScheduleOverlapPolicy},
    tonic::{Code, IntoRequest},
};
use temporalio_common::{
    protos::{
        coresdk::AsJsonPayloadExt,
        temporal::api::{
            common::v1::{Memo, WorkflowType},
            schedule::v1 as proto,
            taskqueue::v1::TaskQueue,
            workflow::v1::NewWorkflowExecutionInfo,
            workflowservice::v1::{CreateScheduleRequest, UpdateScheduleRequest},
        },
    },
    search_attributes::SearchAttributes,
};
use workflows::{
    QUEUE_BACKUP, QUEUE_MAINTENANCE,
    contracts::{BackupInput, VerifyPassInput},
    retention::{self, RetentionInput},
    search,
    verify::{VERIFY_KIND, pass_workflow_id},
};

/// `SCHEDULE_OVERLAP_POLICY_SKIP`: a run due while the previous one still runs is skipped.
const OVERLAP_SKIP: i32 = 1;

/// Everything a Temporal Schedule is built from.
#[derive(Debug, Clone)]
pub struct ScheduleDefinition {
    /// The Temporal Schedule's id.
    pub id: String,
    /// Five-field cron expression, read in `timezone`.
    pub cron: String,
    /// IANA time zone name.
    pub timezone: String,
    pub jitter: Duration,
    pub catchup_window: Duration,
    pub paused: bool,
    /// What every run starts.
    pub run: ScheduledRun,
}

/// What each run of a schedule starts.
#[derive(Debug, Clone)]
pub enum ScheduledRun {
    /// A backup or sync of a source: `schedule_id` set, `job_id` empty.
    Backup(BackupInput),
    /// A verification pass over an account's newest snapshots.
    VerifyAccount(VerifyPassInput),
    /// An account's retention pass.
    Retention(RetentionInput),
}

/// The parts of a run's start request that depend on what it runs.
struct RunStart {
    workflow_id: String,
    workflow_type: &'static str,
    queue: &'static str,
    input: temporalio_common::protos::temporal::api::common::v1::Payload,
    execution_timeout: Duration,
    attributes: SearchAttributes,
    memo: Vec<(&'static str, String)>,
}

fn encode<T: AsJsonPayloadExt + ?Sized>(
    value: &T,
    what: &'static str,
) -> Result<temporalio_common::protos::temporal::api::common::v1::Payload, TemporalError> {
    value.as_json_payload().map_err(|e| TemporalError::Rpc {
        operation: what,
        message: e.to_string(),
    })
}

impl ScheduledRun {
    fn start(&self) -> Result<RunStart, TemporalError> {
        Ok(match self {
            Self::Backup(input) => {
                let schedule_id = input.schedule_id.clone().unwrap_or_default();
                RunStart {
                    workflow_id: scheduled_workflow_id(&input.source_id, &schedule_id),
                    workflow_type: "BackupWorkflow",
                    queue: QUEUE_BACKUP,
                    input: encode(input, "encode schedule input")?,
                    // The same bound as an API-started backup (see `jobs::start_backup`).
                    execution_timeout: Duration::from_secs(30 * 24 * 3600),
                    attributes: SearchAttributes::new([
                        search::ACCOUNT_ID.value_set(input.account_id.clone()),
                        search::SOURCE_ID.value_set(input.source_id.clone()),
                        search::PLATFORM.value_set(input.platform.clone()),
                        search::JOB_KIND.value_set(input.kind.as_str().to_owned()),
                    ]),
                    memo: vec![
                        ("account_id", input.account_id.clone()),
                        ("schedule_id", schedule_id),
                    ],
                }
            }
            Self::VerifyAccount(input) => RunStart {
                workflow_id: pass_workflow_id(&input.account_id),
                workflow_type: "VerifyAccountWorkflow",
                queue: QUEUE_MAINTENANCE,
                input: encode(input, "encode schedule input")?,
                execution_timeout: Duration::from_secs(7 * 24 * 3600),
                attributes: SearchAttributes::new([
                    search::ACCOUNT_ID.value_set(input.account_id.clone()),
                    search::JOB_KIND.value_set(VERIFY_KIND.to_owned()),
                ]),
                memo: vec![("account_id", input.account_id.clone())],
            },
            Self::Retention(input) => RunStart {
                workflow_id: retention::schedule_id(&input.account_id),
                workflow_type: retention::WORKFLOW_TYPE,
                queue: QUEUE_MAINTENANCE,
                input: encode(input, "encode schedule input")?,
                execution_timeout: retention::RUN_TIMEOUT,
                attributes: SearchAttributes::new([
                    search::ACCOUNT_ID.value_set(input.account_id.clone()),
                    search::JOB_KIND.value_set(retention::KIND.to_owned()),
                ]),
                memo: vec![("account_id", input.account_id.clone())],
            },
        })
    }
}

/// What Temporal says about a schedule now.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleStatus {
    pub paused: bool,
    /// The next times it will start a run (jitter included), soonest first.
    pub next_runs: Vec<SystemTime>,
    /// How many runs it has started.
    pub action_count: i64,
    /// Runs skipped because the previous one was still running.
    pub overlap_skipped: i64,
    /// Runs missed past the catch-up window.
    pub missed_catchup_window: i64,
}

fn rpc(operation: &'static str, status: &temporalio_client::tonic::Status) -> TemporalError {
    match status.code() {
        Code::InvalidArgument => TemporalError::InvalidSchedule(status.message().to_owned()),
        Code::NotFound => TemporalError::ScheduleNotFound(status.message().to_owned()),
        Code::AlreadyExists => TemporalError::ScheduleExists(status.message().to_owned()),
        _ => TemporalError::Rpc {
            operation,
            message: status.message().to_owned(),
        },
    }
}

fn schedule_error(operation: &'static str, e: ScheduleError) -> TemporalError {
    match e {
        ScheduleError::Rpc(status) => rpc(operation, &status),
        other => TemporalError::Rpc {
            operation,
            message: other.to_string(),
        },
    }
}

/// The workflow id prefix of a schedule's runs; Temporal appends each run's scheduled time.
pub fn scheduled_workflow_id(source_id: &str, schedule_id: &str) -> String {
    format!("scheduled/{source_id}/{schedule_id}")
}

fn build(
    def: &ScheduleDefinition,
) -> Result<(proto::Schedule, Memo, SearchAttributes), TemporalError> {
    let run = def.run.start()?;
    let mut fields = std::collections::HashMap::new();
    for (name, value) in &run.memo {
        fields.insert((*name).to_owned(), encode(value, "encode schedule memo")?);
    }
    let memo = Memo { fields };
    let schedule = proto::Schedule {
        spec: Some(proto::ScheduleSpec {
            cron_string: vec![def.cron.clone()],
            timezone_name: def.timezone.clone(),
            jitter: (!def.jitter.is_zero())
                .then(|| def.jitter.try_into().ok())
                .flatten(),
            ..Default::default()
        }),
        action: Some(proto::ScheduleAction {
            action: Some(proto::schedule_action::Action::StartWorkflow(
                NewWorkflowExecutionInfo {
                    workflow_id: run.workflow_id,
                    workflow_type: Some(WorkflowType {
                        name: run.workflow_type.into(),
                    }),
                    task_queue: Some(TaskQueue {
                        name: run.queue.into(),
                        ..Default::default()
                    }),
                    input: Some(run.input.into()),
                    workflow_execution_timeout: run.execution_timeout.try_into().ok(),
                    memo: Some(memo.clone()),
                    search_attributes: Some(run.attributes.clone().into_proto()),
                    ..Default::default()
                },
            )),
        }),
        policies: Some(proto::SchedulePolicies {
            overlap_policy: OVERLAP_SKIP,
            catchup_window: def.catchup_window.try_into().ok(),
            ..Default::default()
        }),
        state: Some(proto::ScheduleState {
            paused: def.paused,
            notes: if def.paused { "paused" } else { "" }.into(),
            ..Default::default()
        }),
    };
    Ok((schedule, memo, run.attributes))
}

/// Creates the Temporal Schedule. Temporal refusing the spec is
/// [`TemporalError::InvalidSchedule`].
pub async fn create_schedule(
    client: &Client,
    def: &ScheduleDefinition,
) -> Result<(), TemporalError> {
    let (schedule, memo, attributes) = build(def)?;
    let request = CreateScheduleRequest {
        namespace: client.namespace(),
        schedule_id: def.id.clone(),
        schedule: Some(schedule),
        initial_patch: None,
        identity: client.identity(),
        request_id: format!("create-{}", def.id),
        memo: Some(memo),
        search_attributes: Some(attributes.into_proto()),
    };
    WorkflowService::create_schedule(&mut client.clone(), request.into_request())
        .await
        .map(|_| ())
        .map_err(|s| rpc("create_schedule", &s))
}

/// Replaces the Temporal Schedule's spec, action, policies and paused state with `def`.
pub async fn update_schedule(
    client: &Client,
    def: &ScheduleDefinition,
) -> Result<(), TemporalError> {
    let (schedule, _, _) = build(def)?;
    let request = UpdateScheduleRequest {
        namespace: client.namespace(),
        schedule_id: def.id.clone(),
        schedule: Some(schedule),
        identity: client.identity(),
        request_id: uuid_like(&def.id),
        ..Default::default()
    };
    WorkflowService::update_schedule(&mut client.clone(), request.into_request())
        .await
        .map(|_| ())
        .map_err(|s| rpc("update_schedule", &s))
}

/// A request id unique to this call (Temporal deduplicates by it).
fn uuid_like(id: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{id}-{nanos}")
}

/// Pauses or resumes the Temporal Schedule.
pub async fn set_schedule_paused(
    client: &Client,
    id: &str,
    paused: bool,
    note: &str,
) -> Result<(), TemporalError> {
    let handle = client.get_schedule_handle(id);
    let result = if paused {
        handle.pause(Some(note), Default::default()).await
    } else {
        handle.unpause(Some(note), Default::default()).await
    };
    result.map_err(|e| schedule_error("patch_schedule", e))
}

/// Starts a run now, whatever the spec says (the run still skips itself while the source has an
/// active job).
pub async fn trigger_schedule(client: &Client, id: &str) -> Result<(), TemporalError> {
    client
        .get_schedule_handle(id)
        .trigger(ScheduleOverlapPolicy::AllowAll, Default::default())
        .await
        .map_err(|e| schedule_error("patch_schedule", e))
}

/// Deletes the Temporal Schedule; one that does not exist (any more) is fine. Runs it started
/// are not affected.
pub async fn delete_schedule(client: &Client, id: &str) -> Result<(), TemporalError> {
    match client
        .get_schedule_handle(id)
        .delete(Default::default())
        .await
        .map_err(|e| schedule_error("delete_schedule", e))
    {
        Ok(()) | Err(TemporalError::ScheduleNotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// What Temporal says about the schedule now.
pub async fn describe_schedule(client: &Client, id: &str) -> Result<ScheduleStatus, TemporalError> {
    let d = client
        .get_schedule_handle(id)
        .describe(Default::default())
        .await
        .map_err(|e| schedule_error("describe_schedule", e))?;
    Ok(ScheduleStatus {
        paused: d.paused(),
        next_runs: d.future_action_times(),
        action_count: d.action_count(),
        overlap_skipped: d.overlap_skipped(),
        missed_catchup_window: d.missed_catchup_window(),
    })
}
