//! What workflows and activities exchange. Payloads stay small — ids, cursors, counts — because
//! they are stored in workflow history; records themselves never pass through Temporal.
//!
//! Activity and workflow type names are API: running workflows refer to them by name, so they are
//! pinned here and must never change.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use temporalio_workflow::{ActivityOptions, common::ActivityDefinition};

/// Full backup or incremental sync.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    Backup,
    Sync,
}

impl BackupKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backup => "backup",
            Self::Sync => "sync",
        }
    }
}

/// The input of `BackupWorkflow`: the job row it runs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BackupInput {
    pub job_id: String,
    pub account_id: String,
    pub source_id: String,
    pub platform: String,
    pub kind: BackupKind,
    /// Back up only these streams this time; `None` uses the source's selection.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
    /// Streams to leave out of this run (a retry past a stream that keeps failing).
    #[serde(default)]
    pub skip_streams: Vec<String>,
    /// How long a run whose connection was refused waits for it to be re-authorized before it
    /// fails; `None` is [`DEFAULT_REAUTH_WAIT_SECS`].
    #[serde(default)]
    pub reauth_wait_secs: Option<u64>,
    /// Set on runs a schedule starts: the job row does not exist yet (`job_id` is empty) and
    /// the run's first activity claims it, or skips the run when the source is busy.
    #[serde(default)]
    pub schedule_id: Option<String>,
}

/// The input of `backup.claim_scheduled`: one firing of a schedule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ClaimInput {
    pub schedule_id: String,
    /// The scheduled run's own workflow id and run id, which its job row records.
    pub workflow_id: String,
    pub run_id: String,
}

/// What `backup.claim_scheduled` decided.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Claimed {
    /// The job this run carries out; `None` when the run is skipped (the source has an active
    /// job, or the schedule or source was deleted).
    pub job_id: Option<String>,
    /// The kind the schedule asks for (it may have changed since the schedule was created).
    pub kind: BackupKind,
}

/// Seven days: long enough for someone to notice the notification and reconnect.
pub const DEFAULT_REAUTH_WAIT_SECS: u64 = 7 * 24 * 3600;

/// The input of `backup.needs_reauth` and `backup.reauthorized`: a waiting job and why.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ReauthInput {
    pub job_id: String,
    /// What the platform said when it refused the connection.
    pub error: String,
    /// On re-authorization, put the job back in the queue (it gave up its slot while it
    /// waited) instead of straight back to `running`.
    #[serde(default)]
    pub requeue: bool,
}

/// The input of `backup.acquire_slot`: a queued job asking to run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct SlotInput {
    pub job_id: String,
}

/// What `backup.acquire_slot` decided.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct JobSlot {
    /// The job is now `running`; otherwise it stays `queued` and asks again later.
    pub acquired: bool,
    /// The account's running jobs when the slot was asked for.
    pub running: u64,
    /// The account's cap on running jobs.
    pub cap: u64,
}

/// The failure type of an extraction stopped by a platform quota that resets later than is
/// worth waiting for in-process (a daily quota): the run waits for the reset on a durable
/// timer, without spending retry attempts.
pub const QUOTA_EXHAUSTED: &str = "QuotaExhausted";

/// The details of a [`QUOTA_EXHAUSTED`] failure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct QuotaExhausted {
    /// How long the platform asked us to wait, in seconds.
    pub wait_secs: u64,
}

/// If a quota failure carries no readable wait: try again after this long.
pub const DEFAULT_QUOTA_WAIT_SECS: u64 = 15 * 60;

/// The input of `backup.waiting_for_quota`: a job that gives up its slot until a platform
/// quota resets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct QuotaWaitInput {
    pub job_id: String,
    /// What the platform said.
    pub error: String,
    /// How long the run waits before it queues for a slot again, in seconds.
    pub wait_secs: u64,
}

/// What `prepare_backup` decided: the snapshot to write and the streams to extract.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct BackupPlan {
    pub snapshot_id: String,
    pub streams: Vec<StreamPlan>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct StreamPlan {
    pub name: String,
    /// For a sync: the cursor the previous snapshot reached.
    pub since: Option<Value>,
}

