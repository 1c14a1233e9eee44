//! Point-in-time reads over HTTP on a real stored chain: a full snapshot and two syncs written
//! with the storage crate's part and index writers (as the worker writes them) into the
//! embedded S3 endpoint, then read back as single records, versions, states and diffs.

use crate::harness::*;
use entities::{
    JobKind, SnapshotStatus, account, repo,
    sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set},
    snapshot,
};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use storage::{
    index::IndexBuilder,
    layout,
    manifest::{MANIFEST_FORMAT, Manifest, ManifestEncryption, ManifestPart, ManifestStream},
    part::PartWriter,
};

/// A record version: `(id, Some(v))`, or a tombstone `(id, None)`.
pub(crate) type Line = (&'static str, Option<u32>);

fn record(id: &str, v: u32) -> Value {
    json!({"id": id, "name": format!("{id} v{v}"), "note": "line\nbreak"})
}

fn line(id: &str, v: Option<u32>) -> Vec<u8> {
    serde_json::to_vec(&match v {
        Some(v) => record(id, v),
        None => json!({"id": id, "deleted": true}),
    })
    .unwrap()
}

/// The source's chain: `ids[i]` is the snapshot written from `chain[i]`.
pub(crate) struct Chain {
    pub source_id: String,
    pub ids: Vec<String>,
}

/// Writes a chain of snapshots of one `customers` stream for a new Stripe source: the first a
/// full backup, each later one a sync of the changes (`parts` per snapshot).
pub(crate) async fn store_chain(app: &App, account_id: &str, chain: &[&[&[Line]]]) -> Chain {
    let acct = account::Entity::find_by_id(account_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let recipient = acct.encryption_recipient.clone();
    let name = format!("Stripe {}", entities::new_id());
    let conn = repo::create_connection(
        &app.db,
        account_id,
        "stripe",
        &name,
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    let source = repo::create_source(&app.db, &conn, &name, &[])
        .await
        .unwrap();
    let mut ids: Vec<String> = Vec::new();
    for (n, parts) in chain.iter().enumerate() {
        let kind = if n == 0 {
            JobKind::Backup
        } else {
            JobKind::Sync
        };
        let job = repo::create_job(&app.db, &source, kind).await.unwrap();
        let snap = job.snapshot_id.clone();
        let mut entries = Vec::new();
        for (i, lines) in parts.iter().enumerate() {
            let part_no = i as u32 + 1;
            let key = layout::part_key(account_id, &source.id, &snap, "customers", part_no);
            let mut writer = PartWriter::new(&recipient, 3).unwrap();
            let mut index = IndexBuilder::new();
            for (at, (id, v)) in lines.iter().enumerate() {
                let bytes = line(id, *v);
                index.add(id, at as u64, &bytes, v.is_none());
                writer.write_record(&bytes).unwrap();
            }
            let part = writer.finish().unwrap();
            app.store.put(&key, part.body.clone()).await.unwrap();
            let index = index
                .seal(&recipient, &layout::index_key(&key), &part.frames)
                .unwrap();
            app.store.put(&index.meta.key, index.body).await.unwrap();
            entries.push(ManifestPart {
                key,
                part_no,
                records: part.records,
                raw_bytes: part.raw_bytes,
                stored_bytes: part.stored_bytes(),
                sha256: part.sha256,
                blobs: Vec::new(),
                index: Some(index.meta),
            });
        }
        let now = chrono::Utc::now();
        let parent = ids.last().cloned();
        let manifest = Manifest {
            format: MANIFEST_FORMAT,
            snapshot_id: snap.clone(),
            account_id: account_id.to_owned(),
            source_id: source.id.clone(),
            platform: "stripe".into(),
            kind: if n == 0 { "full" } else { "incremental" }.into(),
            parent_snapshot_id: parent.clone(),
            job_id: job.id.clone(),
            started_at: now,
            finished_at: now,
            encryption: ManifestEncryption::age_x25519(&recipient),
            compression: "zstd".into(),
            records: entries.iter().map(|p| p.records).sum(),
            raw_bytes: 0,
            stored_bytes: 0,
            streams: vec![ManifestStream {
                name: "customers".into(),
                records: entries.iter().map(|p| p.records).sum(),
                raw_bytes: 0,
                stored_bytes: 0,
                cursor: None,
                parts: entries,
                full: Some(n == 0),
            }],
        };
        let manifest_key = layout::manifest_key(account_id, &source.id, &snap);
        app.store
            .put(&manifest_key, manifest.to_json().into())
            .await
            .unwrap();
        snapshot::ActiveModel {
            id: Set(snap.clone()),
            account_id: Set(account_id.to_owned()),
            source_id: Set(source.id.clone()),
            job_id: Set(job.id.clone()),
            kind: Set(kind),
            status: Set(SnapshotStatus::Complete),
            parent_snapshot_id: Set(parent),
            manifest_key: Set(Some(manifest_key)),
            records: Set(manifest.records as i64),
            raw_bytes: Set(0),
            stored_bytes: Set(0),
            created_at: Set(now),
            completed_at: Set(Some(now)),
        }
        .insert(&app.db)
        .await
        .unwrap();
        repo::finish_job(&app.db, &job.id, entities::JobStatus::Succeeded, None)
            .await
            .unwrap();
        ids.push(snap);
    }
    Chain {
        source_id: source.id,
        ids,
    }
}

const SLASHED: &str = "/docs/a b.txt";

/// s1 (full): c1, c2, c3. s2: c2 changed, c4 added, c3 deleted. s3: c1 changed, c3 back,
/// c2 deleted, a path-like id added, c4 listed again unchanged.
fn chain_spec() -> Vec<&'static [&'static [Line]]> {
    vec![
        &[&[("c1", Some(1)), ("c2", Some(1))], &[("c3", Some(1))]],
        &[&[("c2", Some(2)), ("c4", Some(1)), ("c3", None)]],
        &[
            &[("c1", Some(2)), ("c3", Some(2)), ("c4", Some(1))],
            &[("c2", None), (SLASHED, Some(1))],
        ],
    ]
}

/// The state at each snapshot of [`chain_spec`].
fn expected_states() -> Vec<Vec<(&'static str, u32)>> {
    vec![
        vec![("c1", 1), ("c2", 1), ("c3", 1)],
        vec![("c1", 1), ("c2", 2), ("c4", 1)],
        vec![("c1", 2), ("c3", 2), ("c4", 1), (SLASHED, 1)],
    ]
}

fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn lines(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn as_set(records: Vec<Value>) -> BTreeSet<String> {
    records.iter().map(|r| r.to_string()).collect()
}

#[tokio::test]
async fn records_states_versions_and_diffs_follow_the_chain() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let chain = store_chain(&app, &ada.account_id, &chain_spec()).await;

    for (snap, expected) in chain.ids.iter().zip(expected_states()) {
        let want: Vec<Value> = expected.iter().map(|(id, v)| record(id, *v)).collect();
        // The whole state, plain and zstd.
        let base = format!("/v1/snapshots/{snap}/streams/customers/state");
        let (status, headers, body) = app.get_raw(&base, Some(&ada.access)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        assert_eq!(headers["content-type"], "application/x-ndjson");
        assert_eq!(headers["x-record-count"], want.len().to_string().as_str());
        assert_eq!(
            headers["content-disposition"],
            format!("attachment; filename=\"{snap}-customers-state.jsonl\"").as_str()
        );
        assert_eq!(
            as_set(lines(&body)),
            as_set(want.clone()),
            "state at {snap}"
        );
        assert_eq!(lines(&body).len(), want.len(), "one line per record");
        let (status, headers, zst) = app
            .get_raw(&format!("{base}?format=jsonl.zst"), Some(&ada.access))
            .await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "application/zstd");
        assert!(zstd::decode_all(zst.as_slice()).unwrap() == body);

        // Every id, one at a time.
        for id in ["c1", "c2", "c3", "c4", SLASHED, "nope"] {
            let path = format!("/v1/snapshots/{snap}/streams/customers/records/{}", enc(id));
            match expected.iter().find(|(e, _)| *e == id) {
                Some((_, v)) => {
                    let r = app.get(&path, &ada.access).await;
                    assert_eq!(r.ok(200), &record(id, *v), "{id} at {snap}");
                    assert_eq!(r.headers["content-type"], "application/json");
                }
                None => {
                    app.get(&path, &ada.access)
                        .await
                        .error(404, "record_not_found");
                }
            }
        }
    }
    // The version comes from the snapshot that stored it.
    let r = app
        .get(
            &format!(
                "/v1/snapshots/{}/streams/customers/records/c4",
                chain.ids[2]
            ),
            &ada.access,
        )
        .await;
    assert_eq!(r.headers["x-version-snapshot-id"], chain.ids[2].as_str());
    let r = app
        .get(
            &format!(
                "/v1/snapshots/{}/streams/customers/records/c3",
                chain.ids[1]
            ),
            &ada.access,
        )
        .await;
    r.error(404, "record_not_found");

    // Versions, oldest first, and one a page.
    let versions = |id: &str| {
        format!(
            "/v1/sources/{}/streams/customers/records/{}/versions",
            chain.source_id,
            enc(id)
        )
    };
    let r = app.get(&versions("c2"), &ada.access).await;
    let items = r.ok(200)["items"].as_array().unwrap().clone();
    let got: Vec<(&str, &str)> = items
        .iter()
        .map(|v| {
            (
                v["snapshot_id"].as_str().unwrap(),
                v["change"].as_str().unwrap(),
            )
        })
        .collect();
    let ids = &chain.ids;
    assert_eq!(
        got,
        [
            (ids[0].as_str(), "added"),
            (ids[1].as_str(), "changed"),
            (ids[2].as_str(), "deleted")
        ]
    );
    assert_eq!(items[1]["record"], record("c2", 2));
    assert!(items[2].get("record").is_none());
    assert!(r.body.get("next_cursor").is_none());
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .get(
                &format!("{}?limit=1&cursor={cursor}", versions("c3")),
                &ada.access,
            )
            .await;
        let body = r.ok(200);
        for v in body["items"].as_array().unwrap() {
            paged.push((
                v["snapshot_id"].as_str().unwrap().to_owned(),
                v["change"].as_str().unwrap().to_owned(),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
        assert!(paged.len() < 10);
    }
    let want: Vec<(String, String)> = [(0, "added"), (1, "deleted"), (2, "added")]
        .iter()
        .map(|(i, c)| (ids[*i].clone(), (*c).to_owned()))
        .collect();
    assert_eq!(paged, want);
    let r = app.get(&versions("c4"), &ada.access).await;
    assert_eq!(
        r.ok(200)["items"].as_array().unwrap().len(),
        1,
        "listed again unchanged"
    );
    let r = app.get(&versions("never"), &ada.access).await;
    assert_eq!(r.ok(200)["items"], json!([]));

    // Diffs.
    let diff = |newer: &str, older: &str, extra: &str| {
        format!("/v1/snapshots/{newer}/diff?against={older}{extra}")
    };
    let (status, headers, body) = app
        .get_raw(&diff(&ids[2], &ids[0], ""), Some(&ada.access))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "application/x-ndjson");
    let change = |id: &str, c: &str| json!({"stream": "customers", "id": id, "change": c});
    assert_eq!(
        lines(&body),
        [
            change(SLASHED, "added"),
            change("c1", "changed"),
            change("c2", "removed"),
            change("c3", "changed"),
            change("c4", "added"),
        ]
    );
    let (_, _, body) = app
        .get_raw(
            &diff(&ids[1], &ids[2], "&stream=customers"),
            Some(&ada.access),
        )
        .await;
    assert_eq!(
        lines(&body),
        [
            change(SLASHED, "removed"),
            change("c1", "changed"),
            change("c2", "added"),
            change("c3", "removed"),
        ],
        "against a newer snapshot: the way back"
    );
    let (status, _, body) = app
        .get_raw(&diff(&ids[1], &ids[1], ""), Some(&ada.access))
        .await;
    assert_eq!((status, body.len()), (200, 0), "a snapshot equals itself");
    app.shutdown().await;
}

/// Snapshots written before indexes existed are read by scanning their parts.
#[tokio::test]
async fn snapshots_without_indexes_are_scanned() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let stored =
        crate::snapshots::store_snapshot(&app, &ada.account_id, &crate::snapshots::specs()).await;
    let snap = &stored.snapshot_id;
    let r = app
        .get(
            &format!("/v1/snapshots/{snap}/streams/customers/records/customers_00009"),
            &ada.access,
        )
        .await;
    assert_eq!(r.ok(200), &crate::snapshots::record("customers", 9));
    let (status, _, body) = app
        .get_raw(
            &format!("/v1/snapshots/{snap}/streams/customers/state"),
            Some(&ada.access),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(as_set(lines(&body)), as_set(lines(&stored.jsonl[0].1)));
    let r = app
        .get(
            &format!(
                "/v1/sources/{}/streams/customers/records/customers_00009/versions",
                stored.source_id
            ),
            &ada.access,
        )
        .await;
    assert_eq!(r.ok(200)["items"][0]["change"], "added");
    app.shutdown().await;
}

#[tokio::test]
async fn each_documented_error() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let chain = store_chain(&app, &ada.account_id, &chain_spec()).await;
    let other = store_chain(&app, &ada.account_id, &chain_spec()[..1]).await;
    let (s1, s3) = (&chain.ids[0], &chain.ids[2]);
    let versions = format!(
        "/v1/sources/{}/streams/customers/records/c1/versions",
        chain.source_id
    );

    // 400s naming the parameter.
    for (path, field) in [
        (format!("/v1/snapshots/{s3}/diff"), "against"),
        (
            format!("/v1/snapshots/{s3}/diff?against={}", other.ids[0]),
            "against",
        ),
        (
            format!("/v1/snapshots/{s3}/streams/customers/state?format=csv"),
            "format",
        ),
        (format!("{versions}?limit=0"), "limit"),
        (format!("{versions}?limit=101"), "limit"),
        (format!("{versions}?cursor=nonsense"), "cursor"),
    ] {
        let r = app.get(&path, &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), field, "{path}");
    }
    // 404s: unknown snapshot, stream, source, platform stream.
    for path in [
        "/v1/snapshots/snp_nope/streams/customers/records/c1".to_owned(),
        format!("/v1/snapshots/{s3}/streams/charges/records/c1"),
        format!("/v1/snapshots/{s3}/streams/charges/state"),
        format!("/v1/snapshots/{s3}/diff?against=snp_nope"),
        format!("/v1/snapshots/{s3}/diff?against={s1}&stream=charges"),
        "/v1/sources/src_nope/streams/customers/records/c1/versions".to_owned(),
        format!(
            "/v1/sources/{}/streams/nope/records/c1/versions",
            chain.source_id
        ),
    ] {
        app.get(&path, &ada.access).await.error(404, "not_found");
    }

    // A snapshot being written has no point in time yet.
    let writing = &crate::snapshots::writing_snapshot(&app, &chain.source_id).await;
    for path in [
        format!("/v1/snapshots/{writing}/streams/customers/records/c1"),
        format!("/v1/snapshots/{writing}/streams/customers/state"),
        format!("/v1/snapshots/{writing}/diff?against={s1}"),
        format!("/v1/snapshots/{s3}/diff?against={writing}"),
    ] {
        let r = app.get(&path, &ada.access).await;
        r.error(409, "snapshot_not_complete");
    }
    // Versions pass over snapshots still being written.
    let r = app.get(&versions, &ada.access).await;
    assert_eq!(r.ok(200)["items"].as_array().unwrap().len(), 2);

    // A damaged index is refused, never read.
    let manifest: Manifest = serde_json::from_value(
        app.get(&format!("/v1/snapshots/{s3}/manifest"), &ada.access)
            .await
            .ok(200)
            .clone(),
    )
    .unwrap();
    let index = manifest.streams[0].parts[0].index.clone().unwrap();
    let intact = app.store.get(&index.key).await.unwrap();
    let mut body = intact.to_vec();
    body[70] ^= 1;
    app.store.put(&index.key, body.into()).await.unwrap();
    for path in [
        format!("/v1/snapshots/{s3}/streams/customers/records/c1"),
        format!("/v1/snapshots/{s3}/streams/customers/state"),
    ] {
        app.get(&path, &ada.access).await.error(500, "internal");
    }
    app.store.put(&index.key, intact).await.unwrap();

    // Without credentials: 401. An account that holds its own key: 409 without it, the same
    // answers with it, 400 with another key or none.
    app.call("GET", &versions, None, None)
        .await
        .error(401, "unauthorized");
    let key_path = format!("/v1/accounts/{}/encryption-key", ada.account_id);
    let own_key = app.get(&key_path, &ada.access).await.ok(200)["identity"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut acct = account::Entity::find_by_id(ada.account_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    acct.encryption_identity_sealed = Set(None);
    acct.update(&app.db).await.unwrap();
    for path in [
        format!("/v1/snapshots/{s1}/streams/customers/records/c1"),
        format!("/v1/snapshots/{s1}/streams/customers/state"),
        format!("/v1/snapshots/{s3}/diff?against={s1}"),
        versions.clone(),
    ] {
        app.get(&path, &ada.access).await.error(409, "key_not_held");
        let header = "X-Listbackup-Identity";
        let (status, _, body) = app
            .get_raw_with(&path, Some(&ada.access), &[(header, &own_key)])
            .await;
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
        let other = storage::keys::AccountKey::generate().to_secret_string();
        for wrong in [other.as_str(), "AGE-SECRET-KEY-1NOPE"] {
            let (status, _, body) = app
                .get_raw_with(&path, Some(&ada.access), &[(header, wrong)])
                .await;
            assert_eq!(status, 400, "{path}");
            let error: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(error["error"]["details"]["field"], header, "{path}");
        }
    }
    app.shutdown().await;
}

/// A viewer reads; another tenant and a sub-account's member get 404s for everything.
#[tokio::test]
async fn viewers_read_and_other_tenants_get_404s() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    let sub = app.sub_account(&ada.access, &ada.account_id, "Sub").await;
    let sid = app.member(&ada, &sub, "sid@example.com", "owner").await;
    let chain = store_chain(&app, &ada.account_id, &chain_spec()).await;
    let bea_chain = store_chain(&app, &bea.account_id, &chain_spec()[..1]).await;
    let (s1, s3) = (&chain.ids[0], &chain.ids[2]);
    let paths = [
        format!("/v1/snapshots/{s3}/streams/customers/records/c1"),
        format!("/v1/snapshots/{s3}/streams/customers/state"),
        format!("/v1/snapshots/{s3}/diff?against={s1}"),
        format!(
            "/v1/sources/{}/streams/customers/records/c1/versions",
            chain.source_id
        ),
    ];
    for path in &paths {
        let (status, _, _) = app.get_raw(path, Some(&vic.access)).await;
        assert_eq!(status, 200, "a viewer reads {path}");
        for token in [&bea.access, &sid.access] {
            app.get(path, token).await.error(404, "not_found");
        }
    }
    // Another tenant's snapshot as `against` is unknown, not a different source.
    app.get(
        &format!("/v1/snapshots/{s3}/diff?against={}", bea_chain.ids[0]),
        &ada.access,
    )
    .await
    .error(404, "not_found");
    app.shutdown().await;
}
