//! S3 Object Lock: snapshot objects written with a retention period, and deletes that respect it.
//!
//! A bucket with Object Lock enabled is versioned. With [`ObjectLock`] configured, every object
//! the store writes (parts, their indexes, manifests, file blobs) carries a retention mode and a
//! retain-until date `period` from the moment of the write, so nobody — ListBackup included —
//! can delete that version before then (compliance mode), or only a principal allowed to bypass
//! governance retention can (governance mode; ListBackup never asks to bypass).
//!
//! On a versioned bucket a plain DeleteObject deletes nothing: it only adds a delete marker.
//! So with a lock configured, [`ObjectStore::delete`] deletes every version of the key by id,
//! and [`ObjectStore::hold`] tells beforehand whether any version under a prefix is still
//! retained, so that retention can keep such a snapshot whole instead of deleting half of it.

use std::{fmt, str::FromStr, time::Duration};

use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::{
    ObjectLockEnabled, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectVersion,
};
use chrono::{DateTime, Utc};

use super::{ObjectStore, s3_error};
use crate::StorageError;

/// The retention mode written on objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Deletable early only by a principal with `s3:BypassGovernanceRetention` who asks to.
    Governance,
    /// Deletable by nobody, the bucket's owner included, until the date passes.
    Compliance,
}

impl LockMode {
    fn to_s3(self) -> ObjectLockMode {
        match self {
            Self::Governance => ObjectLockMode::Governance,
            Self::Compliance => ObjectLockMode::Compliance,
        }
    }
}

impl FromStr for LockMode {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s.to_ascii_lowercase().as_str() {
            "governance" => Ok(Self::Governance),
            "compliance" => Ok(Self::Compliance),
            _ => Err(()),
        }
    }
}

impl fmt::Display for LockMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Governance => "governance",
            Self::Compliance => "compliance",
        })
    }
}

/// How objects are locked: the mode, and how long after its write each object stays retained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    pub mode: LockMode,
    pub period: Duration,
}

impl ObjectLock {
    /// The retain-until date of an object written now.
    pub(super) fn retain_until(&self) -> aws_sdk_s3::primitives::DateTime {
        let until = std::time::SystemTime::now() + self.period;
        aws_sdk_s3::primitives::DateTime::from(until)
    }

    pub(super) fn mode_s3(&self) -> ObjectLockMode {
        self.mode.to_s3()
    }
}

/// Why objects cannot be deleted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// Retained (governance or compliance) until this moment.
    Until(DateTime<Utc>),
    /// A legal hold is on: retained until someone lifts it.
    LegalHold,
}

impl fmt::Display for Hold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Until(t) => write!(f, "retained until {}", t.to_rfc3339()),
            Self::LegalHold => f.write_str("under a legal hold"),
        }
    }
}

impl ObjectStore {
    /// The Object Lock this store writes with, if any.
    pub fn object_lock(&self) -> Option<&ObjectLock> {
        self.lock.as_ref()
    }