/// Where the extraction of one stream stands. Everything counted here is committed: stored in
/// the object store and recorded in the database.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub parts_committed: u32,
    /// The page token to continue from.
    pub page_token: Option<String>,
    /// The stream cursor reached (what the next sync starts from).
    pub cursor: Option<Value>,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    /// The stream has been read to its end.
    pub done: bool,
}

/// The input of `extract_stream`: one stream, from a checkpoint. The activity works for a bounded
/// time and returns the checkpoint it reached, so the workflow sees progress and history stays short.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExtractInput {
    pub job_id: String,
    pub account_id: String,
    pub source_id: String,
    pub snapshot_id: String,
    pub stream: String,
    pub since: Option<Value>,
    pub checkpoint: Checkpoint,
}

/// The input of `finalize_snapshot`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FinalizeInput {
    pub job_id: String,
    pub snapshot_id: String,
    pub streams: Vec<String>,
}

/// The result of a successful backup.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct BackupResult {
    pub snapshot_id: String,
    pub manifest_key: String,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

/// The input of `fail_job`: record why a job ended without a snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FailInput {
    pub job_id: String,
    pub snapshot_id: Option<String>,
    pub error: String,
    pub cancelled: bool,
}

/// Live progress, answered by the workflow's `progress` query.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct BackupProgress {
    /// `starting`, `queued` (waiting for one of the account's job slots), `extracting`,
    /// `needs_reauth`, `waiting_for_quota`, `finalizing`, `succeeded`, `failed`, `cancelled`.
    pub phase: String,
    pub snapshot_id: Option<String>,
    pub streams: Vec<StreamProgress>,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct StreamProgress {
    pub name: String,
    /// `pending`, `running` or `done`.
    pub status: String,
    pub records: u64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub parts: u32,
}

macro_rules! activity_contract {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $input:ty => $output:ty) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $marker;
        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;
            fn name(&self) -> &str {
                $name
            }
        }
    };
}
pub(crate) use activity_contract;

activity_contract!(
    /// A scheduled run's first step: creates its job row, or records that the run is skipped
    /// because the source already has an active job.
    ClaimScheduledRun, "backup.claim_scheduled", ClaimInput => Claimed
);
activity_contract!(
    /// Marks the job running, creates the snapshot row, and plans the streams.
    PrepareBackup, "backup.prepare", BackupInput => BackupPlan
);
activity_contract!(
    /// Extracts one stream for a while, committing parts; returns the checkpoint reached.
    ExtractStream, "backup.extract_stream", ExtractInput => Checkpoint
);
activity_contract!(
    /// Writes the manifest last, then marks the snapshot complete and the job succeeded.
    FinalizeSnapshot, "backup.finalize", FinalizeInput => BackupResult
);
activity_contract!(
    /// Marks the job `needs_reauth` (the platform refused the connection) and says so in the
    /// activity log; the run then waits for the `reauthorized` signal.
    MarkNeedsReauth, "backup.needs_reauth", ReauthInput => ()
);
activity_contract!(
    /// Marks a job that was waiting for re-authorization running again.
    MarkReauthorized, "backup.reauthorized", ReauthInput => ()
);
activity_contract!(
    /// Moves a queued job to `running` if its account has a free job slot (fewer running jobs
    /// than its cap); otherwise the job stays queued.
    AcquireJobSlot, "backup.acquire_slot", SlotInput => JobSlot
);
activity_contract!(
    /// Moves a running job back to `queued` while a platform quota is exhausted, saying until
    /// when in its error and the activity log; the run then sleeps and queues for a slot again.
    MarkWaitingForQuota, "backup.waiting_for_quota", QuotaWaitInput => ()
);
activity_contract!(
    /// Marks the job failed (or cancelled) with its reason.
    FailJob, "backup.fail", FailInput => ()
);

/// The input of `WebhookDeliveryWorkflow` and its activities: one delivery row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct DeliveryInput {
    pub delivery_id: String,
}

