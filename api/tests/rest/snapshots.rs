//! Snapshots over HTTP, on real stored data: snapshots are written with the storage crate's own
//! part and blob writers (the code the worker uses) into an embedded S3 endpoint, with their
//! database rows, then read back through the API.

use crate::harness::*;
use entities::{
    JobKind, JobStatus, SnapshotStatus, account, blob, repo,
    sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set},
    snapshot,
};
use serde_json::{Value, json};
use storage::{
    blob::BlobWriter,
    keys::AccountKey,
    layout,
    manifest::{MANIFEST_FORMAT, Manifest, ManifestEncryption, ManifestPart, ManifestStream},
    part::PartWriter,
};

/// A stream to store: its records, split into parts of the given sizes.
pub(crate) struct StreamSpec {
    name: &'static str,
    parts: Vec<usize>,
}

/// What was stored: the snapshot and each stream's JSON Lines.
pub(crate) struct Stored {
    pub snapshot_id: String,
    pub source_id: String,
    pub jsonl: Vec<(String, Vec<u8>)>,
    /// A file the snapshot refers to: its sha256 and contents.
    pub file: (String, Vec<u8>),
}

pub(crate) fn record(stream: &str, i: usize) -> Value {
    json!({
        "id": format!("{stream}_{i:05}"),
        "email": format!("user{i}@example.com"),
        "note": "line one\nline two, \"quoted\" and ünïcode",
        "amount": i * 100,
    })
}

