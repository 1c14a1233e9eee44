//! `listbackup restore`: a snapshot back to plain JSON Lines, one file per stream.
//!
//! Every part's sha256 is checked against the manifest before it is decrypted, so a restore
//! never silently returns damaged data (`storage::reader`, which the REST API reads with too).

use anyhow::{Context, bail};
use entities::{SnapshotStatus, account, snapshot};
use sea_orm::{DatabaseConnection, EntityTrait};
use std::{io::Write, path::Path};
use storage::{
    keys::{AccountKey, MasterKey},
    object_store::ObjectStore,
    reader,
};

/// What was restored, per stream.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredStream {
    pub name: String,
    pub records: u64,
    pub path: std::path::PathBuf,
}

pub async fn restore(
    db: &DatabaseConnection,
    store: &ObjectStore,
    master: &MasterKey,
    snapshot_id: &str,
    out: &Path,
) -> anyhow::Result<Vec<RestoredStream>> {
    let snap = snapshot::Entity::find_by_id(snapshot_id)
        .one(db)
        .await?
        .with_context(|| format!("snapshot {snapshot_id} not found"))?;
    if snap.status != SnapshotStatus::Complete {
        bail!(
            "snapshot {snapshot_id} is not complete (status: {:?})",
            snap.status
        );
    }
    let manifest_key = snap
        .manifest_key
        .clone()
        .context("snapshot has no manifest")?;
    let manifest = reader::read_manifest(store, &manifest_key).await?;
    let acct = account::Entity::find_by_id(&snap.account_id)
        .one(db)
        .await?
        .context("the snapshot's account is gone")?;
    let sealed = acct
        .encryption_identity_sealed
        .context("this account holds its own key: restore with `age -d -i <your key>` (docs/restore-by-hand.md)")?;
    let key = AccountKey::open_with(master, &sealed)
        .context("the account key cannot be opened with this master key")?;
    reader::check_recipient(&manifest, key.identity())?;

    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut restored = Vec::new();
    for stream in &manifest.streams {
        let path = out.join(format!("{}.jsonl", stream.name));
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        let mut records = 0u64;
        let mut line = Vec::new();
        for part in &stream.parts {
            let body = reader::fetch_part(store, part)
                .await
                .with_context(|| format!("part {} of snapshot {snapshot_id}", part.key))?;
            let mut lines = reader::part_lines(key.identity(), part, body)
                .with_context(|| format!("opening {}", part.key))?;
            loop {
                line.clear();
                if !lines.next_into(&mut line)? {
                    break;
                }
                records += 1;
                writer.write_all(&line)?;
            }
        }
        writer.flush()?;
        if records != stream.records {
            bail!(
                "stream {} has {records} records but the manifest says {}",
                stream.name,
                stream.records
            );
        }
        restored.push(RestoredStream {
            name: stream.name.clone(),
            records,
            path,
        });
    }
    Ok(restored)
}
