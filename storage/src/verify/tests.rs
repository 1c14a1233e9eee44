//! The verifier against the embedded endpoint: real objects, really damaged.

use bytes::Bytes;

use super::*;
use crate::blob::BlobWriter;
use crate::embedded::EmbeddedS3;
use crate::keys::AccountKey;
use crate::manifest::IdFrame;
use crate::part::{DEFAULT_ZSTD_LEVEL, PartWriter};

const AK: &str = "AKIDVERIFYTEST";
const SK: &str = "verify-test-secret";

async fn start() -> (tempfile::TempDir, EmbeddedS3, ObjectStore) {
    crate::test_store::start(AK, SK).await
}

/// Stores a part of `n` records under `key`, with its record index, and returns its manifest
/// entry.
async fn store_part(store: &ObjectStore, key: &AccountKey, name: &str, n: u64) -> ManifestPart {
    let mut writer = PartWriter::new(&key.recipient(), DEFAULT_ZSTD_LEVEL).expect("writer");
    let mut index = crate::index::IndexBuilder::new();
    for i in 0..n {
        let record = serde_json::json!({"id": format!("cus_{i}"), "n": i});
        let line = record.to_string();
        index.add(&format!("cus_{i}"), i, line.as_bytes(), false);
        writer.write_record(line.as_bytes()).expect("record");
    }
    let sealed = writer.finish().expect("finish");
    store.put(name, sealed.body.clone()).await.expect("put");
    let index = index
        .seal(
            &key.recipient(),
            &crate::layout::index_key(name),
            &sealed.frames,
        )
        .expect("index");
    store
        .put(&index.meta.key, index.body.clone())
        .await
        .expect("put index");
    sealed.manifest_entry(name, 1, Some(index.meta))
}

/// Lookups trust a part's recorded frames, so verification holds each frame to its recorded
/// line and offset.
#[tokio::test]
async fn a_parts_frames_are_checked_against_what_it_holds() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    // About 3 MiB of JSON: several frames.
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 120_000).await;
    let frames = part
        .index
        .as_ref()
        .and_then(|i| i.frames.clone())
        .expect("frames");
    assert!(frames.len() > 2, "{} frames", frames.len());
    let checked = check_part(&store, Some(key.identity()), &part)
        .await
        .expect("check");
    assert_eq!(checked.problem, None);
    assert_eq!(checked.records, 120_000);

    let damaged = |change: &dyn Fn(&mut Vec<PartFrame>)| {
        let mut part = part.clone();
        change(part.index.as_mut().unwrap().frames.as_mut().unwrap());
        part
    };
    for (what, part) in [
        ("a frame's line", damaged(&|f| f[1].line += 1)),
        ("a frame's offset", damaged(&|f| f[2].offset -= 1)),
        (
            "a frame left out",
            damaged(&|f| {
                f.pop();
            }),
        ),
        (
            "a frame too many",
            damaged(&|f| {
                let last = *f.last().unwrap();
                f.push(PartFrame {
                    line: last.line + 1,
                    offset: last.offset + 1,
                });
            }),
        ),
    ] {
        let checked = check_part(&store, Some(key.identity()), &part)
            .await
            .expect("check");
        assert_eq!(
            checked.problem.map(|p| p.kind),
            Some(ProblemKind::Unreadable),
            "{what}"
        );
    }
    server.shutdown().await;
}