/// What became of a delivery.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct DeliveryResult {
    /// `delivered`, `failed`, or `abandoned` (its webhook was deleted or disabled meanwhile).
    pub status: String,
    /// Attempts made, this one included.
    pub attempts: u32,
    /// The receiver's last status code, when it answered.
    pub status_code: Option<u16>,
}

/// The input of `webhook.give_up`: a delivery whose retries ran out, and the last failure.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct GiveUpInput {
    pub delivery_id: String,
    pub error: String,
}

activity_contract!(
    /// One attempt at a delivery: signs and POSTs its payload and records the attempt on the
    /// row. A 2xx is delivered; anything else fails the attempt, to be retried with backoff.
    DeliverWebhook, "webhook.deliver", DeliveryInput => DeliveryResult
);
activity_contract!(
    /// Marks a delivery whose retries ran out as failed.
    GiveUpDelivery, "webhook.give_up", GiveUpInput => ()
);

/// The input of `VerifyWorkflow`: one verification row and the snapshot it checks.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VerifyInput {
    pub verification_id: String,
    pub account_id: String,
    pub source_id: String,
    pub snapshot_id: String,
    /// For an account that holds its own key and sent it with the request: the task queue of
    /// the API process holding it, where the checks run decrypting (the key is never here).
    #[serde(default)]
    pub key_queue: Option<String>,
}

/// A damaged or missing object, as a verification reports it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VerifyProblem {
    /// The object key (a part, a blob, or the manifest).
    pub key: String,
    /// `missing`, `checksum_mismatch`, `unreadable` or `record_count_mismatch`.
    pub kind: String,
    pub detail: String,
}

/// What `verify.plan` found in the manifest: the groups of objects to check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct VerifyPlan {
    /// The streams, with their number of parts.
    pub streams: Vec<(String, u64)>,
    /// Distinct blobs the parts refer to.
    pub blobs: u64,
    /// Parts are decrypted and counted (the service holds the account's key); otherwise only
    /// their stored bytes are checked.
    pub decrypt: bool,
    /// Problems with the manifest itself (missing, unreadable): nothing else can be checked.
    pub problems: Vec<VerifyProblem>,
}

/// Which objects `verify.objects` checks: the parts of one stream, or the blobs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum VerifyGroup {
    Stream(String),
    Blobs,
}

/// The input of `verify.objects`: a group, from the object at index `start` on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VerifyObjectsInput {
    pub verification_id: String,
    pub snapshot_id: String,
    pub group: VerifyGroup,
    pub start: u64,
    pub decrypt: bool,
    /// The last group: once its last chunk is checked, a key held for the verification is let
    /// go.
    #[serde(default)]
    pub last_group: bool,
}

/// Counts of a verification, added up chunk by chunk.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct VerifyTally {
    pub objects: u64,
    pub bytes: u64,
    pub records: u64,
    /// The first problems found.
    pub problems: Vec<VerifyProblem>,
    /// Every problem found (`problems` stops at [`MAX_VERIFY_PROBLEMS`]).
    pub problem_count: u64,
}

/// How many problems a verification carries in its history and its row.
pub const MAX_VERIFY_PROBLEMS: usize = 100;

impl VerifyTally {
    /// Adds `other` in, keeping at most [`MAX_VERIFY_PROBLEMS`] problems.
    pub fn add(&mut self, other: VerifyTally) {
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.records += other.records;
        self.problem_count += other.problem_count;
        let room = MAX_VERIFY_PROBLEMS.saturating_sub(self.problems.len());
        self.problems.extend(other.problems.into_iter().take(room));
    }

    /// Records one problem.
    pub fn problem(&mut self, problem: VerifyProblem) {
        self.add(VerifyTally {
            problems: vec![problem],
            problem_count: 1,
            ..VerifyTally::default()
        });
    }
}

/// What one `verify.objects` call checked, and where the next call starts (`None`: the group
/// is done).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct VerifyChunk {
    pub tally: VerifyTally,
    pub next: Option<u64>,
}

/// The input of `verify.finish`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FinishVerifyInput {
    pub verification_id: String,
    pub decrypted: bool,
    pub tally: VerifyTally,
    /// Why the verification could not be completed.
    pub error: Option<String>,
}

