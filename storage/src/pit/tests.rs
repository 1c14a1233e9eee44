//! Point-in-time views over real stored chains: parts and indexes written with the writers the
//! worker uses into the embedded S3 endpoint, read back through `find`, `Merge` and `Diff`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};

use super::*;
use crate::embedded::EmbeddedS3;
use crate::index::IndexBuilder;
use crate::keys::AccountKey;
use crate::manifest::{KIND_FULL, KIND_INCREMENTAL, ManifestEncryption};
use crate::object_store::S3Config;
use crate::part::PartWriter;

const AK: &str = "AKIDPITTEST";
const SK: &str = "pit-test-secret";

struct Env {
    _dir: tempfile::TempDir,
    server: EmbeddedS3,
    store: ObjectStore,
    key: AccountKey,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = EmbeddedS3::start(&dir.path().join("s3"), addr, AK, SK)
        .await
        .unwrap();
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "backups", AK, SK));
    store.ensure_bucket().await.unwrap();
    Env {
        _dir: dir,
        server,
        store,
        key: AccountKey::generate(),
    }
}

/// A record line: `(id, version)`, or a tombstone `(id, None)`.
type Line = (&'static str, Option<u32>);

fn line(id: &str, version: Option<u32>) -> Vec<u8> {
    match version {
        Some(v) => serde_json::to_vec(&json!({"id": id, "v": v})).unwrap(),
        None => serde_json::to_vec(&json!({"id": id, ".tag": "deleted"})).unwrap(),
    }
}

/// Finishes `writer` and stores the part under `key`, with its index when there is one (parts
/// written before indexes have none), and gives its manifest entry.
async fn store_part(
    env: &Env,
    key: String,
    part_no: u32,
    writer: PartWriter,
    index: Option<IndexBuilder>,
) -> ManifestPart {
    let part = writer.finish().unwrap();
    env.store.put(&key, part.body.clone()).await.unwrap();
    let index = match index {
        Some(index) => {
            let sealed = index
                .seal(&env.key.recipient(), &layout::index_key(&key), &part.frames)
                .unwrap();
            env.store
                .put(&sealed.meta.key, sealed.body.clone())
                .await
                .unwrap();
            Some(sealed.meta)
        }
        None => None,
    };
    ManifestPart {
        key,
        part_no,
        records: part.records,
        raw_bytes: part.raw_bytes,
        stored_bytes: part.stored_bytes(),
        sha256: part.sha256,
        blobs: Vec::new(),
        index,
    }
}

/// Stores a snapshot of one stream `customers`, its parts as given; `indexed` false writes
/// parts as older versions did, without indexes.
async fn snapshot(
    env: &Env,
    id: &str,
    parent: Option<&str>,
    full: Option<bool>,
    parts: &[&[Line]],
    indexed: bool,
) -> Manifest {
    let mut entries = Vec::new();
    for (i, lines) in parts.iter().enumerate() {
        let part_no = i as u32 + 1;
        let key = layout::part_key("acc", "src", id, "customers", part_no);
        let mut writer = PartWriter::new(&env.key.recipient(), 3).unwrap();
        let mut index = IndexBuilder::new();
        for (n, (rid, version)) in lines.iter().enumerate() {
            let bytes = line(rid, *version);
            index.add(rid, n as u64, &bytes, version.is_none());
            writer.write_record(&bytes).unwrap();
        }
        entries.push(store_part(env, key, part_no, writer, indexed.then_some(index)).await);
    }
    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: crate::manifest::MANIFEST_FORMAT,
        snapshot_id: id.into(),
        account_id: "acc".into(),
        source_id: "src".into(),
        platform: "dropbox".into(),
        kind: if parent.is_some() {
            KIND_INCREMENTAL
        } else {
            KIND_FULL
        }
        .into(),
        parent_snapshot_id: parent.map(str::to_owned),
        job_id: "job".into(),
        started_at: now,
        finished_at: now,
        encryption: ManifestEncryption::age_x25519(env.key.recipient()),
        compression: "zstd".into(),
        streams: if parts.is_empty() {
            Vec::new()
        } else {
            vec![ManifestStream {
                name: "customers".into(),
                records: entries.iter().map(|p| p.records).sum(),
                raw_bytes: 0,
                stored_bytes: 0,
                cursor: None,
                parts: entries,
                full,
            }]
        },
        records: 0,
        raw_bytes: 0,
        stored_bytes: 0,
    };
    let key = layout::manifest_key("acc", "src", id);
    env.store
        .put(&key, manifest.to_json().into())
        .await
        .unwrap();
    manifest
}

