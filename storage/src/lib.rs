//! Snapshot storage for ListBackup: how backed-up records become objects in S3 and come back.
//!
//! A stream's records are written as JSON Lines, compressed with zstd and encrypted with age
//! (X25519, one identity per account) into *parts* ([`part`]); a snapshot's `manifest.json`
//! ([`manifest`]) is written last and lists every part with its sha256, so a snapshot exists only
//! once it is complete. Object keys are deterministic ([`layout`]) so a retried upload overwrites
//! rather than duplicates. [`object_store`] is a thin wrapper over aws-sdk-s3, and [`embedded`]
//! serves an S3 endpoint from a local folder for `listbackup dev` and for tests. [`reader`] reads
//! snapshots back, verifying every part against the manifest before decrypting it; [`index`]
//! (a record index per part) and [`pit`] (point-in-time views over an incremental chain) find
//! records without reading whole streams.
//!
//! Every part can be restored without ListBackup: `age -d -i key.txt part.jsonl.zst.age | zstd -d`.

pub mod blob;
pub mod embedded;
mod error;
pub mod export;
pub mod index;
pub mod keys;
pub mod layout;
pub mod manifest;
pub mod moto;
pub mod object_store;
pub mod part;
pub mod pit;
pub mod reader;
pub mod verify;

#[cfg(test)]
mod test_store;

pub use error::StorageError;
