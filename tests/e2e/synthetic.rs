//! Large snapshots written straight into the stack's store with the worker's own part writer
//! (and their database rows), for tests about reading at a scale a sandbox backup would take
//! too long to produce.

use crate::harness::{Stack, Tenant};
use entities::{JobKind, JobStatus, SnapshotStatus, repo, snapshot, source};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use storage::{
    layout,
    manifest::{MANIFEST_FORMAT, Manifest, ManifestEncryption, ManifestPart, ManifestStream},
    part::{DEFAULT_ZSTD_LEVEL, PartWriter},
};

/// A Stripe-like customer record of about 400 bytes.
pub fn customer(i: u64) -> Vec<u8> {
    let plan = ["free", "team", "business"][(i % 3) as usize];
    serde_json::to_vec(&serde_json::json!({
        "id": format!("cus_{i:010}"),
        "object": "customer",
        "created": 1_700_000_000 + i,
        "email": format!("customer{i}@example.com"),
        "name": format!("Customer {i}"),
        "description": "synthetic customer for a large export",
        "balance": (i % 997) as i64 - 400,
        "currency": "usd",
        "delinquent": i.is_multiple_of(13),
        "livemode": false,
        "metadata": {"plan": plan, "seats": i % 50},
        "address": {"city": "Berlin", "country": "DE", "line1": format!("Street {}", i % 500), "postal_code": "10115"},
    }))
    .expect("a record serialises")
}

/// Writes a complete full snapshot of the tenant's source with one stream, `customers`, of
/// `records` records in parts of `per_part`; returns its id.
pub async fn store_snapshot(stack: &Stack, tenant: &Tenant, records: u64, per_part: u64) -> String {
    let src = source::Entity::find_by_id(&tenant.source_id)
        .one(&stack.db)
        .await
        .unwrap()
        .unwrap();
    let job = repo::create_job(&stack.db, &src, JobKind::Backup)
        .await
        .unwrap();
    let snap = job.snapshot_id.clone();
    let recipient = tenant.key.recipient();
    let mut parts = Vec::new();
    let mut next = 0u64;
    while next < records {
        let mut writer = PartWriter::new(&recipient, DEFAULT_ZSTD_LEVEL).unwrap();
        let end = (next + per_part).min(records);
        for i in next..end {
            writer.write_record(&customer(i)).unwrap();
        }
        next = end;
        let sealed = tokio::task::spawn_blocking(move || writer.finish().unwrap())
            .await
            .unwrap();
        let part_no = parts.len() as u32 + 1;
        let key = layout::part_key(&tenant.account_id, &src.id, &snap, "customers", part_no);
        stack.store.put(&key, sealed.body.clone()).await.unwrap();
        parts.push(ManifestPart {
            key,
            part_no,
            records: sealed.records,
            raw_bytes: sealed.raw_bytes,
            stored_bytes: sealed.stored_bytes(),
            sha256: sealed.sha256,
            blobs: Vec::new(),
            // Exports read parts alone: these are written without record indexes, as parts
            // were before them.
            index: None,
        });
    }
    let stream = ManifestStream {
        name: "customers".into(),
        records: parts.iter().map(|p| p.records).sum(),
        raw_bytes: parts.iter().map(|p| p.raw_bytes).sum(),
        stored_bytes: parts.iter().map(|p| p.stored_bytes).sum(),
        cursor: None,
        parts,
        full: Some(true),
    };
    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        snapshot_id: snap.clone(),
        account_id: tenant.account_id.clone(),
        source_id: src.id.clone(),
        platform: src.platform.clone(),
        kind: "full".into(),
        parent_snapshot_id: None,
        job_id: job.id.clone(),
        started_at: now,
        finished_at: now,
        encryption: ManifestEncryption::age_x25519(recipient),
        compression: "zstd".into(),
        records: stream.records,
        raw_bytes: stream.raw_bytes,
        stored_bytes: stream.stored_bytes,
        streams: vec![stream],
    };
    let manifest_key = layout::manifest_key(&tenant.account_id, &src.id, &snap);
    stack
        .store
        .put(&manifest_key, manifest.to_json().into())
        .await
        .unwrap();
    snapshot::ActiveModel {
        id: Set(snap.clone()),
        account_id: Set(tenant.account_id.clone()),
        source_id: Set(src.id.clone()),
        job_id: Set(job.id.clone()),
        kind: Set(JobKind::Backup),
        status: Set(SnapshotStatus::Complete),
        parent_snapshot_id: Set(None),
        manifest_key: Set(Some(manifest_key)),
        records: Set(manifest.records as i64),
        raw_bytes: Set(manifest.raw_bytes as i64),
        stored_bytes: Set(manifest.stored_bytes as i64),
        created_at: Set(now),
        completed_at: Set(Some(now)),
    }
    .insert(&stack.db)
    .await
    .unwrap();
    repo::finish_job(&stack.db, &job.id, JobStatus::Succeeded, None)
        .await
        .unwrap();
    snap
}
