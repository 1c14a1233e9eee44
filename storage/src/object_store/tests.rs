//! ObjectStore against the embedded endpoint: real HTTP, real SigV4, a real folder on disk.

use bytes::Bytes;

use super::*;
use crate::embedded::EmbeddedS3;

const AK: &str = "AKIDSTORETEST";
const SK: &str = "store-test-secret";

async fn start() -> (tempfile::TempDir, EmbeddedS3, ObjectStore) {
    crate::test_store::start(AK, SK).await
}

#[tokio::test]
async fn ensure_bucket_is_idempotent_and_check_sees_it() {
    let (_dir, server, store) = start().await;
    store.ensure_bucket().await.expect("second ensure_bucket");
    store.check().await.expect("check");
    assert_eq!(store.bucket(), "backups");

    let missing = ObjectStore::new(&S3Config::local(server.endpoint(), "nope", AK, SK));
    assert!(
        missing.check().await.is_err(),
        "HeadBucket on a missing bucket"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn put_get_overwrite_delete() {
    let (_dir, server, store) = start().await;
    let key = "accounts/a1/sources/s1/snapshots/x/manifest.json";
    store
        .put(key, Bytes::from_static(b"one"))
        .await
        .expect("put");
    assert_eq!(
        store.get(key).await.expect("get"),
        Bytes::from_static(b"one")
    );
    store
        .put(key, Bytes::from_static(b"two"))
        .await
        .expect("overwrite");
    assert_eq!(
        store.get_opt(key).await.expect("get_opt"),
        Some(Bytes::from_static(b"two"))
    );

    store.delete(key).await.expect("delete");
    assert_eq!(
        store.get_opt(key).await.expect("get_opt after delete"),
        None
    );
    store
        .delete(key)
        .await
        .expect("deleting a missing key is fine");
    match store.get(key).await {
        Err(StorageError::NotFound { key: k }) => assert_eq!(k, key),
        other => panic!("expected NotFound, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn empty_and_binary_bodies_survive() {
    let (_dir, server, store) = start().await;
    let binary: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    store
        .put("bin", Bytes::from(binary.clone()))
        .await
        .expect("put binary");
    assert!(store.get("bin").await.expect("get binary") == binary);
    store.put("empty", Bytes::new()).await.expect("put empty");
    assert!(store.get("empty").await.expect("get empty").is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn list_by_prefix_follows_continuation() {
    let (_dir, server, store) = start().await;
    let mut expected = Vec::new();
    for n in 1..=5 {
        let key = crate::layout::part_key("a1", "s1", "snap", "customers", n);
        store
            .put(&key, Bytes::from(format!("part {n}")))
            .await
            .expect("put");
        expected.push(key);
    }
    store
        .put(
            "accounts/a1/sources/s1/snapshots/snap/manifest.json",
            Bytes::new(),
        )
        .await
        .expect("put");
    store
        .put("accounts/a2/other", Bytes::new())
        .await
        .expect("put");

    let prefix = crate::layout::stream_prefix("a1", "s1", "snap", "customers");
    assert_eq!(store.list(&prefix).await.expect("list"), expected);
    // Pages of two: three requests, two continuation tokens.
    assert_eq!(
        store.list_paged(&prefix, 2).await.expect("paged list"),
        expected
    );
    assert_eq!(
        store
            .list("accounts/a1/")
            .await
            .expect("list account")
            .len(),
        6
    );
    assert!(
        store
            .list("accounts/none/")
            .await
            .expect("list empty")
            .is_empty()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sealed_part_round_trips_through_the_store() {
    let (_dir, server, store) = start().await;
    let key = crate::keys::AccountKey::generate();
    let mut writer = crate::part::PartWriter::new(&key.recipient(), 3).expect("writer");
    for i in 0..100 {
        writer
            .write_record(format!("{{\"id\":{i}}}").as_bytes())
            .expect("write");
    }
    let part = writer.finish().expect("finish");
    store.put("p", part.body.clone()).await.expect("put");
    let body = store.get("p").await.expect("get");
    assert_eq!(crate::part::sha256_hex(&body), part.sha256);
    let plain = crate::part::open_part(key.identity(), &body).expect("open");
    assert_eq!(plain.iter().filter(|b| **b == b'\n').count(), 100);
    server.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_rejected() {
    let (_dir, server, store) = start().await;
    store
        .put("kept", Bytes::from_static(b"x"))
        .await
        .expect("put");

    let wrong_secret =
        ObjectStore::new(&S3Config::local(server.endpoint(), "backups", AK, "wrong"));
    let err = wrong_secret
        .put("intruder", Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    match &err {
        StorageError::S3 { op, key, .. } => {
            assert_eq!(*op, "PutObject");
            assert_eq!(key, "intruder");
        }
        other => panic!("expected an S3 error, got {other:?}"),
    }
    assert!(
        err.to_string().contains("intruder"),
        "message names the key: {err}"
    );
    assert!(
        err.to_string().contains("HTTP 403"),
        "message has the status: {err}"
    );
    assert!(!err.is_permanent());
    assert!(wrong_secret.get("kept").await.is_err());
    assert!(wrong_secret.check().await.is_err());

    let wrong_id = ObjectStore::new(&S3Config::local(
        server.endpoint(),
        "backups",
        "AKIDOTHER",
        SK,
    ));
    assert!(
        wrong_id.get_opt("kept").await.is_err(),
        "not mistaken for a missing key"
    );
    assert_eq!(store.get_opt("intruder").await.expect("get_opt"), None);
    server.shutdown().await;
}

#[test]
fn config_debug_redacts_the_secret() {
    let cfg = S3Config::local("http://127.0.0.1:9000", "b", "AKID", "very-secret-value");
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("very-secret-value"));
    assert!(shown.contains("AKID"));
}
