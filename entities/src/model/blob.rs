//! A file's contents in an account's blob store, stored once per content hash.
//!
//! A row is written only after the object is stored, so a `stored` row means the blob is safe and
//! a later backup of the same contents skips the upload.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "blobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    /// Lowercase hex sha256 of the plaintext contents.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    pub key: String,
    /// Plaintext size.
    pub size: i64,
    pub stored_bytes: i64,
    /// Lowercase hex sha256 of the stored (sealed) object.
    pub stored_sha256: String,
    pub created_at: DateTimeUtc,
    /// `stored`, or `deleting` while retention's sweep deletes it: a backup never reuses a
    /// `deleting` blob, it waits for the row to go and stores the contents again.
    pub state: String,
    /// Bumped by every backup that reuses the blob, so the sweep's guarded update fails for a
    /// blob reused since it was marked.
    pub uses: i64,
    /// When the sweep set `deleting`.
    pub deleting_since: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
