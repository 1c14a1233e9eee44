//! The embedded endpoint: recording, authentication, lifecycle, atomic writes. The S3
//! operations themselves are tested over HTTP in `storage/tests/s3`.

use std::net::SocketAddr;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;

use super::*;
use crate::object_store::{ObjectStore, S3Config};

const AK: &str = "AKIDEMBEDDED";
const SK: &str = "embedded-secret";
const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

#[tokio::test]
async fn recording_logs_successful_put_keys_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, log) = EmbeddedS3::start_recording(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    assert_eq!(
        server.endpoint(),
        format!("http://127.0.0.1:{}", server.addr().port())
    );
    assert_ne!(server.addr().port(), 0);

    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "bkt", AK, SK));
    store.ensure_bucket().await.expect("bucket");
    store
        .put("a/one", Bytes::from_static(b"1"))
        .await
        .expect("put");
    store
        .put("a/two", Bytes::from_static(b"2"))
        .await
        .expect("put");
    store.get("a/one").await.expect("get");
    store.delete("a/two").await.expect("delete");

    let intruder = ObjectStore::new(&S3Config::local(server.endpoint(), "bkt", AK, "bad"));
    assert!(
        intruder
            .put("a/evil", Bytes::from_static(b"x"))
            .await
            .is_err()
    );

    // Multipart: the key is logged once per uploaded part.
    let client = store.client();
    let upload = client
        .create_multipart_upload()
        .bucket("bkt")
        .key("big/object")
        .send()
        .await
        .expect("create multipart");
    let upload_id = upload.upload_id().expect("upload id").to_owned();
    let part = client
        .upload_part()
        .bucket("bkt")
        .key("big/object")
        .upload_id(&upload_id)
        .part_number(1)
        .body(ByteStream::from_static(b"only part"))
        .send()
        .await
        .expect("upload part");
    let completed = CompletedPart::builder()
        .part_number(1)
        .set_e_tag(part.e_tag().map(str::to_owned))
        .build();
    client
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big/object")
        .upload_id(&upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().parts(completed).build())
        .send()
        .await
        .expect("complete multipart");
    assert_eq!(
        store.get("big/object").await.expect("get"),
        Bytes::from_static(b"only part")
    );

    assert_eq!(log.keys(), vec!["a/one", "a/two", "big/object"]);
    server.shutdown().await;
}

/// A recording endpoint over a fresh folder, and a store on `bucket` (created).
async fn recording(bucket: &str) -> (tempfile::TempDir, EmbeddedS3, PutLog, ObjectStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, log) = EmbeddedS3::start_recording(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), bucket, AK, SK));
    store.ensure_bucket().await.expect("bucket");
    (dir, server, log, store)
}