/// A source of `account_id` with one finished backup job.
pub(crate) async fn source_with_job(
    app: &App,
    account_id: &str,
) -> (entities::source::Model, entities::job::Model) {
    // A connection of its own per snapshot: names are unique in an account.
    let conn = repo::create_connection(
        &app.db,
        account_id,
        "stripe",
        &format!("Stripe {}", entities::new_id()),
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    let source = repo::create_source(&app.db, &conn, &conn.name, &[])
        .await
        .unwrap();
    let job = repo::create_job(&app.db, &source, JobKind::Backup)
        .await
        .unwrap();
    (source, job)
}

/// The snapshot row of `job`.
pub(crate) async fn snapshot_row(
    app: &App,
    job: &entities::job::Model,
    status: SnapshotStatus,
    manifest_key: Option<String>,
) {
    snapshot::ActiveModel {
        id: Set(job.snapshot_id.clone()),
        account_id: Set(job.account_id.clone()),
        source_id: Set(job.source_id.clone()),
        job_id: Set(job.id.clone()),
        kind: Set(job.kind),
        status: Set(status),
        parent_snapshot_id: Set(None),
        manifest_key: Set(manifest_key),
        records: Set(0),
        raw_bytes: Set(0),
        stored_bytes: Set(0),
        created_at: Set(chrono::Utc::now()),
        completed_at: Set(None),
    }
    .insert(&app.db)
    .await
    .unwrap();
}

/// Writes a complete snapshot of `streams` for a new source of `account_id`, as the worker
/// does: parts through `PartWriter`, a file through `BlobWriter`, the manifest last.
pub(crate) async fn store_snapshot(app: &App, account_id: &str, streams: &[StreamSpec]) -> Stored {
    let acct = account::Entity::find_by_id(account_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let recipient = acct.encryption_recipient.clone();
    let (source, job) = source_with_job(app, account_id).await;
    let snap = &job.snapshot_id;

    // A file, referred to by the first part of the first stream.
    let contents: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let mut writer = BlobWriter::new(&recipient, 3).unwrap();
    for chunk in contents.chunks(10_000) {
        writer.write(chunk).unwrap();
    }
    let sealed = writer.finish().unwrap();
    let blob_key = layout::blob_key(account_id, &sealed.sha256);
    app.store
        .put_file(&blob_key, sealed.file.path())
        .await
        .unwrap();
    repo::record_blob(
        &app.db,
        blob::Model {
            account_id: account_id.to_owned(),
            sha256: sealed.sha256.clone(),
            key: blob_key,
            size: sealed.size as i64,
            stored_bytes: sealed.stored_bytes as i64,
            stored_sha256: sealed.stored_sha256.clone(),
            created_at: chrono::Utc::now(),
            state: repo::BLOB_STORED.to_owned(),
            uses: 0,
            deleting_since: None,
        },
    )
    .await
    .unwrap();

    let mut manifest_streams = Vec::new();
    let mut jsonl = Vec::new();
    for (s, spec) in streams.iter().enumerate() {
        let mut all = Vec::new();
        let mut parts = Vec::new();
        let mut n = 0;
        for (i, &size) in spec.parts.iter().enumerate() {
            let mut writer = PartWriter::new(&recipient, 3).unwrap();
            for _ in 0..size {
                let line = serde_json::to_vec(&record(spec.name, n)).unwrap();
                writer.write_record(&line).unwrap();
                all.extend_from_slice(&line);
                all.push(b'\n');
                n += 1;
            }
            let part = writer.finish().unwrap();
            let part_no = i as u32 + 1;
            let key = layout::part_key(account_id, &source.id, snap, spec.name, part_no);
            app.store.put(&key, part.body.clone()).await.unwrap();
            parts.push(ManifestPart {
                key,
                part_no,
                records: part.records,
                raw_bytes: part.raw_bytes,
                stored_bytes: part.stored_bytes(),
                sha256: part.sha256.clone(),
                blobs: if s == 0 && i == 0 {
                    vec![sealed.sha256.clone()]
                } else {
                    Vec::new()
                },
                index: None,
            });
        }
        manifest_streams.push(ManifestStream {
            name: spec.name.to_owned(),
            records: parts.iter().map(|p| p.records).sum(),
            raw_bytes: parts.iter().map(|p| p.raw_bytes).sum(),
            stored_bytes: parts.iter().map(|p| p.stored_bytes).sum(),
            cursor: Some(json!({"created": 1_700_000_000})),
            parts,
            full: None,
        });
        jsonl.push((spec.name.to_owned(), all));
    }
    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        snapshot_id: snap.clone(),
        account_id: account_id.to_owned(),
        source_id: source.id.clone(),
        platform: "stripe".into(),
        kind: "full".into(),
        parent_snapshot_id: None,
        job_id: job.id.clone(),
        started_at: now,
        finished_at: now,
        encryption: ManifestEncryption::age_x25519(recipient),
        compression: "zstd".into(),
        records: manifest_streams.iter().map(|s| s.records).sum(),
        raw_bytes: manifest_streams.iter().map(|s| s.raw_bytes).sum(),
        stored_bytes: manifest_streams.iter().map(|s| s.stored_bytes).sum(),
        streams: manifest_streams,
    };
    let manifest_key = layout::manifest_key(account_id, &source.id, snap);
    app.store
        .put(&manifest_key, manifest.to_json().into())
        .await
        .unwrap();
    snapshot_row(app, &job, SnapshotStatus::Complete, Some(manifest_key)).await;
    let mut row = snapshot::Entity::find_by_id(snap.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.records = Set(manifest.records as i64);
    row.raw_bytes = Set(manifest.raw_bytes as i64);
    row.stored_bytes = Set(manifest.stored_bytes as i64);
    row.completed_at = Set(Some(now));
    row.update(&app.db).await.unwrap();
    repo::finish_job(&app.db, &job.id, JobStatus::Succeeded, None)
        .await
        .unwrap();
    Stored {
        snapshot_id: snap.clone(),
        source_id: source.id,
        jsonl,
        file: (sealed.sha256.clone(), contents),
    }
}

/// A new sync job of `source_id` whose snapshot is still being written; returns its id.
pub(crate) async fn writing_snapshot(app: &App, source_id: &str) -> String {
    let source = entities::source::Entity::find_by_id(source_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let running = repo::create_job(&app.db, &source, JobKind::Sync)
        .await
        .unwrap();
    snapshot_row(app, &running, SnapshotStatus::Writing, None).await;
    running.snapshot_id
}

pub(crate) fn specs() -> Vec<StreamSpec> {
    vec![
        StreamSpec {
            name: "customers",
            parts: vec![7, 5, 1, 9],
        },
        StreamSpec {
            name: "invoices",
            parts: vec![3],
        },
        StreamSpec {
            name: "refunds",
            parts: vec![],
        },
    ]
}

pub(crate) fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

/// Reads every record of a stream, `limit` a page; returns the bytes and the page count.
async fn read_all(
    app: &App,
    token: &str,
    snapshot: &str,
    stream: &str,
    limit: u64,
) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/snapshots/{snapshot}/streams/{stream}/records?limit={limit}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, headers, body) = app.get_raw(&path, Some(token)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/x-ndjson")
        );
        let lines = body.iter().filter(|b| **b == b'\n').count();
        assert_eq!(
            header(&headers, "x-record-count"),
            Some(lines.to_string().as_str())
        );
        out.extend_from_slice(&body);
        pages += 1;
        cursor = header(&headers, "x-next-cursor").map(str::to_owned);
        match &cursor {
            Some(c) => {
                assert_eq!(lines as u64, limit, "only the last page is short");
                let link = header(&headers, "link").expect("a Link header while more follow");
                assert!(
                    link.contains(&format!("cursor={c}>; rel=\"next\"")),
                    "{link}"
                );
            }
            None => {
                assert!(header(&headers, "link").is_none());
                break;
            }
        }
        assert!(pages < 1000, "paging ends");
    }
    (out, pages)
}