/// Lookups read the one frame of an index an id belongs in, so verification holds each index
/// frame to its recorded offset and first id.
#[tokio::test]
async fn an_indexs_frames_are_checked_against_what_it_holds() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 60_000).await;
    let frames = part
        .index
        .as_ref()
        .and_then(|i| i.id_frames.clone())
        .expect("id frames");
    assert!(frames.len() > 2, "{} index frames", frames.len());
    let checked = check_index(&store, Some(key.identity()), &part)
        .await
        .expect("check")
        .expect("an index");
    assert_eq!(checked.problem, None);

    let damaged = |change: &dyn Fn(&mut Vec<IdFrame>)| {
        let mut part = part.clone();
        change(part.index.as_mut().unwrap().id_frames.as_mut().unwrap());
        part
    };
    for (what, part) in [
        ("a frame's first id", damaged(&|f| f[1].first_id.push('0'))),
        ("a frame's offset", damaged(&|f| f[2].offset += 1)),
        ("a frame left out", damaged(&|f| drop(f.remove(1)))),
        (
            "a frame too many",
            damaged(&|f| {
                let last = f.last().unwrap().clone();
                f.push(IdFrame {
                    first_id: format!("{}0", last.first_id),
                    offset: last.offset + 1,
                });
            }),
        ),
    ] {
        let checked = check_index(&store, Some(key.identity()), &part)
            .await
            .expect("check")
            .expect("an index");
        assert_eq!(
            checked.problem.map(|p| p.kind),
            Some(ProblemKind::Unreadable),
            "{what}"
        );
    }
    server.shutdown().await;
}

/// A part's index is checked like a part: present, its sha256, and readable into as many
/// sorted entries as recorded.
#[tokio::test]
async fn a_parts_index_is_checked_and_its_damage_named() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 40).await;
    let index = part.index.clone().expect("an index");
    let checked = check_index(&store, Some(key.identity()), &part)
        .await
        .expect("check")
        .expect("the part has an index");
    assert_eq!(checked.problem, None);
    assert_eq!(checked.bytes, index.stored_bytes);

    let mut claims_more = part.clone();
    claims_more.index.as_mut().unwrap().entries = 41;
    let checked = check_index(&store, Some(key.identity()), &claims_more)
        .await
        .expect("check")
        .expect("checked");
    assert_eq!(
        checked.problem.map(|p| p.kind),
        Some(ProblemKind::RecordCountMismatch)
    );

    // A filter that would hide one of the index's ids from lookups is damage.
    let mut filter_lies = part.clone();
    filter_lies.index.as_mut().unwrap().filter =
        Some(crate::index::IdFilter::of(["someone else"].into_iter()));
    let checked = check_index(&store, Some(key.identity()), &filter_lies)
        .await
        .expect("check")
        .expect("checked");
    let problem = checked.problem.expect("the filter is named");
    assert_eq!(problem.kind, ProblemKind::Unreadable);
    assert!(problem.detail.contains("filter"), "{problem:?}");

    let mut body = store.get(&index.key).await.expect("get").to_vec();
    body[50] ^= 1;
    store.put(&index.key, body.into()).await.expect("put");
    let checked = check_index(&store, None, &part)
        .await
        .expect("check")
        .expect("checked");
    let problem = checked.problem.expect("damage is named");
    assert_eq!(
        (problem.key.as_str(), problem.kind),
        (index.key.as_str(), ProblemKind::ChecksumMismatch)
    );

    store.delete(&index.key).await.expect("delete");
    let checked = check_index(&store, None, &part)
        .await
        .expect("check")
        .expect("checked");
    assert_eq!(checked.problem.map(|p| p.kind), Some(ProblemKind::Missing));

    let mut unindexed = part.clone();
    unindexed.index = None;
    assert_eq!(
        check_index(&store, None, &unindexed).await.expect("check"),
        None,
        "a part written before indexes has none to check"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn an_intact_part_passes_with_and_without_the_key() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 250).await;

    let full = check_part(&store, Some(key.identity()), &part)
        .await
        .expect("check");
    assert_eq!(full.problem, None);
    assert_eq!(full.records, 250);
    assert_eq!(full.bytes, part.stored_bytes);

    let sealed_only = check_part(&store, None, &part).await.expect("check");
    assert_eq!(sealed_only.problem, None);
    assert_eq!(sealed_only.records, 0, "nothing is counted without the key");
    server.shutdown().await;
}