/// The chain (incremental streams unless the manifest says otherwise).
async fn levels(env: &Env, manifest: &Manifest) -> Vec<Level> {
    chain(&env.store, manifest, "customers", |m, s| {
        read_in_full(m, s, true)
    })
    .await
    .unwrap()
}

/// The view through `LiveLines`, read part by part as the API does: id -> record.
async fn view(env: &Env, levels: &[Level]) -> BTreeMap<String, Value> {
    let loaded = load_indexes(&env.store, env.key.identity(), levels)
        .await
        .unwrap();
    let live = LiveLines::mark(levels, Merge::new(env.key.identity(), loaded).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (level, l) in levels.iter().enumerate().rev() {
        for (part, p) in l.stream.parts.iter().enumerate() {
            let body = reader::fetch_part(&env.store, p).await.unwrap();
            read_lines(
                env.key.identity(),
                p,
                body,
                |n| live.is_live(level, part, n),
                |bytes| {
                    let record: Value = serde_json::from_slice(bytes).unwrap();
                    let id = record["id"].as_str().unwrap().to_owned();
                    assert!(out.insert(id, record).is_none(), "one version per id");
                    true
                },
            )
            .unwrap();
        }
    }
    assert_eq!(live.records(), out.len() as u64);
    out
}

fn state(pairs: &[(&str, u32)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(id, v)| ((*id).to_owned(), json!({"id": id, "v": v})))
        .collect()
}

async fn live(env: &Env, levels: &[Level]) -> impl Iterator<Item = Result<Version, StorageError>> {
    let loaded = load_indexes(&env.store, env.key.identity(), levels)
        .await
        .unwrap();
    Merge::new(env.key.identity(), loaded).unwrap().live()
}

async fn lookup(env: &Env, levels: &[Level], id: &str) -> Option<Value> {
    let version = find(&env.store, env.key.identity(), levels, id)
        .await
        .unwrap()?;
    if version.entry.deleted {
        return None;
    }
    let part = &levels[version.level].stream.parts[version.part];
    let bytes = read_record(&env.store, env.key.identity(), part, &version.entry)
        .await
        .unwrap();
    Some(serde_json::from_slice(&bytes).unwrap())
}

/// A full snapshot without indexes (as written before them), then syncs that change, add,
/// delete and re-add records, one of them without the stream and one listing an id twice: each
/// snapshot's view, every lookup and the diffs agree with the platform's state at that time.
#[tokio::test]
async fn views_lookups_and_diffs_follow_the_chain() {
    let env = env().await;
    let s1 = snapshot(
        &env,
        "s1",
        None,
        None,
        &[
            &[("a", Some(1)), ("c", Some(1))],
            &[("b", Some(1)), ("d", Some(1))],
        ],
        false,
    )
    .await;
    let s2 = snapshot(
        &env,
        "s2",
        Some("s1"),
        Some(false),
        &[
            &[("b", Some(2)), ("e", Some(1))],
            &[("c", None), ("b", Some(3))],
        ],
        true,
    )
    .await;
    snapshot(&env, "s3", Some("s2"), None, &[], true).await;
    let s4 = snapshot(
        &env,
        "s4",
        Some("s3"),
        Some(false),
        &[&[("c", Some(2)), ("a", None), ("d", Some(1))]],
        true,
    )
    .await;

    let at = [
        (&s1, state(&[("a", 1), ("b", 1), ("c", 1), ("d", 1)])),
        (&s2, state(&[("a", 1), ("b", 3), ("d", 1), ("e", 1)])),
        (&s4, state(&[("b", 3), ("c", 2), ("d", 1), ("e", 1)])),
    ];
    for (manifest, expected) in &at {
        let levels = levels(&env, manifest).await;
        assert_eq!(
            view(&env, &levels).await,
            *expected,
            "{}",
            manifest.snapshot_id
        );
        for id in ["a", "b", "c", "d", "e", "zz"] {
            assert_eq!(
                lookup(&env, &levels, id).await.as_ref(),
                expected.get(id),
                "{} at {}",
                id,
                manifest.snapshot_id
            );
        }
    }
    // The chain of s4 passes over s3 (no such stream) back to the full s1.
    let ids: Vec<String> = levels(&env, &s4)
        .await
        .into_iter()
        .map(|l| l.snapshot_id)
        .collect();
    assert_eq!(ids, ["s4", "s2", "s1"]);

    // s1 -> s4: a removed, b changed, c changed (deleted then back), d unchanged although
    // listed again, e added.
    let (chain4, chain1) = (levels(&env, &s4).await, levels(&env, &s1).await);
    let newer = live(&env, &chain4).await;
    let older = live(&env, &chain1).await;
    let changes: Vec<(String, &str)> = diff(newer, older)
        .map(|d| {
            let d = d.unwrap();
            (d.id, d.change.as_str())
        })
        .collect();
    let expected: Vec<(String, &str)> = [
        ("a", "removed"),
        ("b", "changed"),
        ("c", "changed"),
        ("e", "added"),
    ]
    .iter()
    .map(|(id, c)| ((*id).to_owned(), *c))
    .collect();
    assert_eq!(changes, expected);
    env.server.shutdown().await;
}

/// A sync that read the stream in full is the chain's base: what it lacks is gone, whatever
/// older snapshots held.
#[tokio::test]
async fn a_stream_read_in_full_ends_the_chain() {
    let env = env().await;
    snapshot(&env, "s1", None, Some(true), &[&[("a", Some(1))]], true).await;
    let s2 = snapshot(
        &env,
        "s2",
        Some("s1"),
        Some(true),
        &[&[("b", Some(1))]],
        true,
    )
    .await;
    let levels = levels(&env, &s2).await;
    assert_eq!(levels.len(), 1);
    assert_eq!(view(&env, &levels).await, state(&[("b", 1)]));
    assert_eq!(lookup(&env, &levels, "a").await, None);
    env.server.shutdown().await;
}

/// A damaged index is refused: the frame a lookup reads fails to decrypt, and an index read
/// whole (one written before its frames were recorded) fails its sha256 before it is
/// decrypted. A parent manifest that is missing fails the view rather than shortening it.
#[tokio::test]
async fn damaged_indexes_and_missing_parents_are_errors() {
    let env = env().await;
    let s1 = snapshot(&env, "s1", None, None, &[&[("a", Some(1))]], true).await;
    let index = s1.streams[0].parts[0].index.clone().unwrap();
    let mut body = env.store.get(&index.key).await.unwrap().to_vec();
    body[60] ^= 1;
    env.store.put(&index.key, body.into()).await.unwrap();
    let mut levels = levels(&env, &s1).await;
    let err = find(&env.store, env.key.identity(), &levels, "a")
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Crypto(_)), "{err}");
    levels[0].stream.parts[0].index.as_mut().unwrap().id_frames = None;
    let err = find(&env.store, env.key.identity(), &levels, "a")
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Checksum { .. }), "{err}");

    let orphan = snapshot(
        &env,
        "s9",
        Some("gone"),
        Some(false),
        &[&[("a", None)]],
        true,
    )
    .await;
    let err = chain(&env.store, &orphan, "customers", |m, s| {
        read_in_full(m, s, true)
    })
    .await
    .unwrap_err();
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    env.server.shutdown().await;
}

