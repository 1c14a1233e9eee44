//! Archives written through a real multipart upload to the embedded endpoint, then opened
//! again with the tar and zstd readers.

use std::collections::BTreeMap;
use std::io::Read;

use super::*;
use crate::blob::BlobWriter;
use crate::embedded::EmbeddedS3;
use crate::keys::AccountKey;
use crate::manifest::{MANIFEST_FORMAT, ManifestEncryption};
use crate::part::{DEFAULT_ZSTD_LEVEL, PartWriter};

async fn start() -> (tempfile::TempDir, EmbeddedS3, ObjectStore) {
    crate::test_store::start("AKIDEXPORTTEST", "export-test-secret").await
}

fn record(stream: &str, i: usize) -> Value {
    let mut r =
        serde_json::json!({"id": format!("{stream}_{i}"), "email": format!("u{i}@example.com")});
    if i.is_multiple_of(3) {
        r["metadata"] = serde_json::json!({"plan": "pro", "seats": i});
    }
    if i.is_multiple_of(4) {
        r["note"] = Value::String("a \"quoted\", multi\nline note".into());
    }
    r
}

/// Stores `sizes.len()` parts of a stream; returns its manifest entry and its JSON Lines.
async fn store_stream(
    store: &ObjectStore,
    key: &AccountKey,
    name: &str,
    sizes: &[usize],
) -> (ManifestStream, Vec<u8>) {
    let mut parts = Vec::new();
    let mut jsonl = Vec::new();
    let mut n = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let mut writer = PartWriter::new(&key.recipient(), DEFAULT_ZSTD_LEVEL).unwrap();
        for _ in 0..size {
            let line = serde_json::to_vec(&record(name, n)).unwrap();
            writer.write_record(&line).unwrap();
            jsonl.extend_from_slice(&line);
            jsonl.push(b'\n');
            n += 1;
        }
        let sealed = writer.finish().unwrap();
        let object = format!("snap/{name}/part-{i:05}");
        store.put(&object, sealed.body.clone()).await.unwrap();
        parts.push(ManifestPart {
            key: object,
            part_no: i as u32 + 1,
            records: sealed.records,
            raw_bytes: sealed.raw_bytes,
            stored_bytes: sealed.stored_bytes(),
            sha256: sealed.sha256,
            blobs: Vec::new(),
            index: None,
        });
    }
    let stream = ManifestStream {
        name: name.to_owned(),
        records: parts.iter().map(|p| p.records).sum(),
        raw_bytes: parts.iter().map(|p| p.raw_bytes).sum(),
        stored_bytes: parts.iter().map(|p| p.stored_bytes).sum(),
        cursor: None,
        parts,
        full: None,
    };
    (stream, jsonl)
}

fn manifest(key: &AccountKey, streams: Vec<ManifestStream>) -> Manifest {
    let now = chrono::Utc::now();
    Manifest {
        format: MANIFEST_FORMAT,
        snapshot_id: "snap-1".into(),
        account_id: "acc".into(),
        source_id: "src".into(),
        platform: "stripe".into(),
        kind: "full".into(),
        parent_snapshot_id: None,
        job_id: "job".into(),
        started_at: now,
        finished_at: now,
        encryption: ManifestEncryption::age_x25519(key.recipient()),
        compression: "zstd".into(),
        records: streams.iter().map(|s| s.records).sum(),
        raw_bytes: streams.iter().map(|s| s.raw_bytes).sum(),
        stored_bytes: streams.iter().map(|s| s.stored_bytes).sum(),
        streams,
    }
}

/// Writes the archive through a multipart upload on a blocking thread; returns the outcome
/// and the progress.
async fn export(
    store: &ObjectStore,
    key: &AccountKey,
    snapshots: Vec<SnapshotExport>,
    files: Vec<ExportFile>,
    format: ExportFormat,
    object: &str,
) -> (Result<u64, StorageError>, Arc<ExportProgress>) {
    let progress = Arc::new(ExportProgress::default());
    let (store, identity, object, p) = (
        store.clone(),
        key.identity().clone(),
        object.to_owned(),
        progress.clone(),
    );
    let handle = Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        let out = MultipartWriter::start(handle.clone(), store.clone(), &object, p.clone())?;
        let archive = Archive {
            handle: &handle,
            store: &store,
            identity: &identity,
            snapshots: &snapshots,
            files: &files,
            format,
        };
        let out = archive.write(out, &p)?;
        out.finish()
    })
    .await
    .unwrap();
    (result, progress)
}

