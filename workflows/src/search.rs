//! The custom search attributes every ListBackup run carries, so operators can filter runs by
//! account, source, platform and kind in the Temporal Web UI.

use temporalio_workflow::common::search_attributes::SearchAttributeKey;

pub const ACCOUNT_ID: SearchAttributeKey<String> =
    SearchAttributeKey::keyword("ListbackupAccountId");
pub const SOURCE_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupSourceId");
pub const PLATFORM: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupPlatform");
pub const JOB_KIND: SearchAttributeKey<String> = SearchAttributeKey::keyword("ListbackupJobKind");

/// The names to register on a namespace (all of type Keyword).
pub const ALL: [&str; 4] = [
    "ListbackupAccountId",
    "ListbackupSourceId",
    "ListbackupPlatform",
    "ListbackupJobKind",
];