#[tokio::test]
async fn records_pages_cover_every_record_once_across_part_boundaries() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;
    let customers = &stored.jsonl[0].1;

    for limit in [1, 4, 7, 12, 22, 1000] {
        let (got, pages) = read_all(&app, &ada.access, snap, "customers", limit).await;
        assert!(
            got == *customers,
            "limit {limit}: every record once, in order"
        );
        assert_eq!(
            pages,
            22usize.div_ceil(limit as usize).max(1),
            "limit {limit}"
        );
    }
    let (got, _) = read_all(&app, &ada.access, snap, "invoices", 2).await;
    assert!(got == stored.jsonl[1].1);
    // A stream without records is one empty page.
    let (got, pages) = read_all(&app, &ada.access, snap, "refunds", 10).await;
    assert!(got.is_empty() && pages == 1);

    // Each line is a record as stored.
    let (_, _, body) = app
        .get_raw(
            &format!("/v1/snapshots/{snap}/streams/customers/records?limit=2"),
            Some(&ada.access),
        )
        .await;
    let first: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first, record("customers", 0));
    app.shutdown().await;
}

#[tokio::test]
async fn downloads_equal_the_concatenated_jsonl_plain_and_zstd() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;

    for (stream, jsonl) in &stored.jsonl {
        let base = format!("/v1/snapshots/{snap}/streams/{stream}/download");
        let (status, headers, body) = app.get_raw(&base, Some(&ada.access)).await;
        assert_eq!(status, 200);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/x-ndjson")
        );
        assert_eq!(
            header(&headers, "content-disposition"),
            Some(format!("attachment; filename=\"{snap}-{stream}.jsonl\"").as_str())
        );
        assert!(
            body == *jsonl,
            "{stream}: the download is the stream's JSON Lines"
        );

        let (status, headers, body) = app
            .get_raw(&format!("{base}?format=jsonl.zst"), Some(&ada.access))
            .await;
        assert_eq!(status, 200);
        assert_eq!(header(&headers, "content-type"), Some("application/zstd"));
        assert_eq!(
            header(&headers, "content-disposition"),
            Some(format!("attachment; filename=\"{snap}-{stream}.jsonl.zst\"").as_str())
        );
        let plain = zstd::decode_all(body.as_slice()).expect("one zstd frame");
        assert!(
            plain == *jsonl,
            "{stream}: .jsonl.zst decompresses to the JSON Lines"
        );
    }

    // The file the first part refers to, decrypted.
    let (sha, contents) = &stored.file;
    let (status, headers, body) = app
        .get_raw(
            &format!("/v1/snapshots/{snap}/files/{sha}"),
            Some(&ada.access),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/octet-stream")
    );
    assert!(body == *contents);
    app.shutdown().await;
}

