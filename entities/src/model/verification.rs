//! One verification of a snapshot: every object it lists re-read and checked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "verifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub account_id: String,
    pub source_id: String,
    pub snapshot_id: String,
    /// `running`, then `passed`, `failed` (an object is damaged or missing) or `error` (the
    /// check could not be completed, e.g. the object store stayed unreachable).
    pub status: String,
    /// Who asked: `user:{id}`, `api_key:{id}`, or `schedule` for the account's scheduled passes.
    pub requested_by: String,
    pub workflow_id: String,
    pub run_id: Option<String>,
    /// The run of the scheduled pass that created it (`VerifyAccountWorkflow`), if any.
    pub pass_id: Option<String>,
    /// Whether parts were decrypted and their records counted (the service holds the key), or
    /// only their stored bytes checked against the manifest.
    pub decrypted: bool,
    pub objects_checked: i64,
    pub bytes_checked: i64,
    pub records_counted: i64,
    /// `[{"key", "kind", "detail"}]`: the damaged or missing objects, at most
    /// [`crate::repo::MAX_VERIFICATION_PROBLEMS`].
    pub problems: Json,
    /// How many problems were found in all (`problems` may hold fewer).
    pub problem_count: i64,
    /// Why the check could not be completed (`status: error`).
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A verification in progress.
pub const RUNNING: &str = "running";
/// Every object is present and intact.
pub const PASSED: &str = "passed";
/// At least one object is damaged or missing.
pub const FAILED: &str = "failed";
/// The verification could not be completed.
pub const ERROR: &str = "error";
