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

/// A store on `moto_server` (versioning and Object Lock, which the embedded endpoint lacks),
/// its bucket created with Object Lock enabled by `ensure_bucket`.
async fn locked_store(
    mode: LockMode,
    period: std::time::Duration,
) -> (crate::moto::MotoServer, ObjectStore) {
    let moto = crate::moto::MotoServer::start().await.expect("moto_server");
    let mut cfg = S3Config::local(moto.endpoint(), "locked-backups", AK, SK);
    cfg.object_lock = Some(ObjectLock { mode, period });
    let store = ObjectStore::new(&cfg);
    store.ensure_bucket().await.expect("bucket");
    store.check_object_lock().await.expect("lock enabled");
    (moto, store)
}

/// Every version and delete marker under `prefix`, as (key, is a delete marker).
async fn all_versions(store: &ObjectStore, prefix: &str) -> Vec<(String, bool)> {
    let out = store
        .client()
        .list_object_versions()
        .bucket(store.bucket())
        .prefix(prefix)
        .send()
        .await
        .expect("versions");
    let mut all: Vec<(String, bool)> = out
        .versions()
        .iter()
        .map(|v| (v.key().unwrap().to_owned(), false))
        .chain(
            out.delete_markers()
                .iter()
                .map(|m| (m.key().unwrap().to_owned(), true)),
        )
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn locked_objects_cannot_be_deleted_until_their_retention_ends() {
    let period = std::time::Duration::from_secs(4);
    let (_moto, store) = locked_store(LockMode::Governance, period).await;
    let written = chrono::Utc::now();
    store
        .put("snap/part", Bytes::from_static(b"part"))
        .await
        .expect("locked put of bytes");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"blob").unwrap();
    store
        .put_file("snap/blob", file.path())
        .await
        .expect("locked put of a file");

    // Both carry the mode and a retain-until date the period after the write.
    for key in ["snap/part", "snap/blob"] {
        let head = store
            .client()
            .head_object()
            .bucket(store.bucket())
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.object_lock_mode(),
            Some(&aws_sdk_s3::types::ObjectLockMode::Governance)
        );
        let until = head.object_lock_retain_until_date().unwrap().secs();
        let expected = (written + period).timestamp();
        assert!(
            (until - expected).abs() <= 2,
            "{key}: {until} vs {expected}"
        );
    }

    // Deleting for good is refused by the store, and the object is still there.
    match store.delete("snap/part").await {
        Err(StorageError::Locked { key }) => assert_eq!(key, "snap/part"),
        other => panic!("a retained object was deleted: {other:?}"),
    }
    assert_eq!(store.get("snap/part").await.unwrap(), &b"part"[..]);
    let Some(Hold::Until(until)) = store.hold("snap/").await.unwrap() else {
        panic!("the prefix is held");
    };
    assert!(until > chrono::Utc::now());

    // A plain delete only hides the latest version: the retained version stays, still held.
    store.delete_latest("snap/blob").await.unwrap();
    assert_eq!(store.get_opt("snap/blob").await.unwrap(), None);
    assert!(store.hold("snap/blob").await.unwrap().is_some());
    assert_eq!(
        all_versions(&store, "snap/").await,
        vec![
            ("snap/blob".to_owned(), false),
            ("snap/blob".to_owned(), true),
            ("snap/part".to_owned(), false),
        ]
    );

    // Once the retention ends, nothing holds them and every version and marker goes.
    let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(1200)).await;
    assert_eq!(store.hold("snap/").await.unwrap(), None);
    store
        .delete_prefix("snap/")
        .await
        .expect("delete after expiry");
    assert_eq!(all_versions(&store, "snap/").await, vec![]);
}

#[tokio::test]
async fn compliance_mode_refuses_deletes_and_an_unlocked_bucket_is_refused() {
    let (moto, store) =
        locked_store(LockMode::Compliance, std::time::Duration::from_secs(3600)).await;
    store
        .put("m/manifest.json", Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert!(matches!(
        store.delete_prefix("m/").await,
        Err(StorageError::Locked { .. })
    ));
    assert_eq!(all_versions(&store, "m/").await.len(), 1);

    // A lock configured for a bucket created without Object Lock stops start-up.
    let plain = ObjectStore::new(&S3Config::local(moto.endpoint(), "plain-bucket", AK, SK));
    plain.ensure_bucket().await.unwrap();
    let mut cfg = S3Config::local(moto.endpoint(), "plain-bucket", AK, SK);
    cfg.object_lock = Some(ObjectLock {
        mode: LockMode::Governance,
        period: std::time::Duration::from_secs(60),
    });
    let err = ObjectStore::new(&cfg)
        .check_object_lock()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("does not have it enabled"),
        "{err}"
    );
}

#[tokio::test]
async fn on_a_versioned_bucket_without_a_lock_deletes_remove_every_version() {
    let moto = crate::moto::MotoServer::start().await.expect("moto_server");
    let store = ObjectStore::new(&S3Config::local(moto.endpoint(), "versioned", AK, SK));
    store.ensure_bucket().await.unwrap();
    store.prepare().await.unwrap();
    assert!(!store.is_versioned(), "a new bucket keeps no versions");
    store
        .client()
        .put_bucket_versioning()
        .bucket("versioned")
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    store.prepare().await.unwrap();
    assert!(store.is_versioned());
    for body in ["one", "two"] {
        store.put("x/a", Bytes::from(body)).await.unwrap();
    }
    store.put("x/b", Bytes::from_static(b"b")).await.unwrap();
    store.delete_latest("x/b").await.unwrap();
    assert_eq!(store.hold("x/").await.unwrap(), None, "nothing retained");
    store.delete("x/a").await.unwrap();
    assert_eq!(
        all_versions(&store, "x/").await,
        vec![("x/b".to_owned(), false), ("x/b".to_owned(), true)]
    );
    store.delete_prefix("x/").await.unwrap();
    assert_eq!(all_versions(&store, "x/").await, vec![]);

    // The embedded endpoint has no versioning: taken as unversioned.
    let (_dir, server, embedded) = start().await;
    embedded.prepare().await.unwrap();
    assert!(!embedded.is_versioned());
    server.shutdown().await;
}