#[tokio::test]
async fn snapshots_are_listed_newest_first_with_their_manifest_and_streams() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;

    // A newer, still running job of the same source.
    let source = entities::source::Entity::find_by_id(stored.source_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let newer = repo::create_job(&app.db, &source, JobKind::Sync)
        .await
        .unwrap();
    snapshot_row(&app, &newer, SnapshotStatus::Writing, None).await;

    let list = app
        .get(&format!("/v1/sources/{}/snapshots", source.id), &ada.access)
        .await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    let ids: Vec<&str> = items.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [newer.snapshot_id.as_str(), snap.as_str()],
        "newest first"
    );
    assert!(list.body.get("next_cursor").is_none());
    assert_eq!(items[0]["status"], "writing");
    assert_eq!(items[0]["kind"], "incremental");
    assert_eq!(items[1]["status"], "complete");
    assert_eq!(items[1]["kind"], "full");
    assert_eq!(items[1]["records"], 25);
    assert_eq!(items[1]["job_id"], stored_job(&app, snap).await);
    assert!(items[1]["completed_at"].is_string());

    // One a page.
    let first = app
        .get(
            &format!("/v1/sources/{}/snapshots?limit=1", source.id),
            &ada.access,
        )
        .await;
    assert_eq!(first.ok(200)["items"][0]["id"], newer.snapshot_id.as_str());
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(
            &format!(
                "/v1/sources/{}/snapshots?limit=1&cursor={cursor}",
                source.id
            ),
            &ada.access,
        )
        .await;
    assert_eq!(second.ok(200)["items"][0]["id"], snap.as_str());
    assert!(second.body.get("next_cursor").is_none());
    let complete = app
        .get(
            &format!("/v1/sources/{}/snapshots?status=complete", source.id),
            &ada.access,
        )
        .await;
    assert_eq!(complete.ok(200)["items"].as_array().unwrap().len(), 1);

    let one = app.get(&format!("/v1/snapshots/{snap}"), &ada.access).await;
    assert_eq!(one.ok(200)["id"], snap.as_str());
    assert_eq!(one.body["source_id"], source.id.as_str());

    // The manifest, field for field as stored.
    let key = layout::manifest_key(&ada.account_id, &source.id, snap);
    let stored_manifest: Value =
        serde_json::from_slice(&app.store.get(&key).await.unwrap()).unwrap();
    let mut got = app
        .get(&format!("/v1/snapshots/{snap}/manifest"), &ada.access)
        .await
        .ok(200)
        .clone();
    for time in ["started_at", "finished_at"] {
        let parse = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
        assert_eq!(parse(&got[time]), parse(&stored_manifest[time]));
        got[time] = stored_manifest[time].clone();
    }
    // Absent optional fields are left out of answers, not written as null.
    let mut stored_manifest = stored_manifest;
    stored_manifest
        .as_object_mut()
        .unwrap()
        .retain(|_, v| !v.is_null());
    assert_eq!(got, stored_manifest);

    let streams = app
        .get(&format!("/v1/snapshots/{snap}/streams"), &ada.access)
        .await;
    assert_eq!(
        streams.ok(200)["items"],
        json!([
            {"name": "customers", "records": 22, "parts": 4, "raw_bytes": stored.jsonl[0].1.len(),
             "stored_bytes": stored_manifest["streams"][0]["stored_bytes"], "blobs": 1},
            {"name": "invoices", "records": 3, "parts": 1, "raw_bytes": stored.jsonl[1].1.len(),
             "stored_bytes": stored_manifest["streams"][1]["stored_bytes"], "blobs": 0},
            {"name": "refunds", "records": 0, "parts": 0, "raw_bytes": 0, "stored_bytes": 0, "blobs": 0},
        ])
    );
    let paged = app
        .get(
            &format!("/v1/snapshots/{snap}/streams?limit=2"),
            &ada.access,
        )
        .await;
    let cursor = paged.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!("/v1/snapshots/{snap}/streams?limit=2&cursor={cursor}"),
            &ada.access,
        )
        .await;
    assert_eq!(rest.ok(200)["items"][0]["name"], "refunds");

    // A viewer reads everything; an API key too.
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    let (_, key) = app
        .api_key(&ada.access, &ada.account_id, "reader", "viewer")
        .await;
    for token in [&vic.access, &key] {
        app.get(&format!("/v1/snapshots/{snap}/manifest"), token)
            .await
            .ok(200);
        let (got, _) = read_all(&app, token, snap, "invoices", 100).await;
        assert!(got == stored.jsonl[1].1);
    }
    app.shutdown().await;
}