/// The result of `VerifyWorkflow` (and live progress through its `progress` query).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct VerifyProgress {
    /// `planning`, `checking`, then `passed`, `failed` or `error`.
    pub phase: String,
    pub objects: u64,
    /// Objects to check in all, once planned.
    pub total: u64,
    pub bytes: u64,
    pub records: u64,
    pub problem_count: u64,
}

activity_contract!(
    /// Reads the snapshot's manifest and says what there is to check.
    PlanVerification, "verify.plan", VerifyInput => VerifyPlan
);
activity_contract!(
    /// Checks objects of one group for a while (size, sha256, and with the key: decryption,
    /// decompression, record counts, blob contents); returns what it found and where to go on.
    VerifyObjects, "verify.objects", VerifyObjectsInput => VerifyChunk
);
activity_contract!(
    /// Records the outcome on the verification, once, and announces a failure to webhooks;
    /// returns the verdict (`passed`, `failed` or `error`).
    FinishVerification, "verify.finish", FinishVerifyInput => String
);

/// The input of `VerifyAccountWorkflow`: a scheduled verification pass over one account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct VerifyPassInput {
    pub account_id: String,
}

/// One verification a pass runs, as a child `VerifyWorkflow`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PassVerification {
    pub workflow_id: String,
    pub platform: String,
    pub input: VerifyInput,
}

/// What `verify.start_pass` created: the verifications of the pass, one per snapshot.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct PassPlan {
    pub verifications: Vec<PassVerification>,
}

/// The result of `VerifyAccountWorkflow`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct PassResult {
    pub verifications: u64,
    pub passed: u64,
    /// Verifications that found damage or could not be completed.
    pub not_passed: u64,
}

activity_contract!(
    /// Creates the verifications of a scheduled pass: for each source of the account, its
    /// newest complete snapshot and the snapshots it builds on, back to the last full one.
    StartVerifyPass, "verify.start_pass", VerifyPassInput => PassPlan
);

/// The input of `ExportWorkflow`: one export row.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExportInput {
    pub export_id: String,
    pub account_id: String,
    /// How long the archive is kept once written, in seconds.
    pub keep_secs: u64,
    /// For an account that holds its own key: the task queue of the API process holding the
    /// key sent with the request, where the build must run (the key itself is never here).
    #[serde(default)]
    pub key_queue: Option<String>,
}

/// What `export.build` wrote.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct ExportBuilt {
    /// Compressed bytes stored.
    pub size_bytes: u64,
    pub records: u64,
    pub files: u64,
}

/// The input of `export.finish`: the totals, or why the export failed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct FinishExportInput {
    pub export_id: String,
    pub built: Option<ExportBuilt>,
    pub error: Option<String>,
}

/// The input of `export.expire`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ExpireExportInput {
    pub export_id: String,
}

activity_contract!(
    /// Writes the export's archive (tar + zstd, streamed into a multipart upload), reporting
    /// progress on the row; returns its totals.
    BuildExport, "export.build", ExportInput => ExportBuilt
);
activity_contract!(
    /// Marks the export succeeded with its totals, or failed with the reason, once.
    FinishExport, "export.finish", FinishExportInput => ()
);
activity_contract!(
    /// Deletes the archive of an export whose time is up and marks it expired.
    ExpireExport, "export.expire", ExpireExportInput => ()
);

/// How long an activity scheduled on a key holder's queue waits to be taken: past that, the
/// process holding the account's key is gone, and with it the key.
pub const KEY_HOLDER_START_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// `options` for an activity that needs a key an account sent with its request: on the queue of
/// the API process holding it (`key_queue`), bounded by [`KEY_HOLDER_START_TIMEOUT`]; unchanged
/// without one.
pub fn on_key_holder(mut options: ActivityOptions, key_queue: Option<String>) -> ActivityOptions {
    if let Some(queue) = key_queue {
        options.task_queue = Some(queue);
        options.schedule_to_start_timeout = Some(KEY_HOLDER_START_TIMEOUT);
    }
    options
}
