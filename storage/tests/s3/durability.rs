//! Atomic writes under concurrency, what a restart cleans up, and folders written by older
//! versions (s3s-fs, no sidecars).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;

use super::*;

#[tokio::test]
async fn concurrent_writes_to_one_key_leave_one_whole_version() {
    let s3 = Endpoint::start().await;
    let key = "accounts/a/sources/s/snapshots/x/streams/customers/part-00001.jsonl.zst.age";
    let bodies: Vec<Bytes> = (0..8u8)
        .map(|n| Bytes::from(vec![n; 512 * 1024 + usize::from(n)]))
        .collect();

    // While the writers run, listings see the key or nothing: never a temp file.
    let done = Arc::new(AtomicBool::new(false));
    let lister = {
        let store = s3.store.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut listings = 0;
            while !done.load(Ordering::Relaxed) || listings == 0 {
                let keys = store.list("").await.expect("list");
                assert!(keys.is_empty() || keys == [key], "{keys:?}");
                listings += 1;
            }
            listings
        })
    };
    let writers: Vec<_> = bodies
        .iter()
        .cloned()
        .map(|body| {
            let store = s3.store.clone();
            tokio::spawn(async move { store.put(key, body).await })
        })
        .collect();
    for writer in writers {
        writer.await.expect("join").expect("put");
    }
    done.store(true, Ordering::Relaxed);
    assert!(lister.await.expect("lister") > 0);

    let got = s3.store.get(key).await.expect("get");
    assert!(
        bodies.contains(&got),
        "the object is one of the bodies, whole"
    );
    let head = s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("head");
    // Metadata and bytes changed together.
    assert_eq!(
        head.e_tag(),
        Some(format!("\"{}\"", md5_hex(&got)).as_str())
    );
    assert_eq!(head.content_length(), Some(got.len() as i64));
    let tmp = std::fs::read_dir(s3.root().join(".tmp"))
        .expect(".tmp")
        .count();
    assert_eq!(tmp, 0, "no temp file outlives its request");
}

#[tokio::test]
async fn a_restart_removes_temp_files_a_crash_left() {
    let s3 = Endpoint::start().await;
    s3.store
        .put("kept", Bytes::from_static(b"k"))
        .await
        .expect("put");
    let dir = s3.stop().await;
    let stray = dir.path().join("objects/.tmp/0123abcd");
    std::fs::write(&stray, b"half an upload").expect("stray temp file");

    let s3 = Endpoint::start_in(dir).await;
    assert!(!stray.exists());
    assert_eq!(s3.store.list("").await.expect("list"), ["kept"]);
    assert_eq!(
        s3.store.get("kept").await.expect("get"),
        Bytes::from_static(b"k")
    );
}

#[tokio::test]
async fn folders_written_by_s3s_fs_keep_working() {
    // s3s-fs kept objects at the same paths and their metadata in files at the root.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("objects");
    let key = "accounts/a/sources/s/snapshots/1/manifest.json";
    let object = root.join(BUCKET).join(key);
    std::fs::create_dir_all(object.parent().expect("parent")).expect("mkdir");
    std::fs::write(&object, b"{\"old\":true}").expect("object");
    std::fs::write(
        root.join(".bucket-bGlzdGJhY2t1cA.object-YWNjb3VudHM.metadata.json"),
        b"{}",
    )
    .expect("s3s-fs metadata");

    let s3 = Endpoint::start_in(dir).await;
    assert_eq!(s3.store.list("").await.expect("list"), [key]);
    let head = s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.e_tag(),
        Some(format!("\"{}\"", md5_hex(b"{\"old\":true}")).as_str())
    );
    assert_eq!(
        &s3.store.get(key).await.expect("get")[..],
        b"{\"old\":true}"
    );

    // A sidecar that describes another version of the file (written behind the endpoint's
    // back here; a crash between the two renames in practice) is not believed.
    s3.store
        .put(key, Bytes::from_static(b"new"))
        .await
        .expect("put");
    std::fs::write(&object, b"changed behind its back").expect("overwrite");
    let head = s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(
        head.e_tag(),
        Some(format!("\"{}\"", md5_hex(b"changed behind its back")).as_str())
    );
    assert_eq!(head.content_length(), Some(23));
}