async fn stored_job(app: &App, snapshot_id: &str) -> String {
    snapshot::Entity::find_by_id(snapshot_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .job_id
}

#[tokio::test]
async fn each_documented_error() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;
    let records = format!("/v1/snapshots/{snap}/streams/customers/records");

    // Cursors: garbage, another stream's, another snapshot's; limits out of range.
    let (_, headers, _) = app
        .get_raw(&format!("{records}?limit=3"), Some(&ada.access))
        .await;
    let cursor = header(&headers, "x-next-cursor").unwrap().to_owned();
    for bad in ["nonsense", "%2F%2F", cursor.as_str()] {
        let path = if bad == cursor {
            format!("/v1/snapshots/{snap}/streams/invoices/records?cursor={bad}")
        } else {
            format!("{records}?cursor={bad}")
        };
        let r = app.get(&path, &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), "cursor", "{path}");
    }
    for bad in ["0", "1001", "x"] {
        let r = app
            .get(&format!("{records}?limit={bad}"), &ada.access)
            .await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), "limit");
    }
    let r = app
        .get(
            &format!("/v1/snapshots/{snap}/streams/customers/download?format=csv"),
            &ada.access,
        )
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "format");
    let r = app
        .get(
            &format!("/v1/snapshots/{snap}/files/NOT-A-HASH"),
            &ada.access,
        )
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "sha256");
    let r = app
        .get(
            &format!("/v1/sources/{}/snapshots?limit=0", stored.source_id),
            &ada.access,
        )
        .await;
    assert_eq!(r.field(), "limit");
    let r = app
        .get(
            &format!("/v1/snapshots/{snap}/streams?cursor=%21"),
            &ada.access,
        )
        .await;
    r.error(400, "invalid_request");

    // Unknown things are 404s.
    let unknown_file = "0".repeat(64);
    for path in [
        "/v1/snapshots/snp_nope".to_owned(),
        "/v1/snapshots/snp_nope/manifest".to_owned(),
        "/v1/sources/src_nope/snapshots".to_owned(),
        format!("/v1/snapshots/{snap}/streams/charges/records"),
        format!("/v1/snapshots/{snap}/streams/charges/download"),
        format!("/v1/snapshots/{snap}/files/{unknown_file}"),
    ] {
        app.get(&path, &ada.access).await.error(404, "not_found");
    }

    // A snapshot being written has no contents yet: 409 with its status.
    let writing = &writing_snapshot(&app, &stored.source_id).await;
    assert_eq!(
        app.get(&format!("/v1/snapshots/{writing}"), &ada.access)
            .await
            .ok(200)["status"],
        "writing"
    );
    for path in [
        format!("/v1/snapshots/{writing}/manifest"),
        format!("/v1/snapshots/{writing}/streams"),
        format!("/v1/snapshots/{writing}/streams/customers/records"),
        format!("/v1/snapshots/{writing}/streams/customers/download"),
        format!("/v1/snapshots/{writing}/files/{}", stored.file.0),
    ] {
        let r = app.get(&path, &ada.access).await;
        r.error(409, "snapshot_not_complete");
        assert_eq!(r.body["error"]["details"]["status"], "writing", "{path}");
    }

    // Without credentials: 401.
    app.call("GET", &records, None, None)
        .await
        .error(401, "unauthorized");

    // A part damaged in the store is refused, never returned.
    let key = layout::part_key(&ada.account_id, &stored.source_id, snap, "customers", 2);
    let mut body = app.store.get(&key).await.unwrap().to_vec();
    let last = body.len() - 1;
    body[last] ^= 1;
    app.store.put(&key, body.into()).await.unwrap();
    let (status, _, _) = app
        .get_raw(&format!("{records}?limit=7"), Some(&ada.access))
        .await;
    assert_eq!(status, 200, "the first part is intact");
    app.get(&format!("{records}?limit=8"), &ada.access)
        .await
        .error(500, "internal");

    // An account that holds its own key: the server cannot decrypt.
    let mut acct = account::Entity::find_by_id(ada.account_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    acct.encryption_identity_sealed = Set(None);
    acct.update(&app.db).await.unwrap();
    for path in [
        records.clone(),
        format!("/v1/snapshots/{snap}/streams/invoices/download"),
    ] {
        app.get(&path, &ada.access).await.error(409, "key_not_held");
    }
    // The manifest holds no record data: still readable.
    app.get(&format!("/v1/snapshots/{snap}/manifest"), &ada.access)
        .await
        .ok(200);
    app.shutdown().await;
}