#[tokio::test]
async fn a_flipped_byte_a_missing_part_and_a_wrong_count_are_named() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 40).await;

    // One byte flipped in the middle of the stored object.
    let mut body = store.get(&part.key).await.expect("get").to_vec();
    let middle = body.len() / 2;
    body[middle] ^= 0x01;
    store
        .put(&part.key, Bytes::from(body))
        .await
        .expect("tamper");
    for identity in [Some(key.identity()), None] {
        let checked = check_part(&store, identity, &part).await.expect("check");
        let problem = checked.problem.expect("a flipped byte is found");
        assert_eq!(problem.kind, ProblemKind::ChecksumMismatch);
        assert_eq!(problem.key, part.key);
    }

    let missing = ManifestPart {
        key: "p/part-00002.jsonl.zst.age".into(),
        ..part.clone()
    };
    let problem = check_part(&store, Some(key.identity()), &missing)
        .await
        .expect("check")
        .problem
        .expect("a missing part is found");
    assert_eq!(problem.kind, ProblemKind::Missing);
    assert_eq!(problem.key, missing.key);

    // The object matches its checksum but the manifest claims more records than it holds.
    let short = store_part(&store, &key, "p/part-00003.jsonl.zst.age", 7).await;
    let claims_more = ManifestPart {
        records: 8,
        ..short
    };
    let problem = check_part(&store, Some(key.identity()), &claims_more)
        .await
        .expect("check")
        .problem
        .expect("a wrong count is found");
    assert_eq!(problem.kind, ProblemKind::RecordCountMismatch);
    assert!(problem.detail.contains("7 records"), "{}", problem.detail);
    server.shutdown().await;
}

#[tokio::test]
async fn a_part_sealed_to_another_key_is_unreadable() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 3).await;
    let other = AccountKey::generate();
    let problem = check_part(&store, Some(other.identity()), &part)
        .await
        .expect("check")
        .problem
        .expect("the wrong key cannot read it");
    assert_eq!(problem.kind, ProblemKind::Unreadable);
    server.shutdown().await;
}

#[tokio::test]
async fn blobs_are_checked_against_their_record_and_their_contents() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let mut writer = BlobWriter::new(&key.recipient(), DEFAULT_ZSTD_LEVEL).expect("writer");
    writer.write(b"the contents of a file").expect("write");
    let sealed = writer.finish().expect("finish");
    let object = "accounts/a/blobs/sha256/ab/blob.zst.age";
    store
        .put_file(object, sealed.file.path())
        .await
        .expect("put");
    let record = BlobRecord {
        stored_bytes: sealed.stored_bytes,
        stored_sha256: sealed.stored_sha256.clone(),
    };

    let ok = check_blob(
        &store,
        Some(key.identity()),
        object,
        &sealed.sha256,
        Some(&record),
    )
    .await
    .expect("check");
    assert_eq!(ok.problem, None);
    assert_eq!(ok.bytes, sealed.stored_bytes);

    // Stored under the wrong content hash: only decrypting finds it.
    let wrong = "0".repeat(64);
    let problem = check_blob(&store, Some(key.identity()), object, &wrong, None)
        .await
        .expect("check")
        .problem
        .expect("contents that do not hash to their name");
    assert_eq!(problem.kind, ProblemKind::ChecksumMismatch);

    store.delete(object).await.expect("delete");
    let problem = check_blob(&store, None, object, &sealed.sha256, Some(&record))
        .await
        .expect("check")
        .problem
        .expect("a deleted blob is found");
    assert_eq!(problem.kind, ProblemKind::Missing);
    server.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_store_is_an_error_not_a_verdict() {
    let (_dir, server, store) = start().await;
    let key = AccountKey::generate();
    let part = store_part(&store, &key, "p/part-00001.jsonl.zst.age", 3).await;
    server.shutdown().await;
    let err = check_part(&store, Some(key.identity()), &part)
        .await
        .expect_err("no verdict without the store");
    assert!(!err.is_permanent(), "{err}");
}