#[tokio::test]
async fn the_gate_holds_the_answers_to_matching_writes_until_released() {
    let (_dir, server, log, store) = recording("bkt").await;
    let gate = log.gate().clone();
    gate.hold("/manifest");

    let held = tokio::spawn({
        let store = store.clone();
        async move { store.put("s/manifest.json", Bytes::from_static(b"m")).await }
    });
    assert!(gate.wait_held(1, Duration::from_secs(10)).await, "held");
    // Other keys pass while one is held.
    store
        .put("s/part-1", Bytes::from_static(b"p"))
        .await
        .expect("put");
    // The held write is stored and logged; only its answer waits.
    assert_eq!(
        store.get("s/manifest.json").await.expect("get"),
        Bytes::from_static(b"m")
    );
    assert_eq!(log.keys(), vec!["s/manifest.json", "s/part-1"]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished());
    assert_eq!(gate.held(), 1);

    gate.release();
    held.await.expect("task").expect("the held put succeeds");
    assert_eq!(gate.held(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn recording_takes_keys_of_300_bytes() {
    let (_dir, server, log, store) = recording("listbackup").await;
    // A part key with UUIDv7 ids and a long stream name: past what s3s-fs could store.
    let id = "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3";
    let stream = "s".repeat(130);
    let key = crate::layout::part_key(id, id, id, &stream, 1);
    assert!((290..=320).contains(&key.len()), "{}", key.len());
    store
        .put(&key, Bytes::from_static(b"part"))
        .await
        .expect("put");
    assert_eq!(
        store.get(&key).await.expect("get"),
        Bytes::from_static(b"part")
    );
    assert_eq!(log.keys(), vec![key]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_body_still_arriving_is_invisible_and_a_broken_one_leaves_nothing() {
    use futures::channel::mpsc;
    use s3s::dto::StreamingBlob;

    use super::folder::{Folder, ObjectMeta};
    use super::listing::{ListQuery, list};

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir(root.join("bkt")).expect("bucket dir");
    let folder = std::sync::Arc::new(Folder::open(root).await.expect("open"));
    let everything = ListQuery {
        max_keys: 1000,
        ..ListQuery::default()
    };
    let temp_files = || std::fs::read_dir(root.join(".tmp")).expect(".tmp").count();

    for broken in [true, false] {
        let (tx, rx) = mpsc::unbounded::<Result<Bytes, std::io::Error>>();
        let upload = {
            let folder = folder.clone();
            tokio::spawn(async move {
                let received = folder.receive(StreamingBlob::wrap(rx), |_| {}).await?;
                folder
                    .commit("bkt", "k/v", received, ObjectMeta::default())
                    .await
            })
        };
        tx.unbounded_send(Ok(Bytes::from_static(b"first half")))
            .expect("send");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while temp_files() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no temp file appeared"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Half an upload: on disk, but neither listed nor readable.
        assert!(
            list(&root.join("bkt"), &everything)
                .expect("list")
                .entries
                .is_empty()
        );
        let read = folder.open_object("bkt", "k/v").await;
        assert_eq!(
            read.err().map(|e| e.code().clone()),
            Some(s3s::S3ErrorCode::NoSuchKey)
        );

        if broken {
            tx.unbounded_send(Err(std::io::Error::other("connection reset")))
                .expect("send");
            let err = upload
                .await
                .expect("join")
                .expect_err("a broken body fails");
            assert_eq!(*err.code(), s3s::S3ErrorCode::IncompleteBody);
            assert!(
                list(&root.join("bkt"), &everything)
                    .expect("list")
                    .entries
                    .is_empty()
            );
        } else {
            tx.unbounded_send(Ok(Bytes::from_static(b", second half")))
                .expect("send");
            drop(tx);
            upload.await.expect("join").expect("commit");
            let page = list(&root.join("bkt"), &everything).expect("list");
            assert_eq!(page.entries.len(), 1);
            assert_eq!(
                std::fs::read(root.join("bkt/k/v")).expect("object"),
                b"first half, second half"
            );
        }
        assert_eq!(temp_files(), 0, "the temp file is gone either way");
    }
}

#[tokio::test]
async fn objects_live_under_root_which_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("nested/data/s3");
    let server = EmbeddedS3::start(&root, LOOPBACK, AK, SK)
        .await
        .expect("start");
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "bkt", AK, SK));
    store.ensure_bucket().await.expect("bucket");
    store
        .put("x/y.txt", Bytes::from_static(b"hi"))
        .await
        .expect("put");
    assert_eq!(
        std::fs::read(root.join("bkt/x/y.txt")).expect("file on disk"),
        b"hi"
    );
    let sidecar = std::fs::read(root.join(".meta/bkt/x/y.txt.json")).expect("sidecar");
    let meta: serde_json::Value = serde_json::from_slice(&sidecar).expect("json");
    assert_eq!(meta["e_tag"], "49f68a5c8493ec2c0bf489821c21fc3b");
    assert_eq!(meta["size"], 2);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = EmbeddedS3::start(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    let addr = server.addr();
    // A live keep-alive connection from the SDK must not hold shutdown up.
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "bkt", AK, SK));
    store.ensure_bucket().await.expect("bucket");
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed after shutdown"
    );
}

#[tokio::test]
async fn a_restart_on_the_same_address_serves_the_objects_and_keeps_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, log) = EmbeddedS3::start_recording(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    let addr = server.addr();
    // One client throughout, as a worker keeps its own across an outage of the store.
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "bkt", AK, SK));
    store.ensure_bucket().await.expect("bucket");
    store
        .put("a/before", Bytes::from_static(b"1"))
        .await
        .expect("put");
    server.shutdown().await;
    assert!(store.get("a/before").await.is_err(), "the store is down");

    let server = EmbeddedS3::start_recording_into(dir.path(), addr, AK, SK, &log)
        .await
        .expect("restart on the same address");
    assert_eq!(server.addr(), addr);
    assert_eq!(&store.get("a/before").await.expect("get")[..], b"1");
    store
        .put("a/after", Bytes::from_static(b"2"))
        .await
        .expect("put");
    assert_eq!(log.keys(), vec!["a/before", "a/after"]);
    server.shutdown().await;
}

#[tokio::test]
async fn bind_conflict_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = EmbeddedS3::start(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    let second = EmbeddedS3::start(dir.path(), first.addr(), AK, SK).await;
    assert!(matches!(second, Err(StorageError::Embedded(_))));
    first.shutdown().await;
}