#[tokio::test]
async fn another_tenant_and_a_sub_account_get_404s() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;
    let sub = app.sub_account(&ada.access, &ada.account_id, "Sub").await;
    let sid = app.member(&ada, &sub, "sid@example.com", "owner").await;
    // A's owner reaches a sub-account's snapshots.
    let sub_stored = store_snapshot(&app, &sub, &specs()[1..2]).await;
    let (got, _) = read_all(&app, &ada.access, &sub_stored.snapshot_id, "invoices", 10).await;
    assert!(got == sub_stored.jsonl[0].1);

    for (who, token) in [
        ("another tenant", &bea.access),
        ("a sub-account's owner", &sid.access),
    ] {
        for path in snapshot_paths(snap, &stored.source_id, &stored.file.0) {
            let r = app.get(&path, token).await;
            assert_eq!(r.status, 404, "{who}: {path}: {}", r.body);
            r.error(404, "not_found");
        }
    }
    app.shutdown().await;
}

/// Every snapshot read, for the isolation checks.
pub fn snapshot_paths(snapshot: &str, source: &str, file: &str) -> Vec<String> {
    vec![
        format!("/v1/sources/{source}/snapshots"),
        format!("/v1/snapshots/{snapshot}"),
        format!("/v1/snapshots/{snapshot}/manifest"),
        format!("/v1/snapshots/{snapshot}/streams"),
        format!("/v1/snapshots/{snapshot}/streams/customers/records"),
        format!("/v1/snapshots/{snapshot}/streams/customers/download"),
        format!("/v1/snapshots/{snapshot}/streams/customers/download?format=jsonl.zst"),
        format!("/v1/snapshots/{snapshot}/files/{file}"),
        format!("/v1/snapshots/{snapshot}/streams/customers/records/customers_00001"),
        format!("/v1/snapshots/{snapshot}/streams/customers/state"),
        format!("/v1/snapshots/{snapshot}/diff?against={snapshot}"),
        format!("/v1/sources/{source}/streams/customers/records/customers_00001/versions"),
    ]
}

#[tokio::test]
async fn a_key_sealed_under_another_master_key_is_an_internal_error() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()[1..2]).await;
    let other = storage::keys::MasterKey::generate();
    let mut acct = account::Entity::find_by_id(ada.account_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    acct.encryption_identity_sealed = Set(Some(AccountKey::generate().seal_with(&other).unwrap()));
    acct.update(&app.db).await.unwrap();
    app.get(
        &format!(
            "/v1/snapshots/{}/streams/invoices/records",
            stored.snapshot_id
        ),
        &ada.access,
    )
    .await
    .error(500, "internal");
    app.shutdown().await;
}