    /// Fails unless the bucket has Object Lock enabled: a lock configured for a bucket without
    /// it would have every write refused, so this is checked at start-up.
    pub async fn check_object_lock(&self) -> Result<(), StorageError> {
        let enabled = match self
            .client
            .get_object_lock_configuration()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => out
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| *e == ObjectLockEnabled::Enabled),
            Err(SdkError::ServiceError(e))
                if e.raw().status().as_u16() == 404 || e.raw().status().as_u16() == 501 =>
            {
                false
            }
            Err(e) => return Err(s3_error("GetObjectLockConfiguration", &self.bucket, e)),
        };
        if enabled {
            Ok(())
        } else {
            Err(StorageError::S3 {
                op: "GetObjectLockConfiguration",
                key: self.bucket.clone(),
                message: "Object Lock is configured but the bucket does not have it enabled \
                          (it can only be enabled when the bucket is created, or by AWS support)"
                    .into(),
            })
        }
    }

    /// Whether any version of any object under `prefix` is still retained. On an unversioned
    /// bucket nothing is (and nothing is asked of the store). Reading retention and legal holds
    /// needs `s3:GetObjectRetention` and `s3:GetObjectLegalHold`: without them S3 leaves the
    /// headers out and the object looks free (its delete is then refused, as
    /// [`StorageError::Locked`]).
    pub async fn hold(&self, prefix: &str) -> Result<Option<Hold>, StorageError> {
        if !self.is_versioned() {
            return Ok(None);
        }
        let now = Utc::now();
        let mut latest: Option<DateTime<Utc>> = None;
        for version in self.versions(prefix).await? {
            let (Some(key), Some(id)) = (version.key(), version.version_id()) else {
                continue;
            };
            let head = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .version_id(id)
                .send()
                .await
                .map_err(|e| s3_error("HeadObject", key, e))?;
            if head.object_lock_legal_hold_status() == Some(&ObjectLockLegalHoldStatus::On) {
                return Ok(Some(Hold::LegalHold));
            }
            let until = head
                .object_lock_retain_until_date()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
            if let Some(until) = until.filter(|u| *u > now) {
                latest = latest.max(Some(until));
            }
        }
        Ok(latest.map(Hold::Until))
    }

    /// Every version of every object under `prefix` (delete markers are not versions of data
    /// and are not listed here).
    async fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>, StorageError> {
        Ok(self.version_listing(prefix).await?.0)
    }

    /// Every version and every delete marker under `prefix`, as (key, version id).
    async fn version_listing(
        &self,
        prefix: &str,
    ) -> Result<(Vec<ObjectVersion>, Vec<(String, String)>), StorageError> {
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut key_marker: Option<String> = None;
        let mut version_marker: Option<String> = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(|e| s3_error("ListObjectVersions", prefix, e))?;
            versions.extend(page.versions().iter().cloned());
            markers.extend(
                page.delete_markers()
                    .iter()
                    .filter_map(|m| Some((m.key()?.to_owned(), m.version_id()?.to_owned()))),
            );
            if !page.is_truncated().unwrap_or(false) {
                return Ok((versions, markers));
            }
            let next = (
                page.next_key_marker().map(str::to_owned),
                page.next_version_id_marker().map(str::to_owned),
            );
            // A store that hands back the same markers would otherwise loop forever.
            if next.0.is_none() || next == (key_marker.clone(), version_marker.clone()) {
                return Err(StorageError::S3 {
                    op: "ListObjectVersions",
                    key: prefix.to_owned(),
                    message: "store answered a truncated page without new markers".into(),
                });
            }
            (key_marker, version_marker) = next;
        }
    }

    /// Deletes every version of `key` (or, with `whole_prefix`, of every key under it) and the
    /// delete markers, by version id. A version still retained is refused by the store:
    /// [`StorageError::Locked`].
    pub(super) async fn delete_versions(
        &self,
        key: &str,
        whole_prefix: bool,
    ) -> Result<(), StorageError> {
        let (versions, markers) = self.version_listing(key).await?;
        let ids = versions
            .iter()
            .filter_map(|v| Some((v.key()?.to_owned(), v.version_id()?.to_owned())))
            .chain(markers)
            .filter(|(k, _)| whole_prefix || k == key);
        for (k, id) in ids {
            match self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(&k)
                .version_id(&id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 403 => {
                    return Err(StorageError::Locked { key: k });
                }
                Err(e) => return Err(s3_error("DeleteObject", &k, e)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively() {
        assert_eq!("GOVERNANCE".parse(), Ok(LockMode::Governance));
        assert_eq!("compliance".parse(), Ok(LockMode::Compliance));
        assert_eq!("legal".parse::<LockMode>(), Err(()));
        assert_eq!(LockMode::Compliance.to_string(), "compliance");
    }

    #[test]
    fn retain_until_is_the_period_from_now() {
        let lock = ObjectLock {
            mode: LockMode::Governance,
            period: Duration::from_secs(3600),
        };
        let until = lock.retain_until().secs();
        let expected = Utc::now().timestamp() + 3600;
        assert!((until - expected).abs() <= 1, "{until} vs {expected}");
    }
}
