//! The embedded endpoint: recording, authentication, lifecycle.

use std::net::SocketAddr;

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
async fn bind_conflict_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = EmbeddedS3::start(dir.path(), LOOPBACK, AK, SK)
        .await
        .expect("start");
    let second = EmbeddedS3::start(dir.path(), first.addr(), AK, SK).await;
    assert!(matches!(second, Err(StorageError::Embedded(_))));
    first.shutdown().await;
}