#[tokio::test]
async fn verifications_need_an_operator_a_complete_snapshot_and_the_workflow_service() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let snap = &stored.snapshot_id;
    let path = format!("/v1/snapshots/{snap}/verifications");
    let account_path = format!("/v1/accounts/{}/verifications", ada.account_id);

    // This app's workflow service refuses every call: 503, and the verification is recorded
    // as not started rather than left running.
    app.post(&path, &ada.access, json!({}))
        .await
        .error(503, "unavailable");
    let list = app.get(&path, &vic.access).await;
    let items = list.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", list.body);
    assert_eq!(items[0]["status"], "error");
    assert_eq!(items[0]["snapshot_id"], snap.as_str());
    assert_eq!(items[0]["source_id"], stored.source_id.as_str());
    assert!(
        items[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("not started"),
        "{}",
        items[0]
    );
    assert!(
        items[0]["requested_by"]
            .as_str()
            .unwrap()
            .starts_with("user:")
    );
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let one = app
        .get(&format!("/v1/verifications/{id}"), &vic.access)
        .await;
    assert_eq!(one.ok(200)["workflow_id"], format!("verify/{snap}/{id}"));
    let errors = app
        .get(&format!("{account_path}?status=error"), &vic.access)
        .await;
    assert_eq!(errors.ok(200)["items"].as_array().unwrap().len(), 1);
    let passed = app
        .get(&format!("{account_path}?status=passed"), &vic.access)
        .await;
    assert!(passed.ok(200)["items"].as_array().unwrap().is_empty());
    let bad = app
        .get(&format!("{account_path}?status=fine"), &vic.access)
        .await;
    bad.error(400, "invalid_request");
    assert_eq!(bad.field(), "status");
    let bad = app.get(&format!("{path}?limit=0"), &vic.access).await;
    bad.error(400, "invalid_request");
    assert_eq!(bad.field(), "limit");

    // A viewer reads but may not start one.
    app.post(&path, &vic.access, json!({}))
        .await
        .error(403, "forbidden");

    // Another tenant sees none of it.
    app.post(&path, &bea.access, json!({}))
        .await
        .error(404, "not_found");
    for p in [
        path.clone(),
        format!("/v1/verifications/{id}"),
        account_path.clone(),
    ] {
        app.get(&p, &bea.access).await.error(404, "not_found");
    }

    // Only a complete snapshot can be verified; an unknown one is a 404.
    let writing = writing_snapshot(&app, &stored.source_id).await;
    let r = app
        .post(
            &format!("/v1/snapshots/{writing}/verifications"),
            &ada.access,
            json!({}),
        )
        .await;
    r.error(409, "snapshot_not_complete");
    assert_eq!(r.body["error"]["details"]["status"], "writing");
    app.post("/v1/snapshots/nope/verifications", &ada.access, json!({}))
        .await
        .error(404, "not_found");
    app.get("/v1/verifications/nope", &ada.access)
        .await
        .error(404, "not_found");

    // The refused calls changed nothing.
    let all = app.get(&account_path, &ada.access).await;
    assert_eq!(all.ok(200)["items"].as_array().unwrap().len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn verification_schedules_check_their_input_roles_and_the_workflow_service() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let oli = app
        .member(&ada, &ada.account_id, "oli@example.com", "operator")
        .await;
    let path = format!("/v1/accounts/{}/verification-schedule", ada.account_id);

    app.call("GET", &path, Some(&ada.access), None)
        .await
        .error(404, "not_found");
    for (body, field) in [
        (json!({"cron": "every day"}), "cron"),
        (
            json!({"cron": "0 4 * * *", "timezone": "Mars/Olympus"}),
            "timezone",
        ),
    ] {
        let r = app.call("PUT", &path, Some(&ada.access), Some(body)).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field);
    }
    let r = app
        .call(
            "PUT",
            &path,
            Some(&ada.access),
            Some(json!({"cron": "0 4 * * *", "when": 1})),
        )
        .await;
    r.error(400, "invalid_request");
    app.call(
        "PUT",
        &path,
        Some(&oli.access),
        Some(json!({"cron": "0 4 * * *"})),
    )
    .await
    .error(403, "forbidden");
    app.call("DELETE", &path, Some(&oli.access), None)
        .await
        .error(403, "forbidden");
    for method in ["GET", "DELETE"] {
        app.call(method, &path, Some(&bea.access), None)
            .await
            .error(404, "not_found");
    }
    app.call(
        "PUT",
        &path,
        Some(&bea.access),
        Some(json!({"cron": "0 4 * * *"})),
    )
    .await
    .error(404, "not_found");

    // This app's workflow service refuses every call: nothing is stored.
    app.call(
        "PUT",
        &path,
        Some(&ada.access),
        Some(json!({"cron": "0 4 * * *"})),
    )
    .await
    .error(503, "unavailable");
    app.call("GET", &path, Some(&ada.access), None)
        .await
        .error(404, "not_found");
    app.call("DELETE", &path, Some(&ada.access), None)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn an_account_that_holds_its_own_key_reads_with_the_identity_it_sends() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let adam = app
        .member(&ada, &ada.account_id, "adam@example.com", "admin")
        .await;
    let old = store_snapshot(&app, &ada.account_id, &specs()).await;
    let key_path = format!("/v1/accounts/{}/encryption-key", ada.account_id);
    let service_identity = app.get(&key_path, &ada.access).await.ok(200)["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let customer = AccountKey::generate();
    let hand_over = json!({"recipient": customer.recipient(), "discard_service_key": true});

    // Refused: not confirmed, not a recipient, not the owner, a job in progress.
    let r = app
        .call(
            "PUT",
            &key_path,
            Some(&ada.access),
            Some(json!({"recipient": customer.recipient(), "discard_service_key": false})),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "discard_service_key");
    let r = app
        .call(
            "PUT",
            &key_path,
            Some(&ada.access),
            Some(json!({"recipient": "age1nope", "discard_service_key": true})),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "recipient");
    app.call(
        "PUT",
        &key_path,
        Some(&adam.access),
        Some(hand_over.clone()),
    )
    .await
    .error(403, "forbidden");
    let source = entities::source::Entity::find_by_id(old.source_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let job = repo::create_job(&app.db, &source, JobKind::Sync)
        .await
        .unwrap();
    app.call("PUT", &key_path, Some(&ada.access), Some(hand_over.clone()))
        .await
        .error(409, "jobs_active");
    repo::finish_job(&app.db, &job.id, JobStatus::Cancelled, None)
        .await
        .unwrap();
    assert_eq!(
        app.get(&format!("/v1/accounts/{}", ada.account_id), &ada.access)
            .await
            .ok(200)["customer_held_key"],
        false,
        "refused calls changed nothing"
    );

    // Handed over: the service has no key left to give.
    let r = app
        .call("PUT", &key_path, Some(&ada.access), Some(hand_over))
        .await;
    assert_eq!(r.ok(200)["customer_held_key"], true);
    assert_eq!(r.body["encryption_recipient"], customer.recipient());
    app.get(&key_path, &ada.access)
        .await
        .error(409, "key_not_held");
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", ada.id),
            "account.key_handed_over",
            &ada.account_id
        )
        .await
    );

    // Older snapshots read with the identity they were written to, sent with the request.
    let records = format!(
        "/v1/snapshots/{}/streams/customers/records?limit=1000",
        old.snapshot_id
    );
    app.get(&records, &ada.access)
        .await
        .error(409, "key_not_held");
    let header = "X-Listbackup-Identity";
    let (status, _, body) = app
        .get_raw_with(&records, Some(&ada.access), &[(header, &service_identity)])
        .await;
    assert_eq!(status, 200);
    assert!(body == old.jsonl[0].1, "the old snapshot with its own key");
    let customer_identity = customer.to_secret_string();
    for wrong in [customer_identity.as_str(), "AGE-SECRET-KEY-1NOPE"] {
        let (status, _, body) = app
            .get_raw_with(&records, Some(&ada.access), &[(header, wrong)])
            .await;
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"]["details"]["field"], header);
        assert!(
            !String::from_utf8_lossy(&body).contains(wrong),
            "the key is never echoed"
        );
    }

    // A snapshot written since is encrypted to the customer's key.
    let new = store_snapshot(&app, &ada.account_id, &specs()).await;
    let download = format!(
        "/v1/snapshots/{}/streams/invoices/download",
        new.snapshot_id
    );
    let (status, _, body) = app
        .get_raw_with(
            &download,
            Some(&ada.access),
            &[(header, &customer_identity)],
        )
        .await;
    assert_eq!(status, 200);
    assert!(body == new.jsonl[1].1);
    let (status, _, _) = app
        .get_raw_with(&download, Some(&ada.access), &[(header, &service_identity)])
        .await;
    assert_eq!(status, 400, "the old key does not open the new snapshot");

    // Exports need the service's key.
    app.post(
        &format!("/v1/accounts/{}/exports", ada.account_id),
        &ada.access,
        json!({"snapshot_ids": [new.snapshot_id]}),
    )
    .await
    .error(409, "key_not_held");
    app.shutdown().await;
}