/// The archive's entries by path.
fn entries(archive: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let tarball = zstd::decode_all(archive).expect("one zstd stream");
    let mut out = BTreeMap::new();
    let mut tar = tar::Archive::new(&tarball[..]);
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        out.insert(path, body);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_streams_and_files_round_trip_through_a_multipart_upload() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    // Enough data for several upload pieces even compressed: random-looking contents.
    let (customers, customers_jsonl) = store_stream(&store, &key, "customers", &[3, 0, 5, 1]).await;
    let (invoices, invoices_jsonl) = store_stream(&store, &key, "invoices", &[2]).await;
    let contents: Vec<u8> = (0..3_000_000u32)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    let mut writer = BlobWriter::new(&key.recipient(), DEFAULT_ZSTD_LEVEL).unwrap();
    writer.write(&contents).unwrap();
    let blob = writer.finish().unwrap();
    store.put_file("blobs/one", blob.file.path()).await.unwrap();
    let file = ExportFile {
        sha256: blob.sha256.clone(),
        key: "blobs/one".into(),
        size: blob.size,
        stored_bytes: blob.stored_bytes,
        stored_sha256: blob.stored_sha256.clone(),
    };
    let snapshot = SnapshotExport {
        manifest: manifest(&key, vec![customers, invoices]),
        streams: vec!["invoices".into(), "customers".into()],
    };

    let (result, progress) = export(
        &store,
        &key,
        vec![snapshot],
        vec![file],
        ExportFormat::Jsonl,
        "exports/one.tar.zst",
    )
    .await;
    let size = result.expect("export");
    let archive = store.get("exports/one.tar.zst").await.unwrap();
    assert_eq!(archive.len() as u64, size);
    assert!(
        size > PIECE_BYTES as u64,
        "more than one upload piece: {size}"
    );
    assert_eq!(progress.records.load(Ordering::Relaxed), 11);
    assert_eq!(progress.files.load(Ordering::Relaxed), 1);

    let got = entries(&archive);
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        vec![
            "export.json".to_owned(),
            format!("files/{}", blob.sha256),
            "snap-1/customers.jsonl".to_owned(),
            "snap-1/invoices.jsonl".to_owned(),
        ]
    );
    assert!(got["snap-1/customers.jsonl"] == customers_jsonl);
    assert!(got["snap-1/invoices.jsonl"] == invoices_jsonl);
    assert!(got[&format!("files/{}", blob.sha256)] == contents);
    let index: Value = serde_json::from_slice(&got["export.json"]).unwrap();
    assert_eq!(index["record_format"], "jsonl");
    assert_eq!(
        index["snapshots"][0]["streams"][0]["path"],
        "snap-1/invoices.jsonl"
    );
    assert_eq!(index["snapshots"][0]["streams"][1]["records"], 9);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_has_a_column_per_field_and_a_row_per_record() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let (customers, _) = store_stream(&store, &key, "customers", &[4, 3]).await;
    let snapshot = SnapshotExport {
        manifest: manifest(&key, vec![customers]),
        streams: vec!["customers".into()],
    };
    let (result, _) = export(
        &store,
        &key,
        vec![snapshot],
        Vec::new(),
        ExportFormat::Csv,
        "exports/two.tar.zst",
    )
    .await;
    result.expect("export");
    let got = entries(&store.get("exports/two.tar.zst").await.unwrap());
    let mut csv = csv::Reader::from_reader(&got["snap-1/customers.csv"][..]);
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, vec!["id", "email", "metadata", "note"]);
    let rows: Vec<Vec<String>> = csv
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0][0], "customers_0");
    assert_eq!(
        rows[0][2], r#"{"plan":"pro","seats":0}"#,
        "nested values as JSON"
    );
    assert_eq!(
        rows[0][3], "a \"quoted\", multi\nline note",
        "quoting survives"
    );
    assert_eq!(rows[1][2], "", "absent values are empty");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_part_fails_the_export_and_leaves_no_object() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let (customers, _) = store_stream(&store, &key, "customers", &[4, 3]).await;
    let damaged = customers.parts[1].key.clone();
    let mut body = store.get(&damaged).await.unwrap().to_vec();
    body[10] ^= 1;
    store.put(&damaged, Bytes::from(body)).await.unwrap();
    let snapshot = SnapshotExport {
        manifest: manifest(&key, vec![customers]),
        streams: vec!["customers".into()],
    };
    let (result, _) = export(
        &store,
        &key,
        vec![snapshot],
        Vec::new(),
        ExportFormat::Jsonl,
        "exports/three.tar.zst",
    )
    .await;
    let err = result.expect_err("a damaged part");
    assert!(err.to_string().contains(&damaged), "{err}");
    assert_eq!(store.get_opt("exports/three.tar.zst").await.unwrap(), None);
    server.shutdown().await;
}
