//! The custom search attributes every ListBackup run carries, so operators can filter runs by
//! account, source, platform, kind and status in the Temporal Web UI.

use temporalio_workflow::common::search_attributes::SearchAttributeKey;

pub const ACCOUNT_ID: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("ListbackupAccountId");
pub const SOURCE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupSourceId");
pub const PLATFORM: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupPlatform");
pub const JOB_KIND: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupJobKind");
/// Where the job stands, upserted by the run at each transition: `queued`, `running`,
/// `needs_reauth`, `waiting_for_quota`, `succeeded`, `failed`, `cancelled`.
pub const JOB_STATUS: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("ListbackupJobStatus");

/// The names to register on a namespace (all of type Keyword).
pub const ALL: [&str; 5] = [
    "ListbackupAccountId",
    "ListbackupSourceId",
    "ListbackupPlatform",
    "ListbackupJobKind",
    "ListbackupJobStatus",
];