/// A part of several frames, as `PartWriter` closes them, and its index (of several frames
/// too), stored in the endpoint: `(level, ids in line order)`.
async fn large_part(env: &Env, records: u32, salt: &str) -> (Level, Vec<String>) {
    let key = layout::part_key("acc", "src", "big", "customers", 1);
    let mut writer = PartWriter::new(&env.key.recipient(), 3).unwrap();
    let mut index = IndexBuilder::new();
    let mut ids = Vec::new();
    for n in 0..records {
        let id = format!("cus_{:08x}", n.wrapping_mul(2_654_435_761));
        // A digest per record keeps the part from compressing to a handful of age chunks.
        let noise = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(format!("{salt}{n}")));
        let bytes = serde_json::to_vec(&json!({"id": id, "n": n, "noise": noise})).unwrap();
        index.add(&id, u64::from(n), &bytes, false);
        writer.write_record(&bytes).unwrap();
        ids.push(id);
    }
    let entry = store_part(env, key, 1, writer, Some(index)).await;
    let level = Level {
        snapshot_id: "big".into(),
        stream: ManifestStream {
            name: "customers".into(),
            records: entry.records,
            raw_bytes: entry.raw_bytes,
            stored_bytes: entry.stored_bytes,
            cursor: None,
            parts: vec![entry],
            full: Some(true),
        },
        recipient: env.key.recipient(),
    };
    (level, ids)
}

/// A lookup reads one frame of the index and one of the part, by ranged GETs: every id comes
/// back as written, a damaged age chunk elsewhere in the part does not stop it, a damaged
/// chunk in its frame or another part in its place is refused, never returned.
#[tokio::test]
async fn a_lookup_reads_one_frame_of_the_index_and_of_the_part() {
    let env = env().await;
    let (level, ids) = large_part(&env, 40_000, "").await;
    let part = level.stream.parts[0].clone();
    let meta = part.index.clone().unwrap();
    let part_frames = meta.frames.clone().unwrap();
    let index_frames = meta.id_frames.clone().unwrap();
    assert!(part_frames.len() >= 4, "{} part frames", part_frames.len());
    assert!(
        index_frames.len() >= 2,
        "{} index frames",
        index_frames.len()
    );
    assert!(
        index_frames
            .windows(2)
            .all(|w| w[0].first_id < w[1].first_id && w[0].offset < w[1].offset)
    );
    let levels = [level];
    let read = |id: String| {
        let (env, levels) = (&env, &levels);
        async move {
            let version = find(&env.store, env.key.identity(), levels, &id)
                .await?
                .ok_or_else(|| StorageError::Decode(format!("{id} not found")))?;
            read_record(
                &env.store,
                env.key.identity(),
                &levels[0].stream.parts[version.part],
                &version.entry,
            )
            .await
        }
    };
    // Every 997th record, the first and last line, and the first id of each index frame.
    let mut sample: Vec<usize> = (0..ids.len()).step_by(997).collect();
    sample.push(ids.len() - 1);
    for frame in &index_frames {
        sample.push(ids.iter().position(|id| *id == frame.first_id).unwrap());
    }
    for n in sample {
        let bytes = read(ids[n].clone()).await.unwrap();
        let record: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (record["id"].as_str(), record["n"].as_u64()),
            (Some(ids[n].as_str()), Some(n as u64))
        );
    }
    for missing in ["cus_", "cus_0000000g", "zzz"] {
        let found = find(&env.store, env.key.identity(), &levels, missing).await;
        assert!(found.unwrap().is_none(), "{missing}");
    }

    // The part's last age chunk damaged: the first frame still reads, the last does not.
    let intact = env.store.get(&part.key).await.unwrap();
    let mut damaged = intact.to_vec();
    *damaged.last_mut().unwrap() ^= 1;
    env.store.put(&part.key, damaged.into()).await.unwrap();
    read(ids[0].clone())
        .await
        .expect("the first frame is intact");
    let err = read(ids[ids.len() - 1].clone()).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Decode(_) | StorageError::Crypto(_)),
        "{err}"
    );

    // Another part sealed to the same key in its place, its index left as it was: the record
    // read does not match the index's hash and is refused.
    let index_body = env.store.get(&meta.key).await.unwrap();
    let (other, _) = large_part(&env, 40_000, "other").await;
    assert_eq!(other.stream.parts[0].key, part.key);
    env.store.put(&meta.key, index_body).await.unwrap();
    let err = read(ids[0].clone()).await.unwrap_err();
    assert!(
        matches!(err, StorageError::Checksum { .. } | StorageError::Decode(_)),
        "{err}"
    );
    env.server.shutdown().await;
}
