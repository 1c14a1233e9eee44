//! PutObject, GetObject (with ranges), HeadObject, DeleteObject(s), buckets, errors.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, Delete, ObjectIdentifier};
use bytes::Bytes;

use super::*;

#[tokio::test]
async fn put_head_get_delete_keep_s3_semantics() {
    let s3 = Endpoint::start().await;
    let c = s3.client();
    let body = b"{\"id\":1}\n".repeat(1000);
    let put = c
        .put_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .content_type("application/json")
        .metadata("sha256", "abc")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    let etag = format!("\"{}\"", md5_hex(&body));
    assert_eq!(put.e_tag(), Some(etag.as_str()));

    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await
        .expect("head");
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.content_type(), Some("application/json"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("sha256"))
            .map(String::as_str),
        Some("abc")
    );
    let modified = head.last_modified().expect("last modified").secs();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        (now - modified).abs() < 3600,
        "last modified {modified} is about now {now}"
    );

    let get = c
        .get_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await
        .expect("get");
    assert_eq!(get.e_tag(), Some(etag.as_str()));
    assert_eq!(get.content_type(), Some("application/json"));
    let got = get.body.collect().await.expect("body").into_bytes();
    assert!(got == body);

    c.delete_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await
        .expect("delete");
    let missing = c
        .head_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await;
    assert_eq!(code(missing).1, 404);
    let missing = c
        .get_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await;
    assert_eq!(code(missing), ("NoSuchKey".to_owned(), 404));
    // Deleting a missing key succeeds, as in S3; the emptied directories are gone.
    c.delete_object()
        .bucket(BUCKET)
        .key("accounts/a/manifest.json")
        .send()
        .await
        .expect("delete again");
    assert!(!s3.root().join(BUCKET).join("accounts").exists());
    assert!(
        !s3.root()
            .join(".meta")
            .join(BUCKET)
            .join("accounts")
            .exists()
    );
}

#[tokio::test]
async fn keys_of_400_bytes_round_trip() {
    let s3 = Endpoint::start().await;
    let id = "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3";
    let stream = "x".repeat(230);
    let key = format!(
        "accounts/{id}/sources/{id}/snapshots/{id}/streams/{stream}/part-00001.jsonl.zst.age"
    );
    assert!(key.len() > 400, "{}", key.len());
    s3.store
        .put(&key, Bytes::from_static(b"long"))
        .await
        .expect("put");
    assert_eq!(
        s3.store.get(&key).await.expect("get"),
        Bytes::from_static(b"long")
    );
    assert_eq!(
        s3.store
            .list(&format!("accounts/{id}/"))
            .await
            .expect("list"),
        vec![key.clone()]
    );
    // The object sits at the path its key names.
    assert_eq!(
        std::fs::read(s3.root().join(BUCKET).join(&key)).expect("file"),
        b"long"
    );
    s3.store.delete(&key).await.expect("delete");
    assert_eq!(s3.store.get_opt(&key).await.expect("get_opt"), None);

    let too_long = vec!["k".repeat(200); 6].join("/");
    let refused = s3
        .client()
        .put_object()
        .bucket(BUCKET)
        .key(&too_long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(code(refused), ("KeyTooLongError".to_owned(), 400));
}

#[tokio::test]
async fn keys_that_are_not_paths_are_refused() {
    let s3 = Endpoint::start().await;
    for key in ["a//b", "a/./b", "a/../../escape", "trailing/"] {
        let refused = s3
            .client()
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(code(refused).1, 400, "{key}");
    }
    assert!(s3.store.list("").await.expect("list").is_empty());
    assert!(!s3.root().join("escape").exists());
}

#[tokio::test]
async fn an_object_and_a_prefix_of_the_same_name_conflict() {
    let s3 = Endpoint::start().await;
    s3.store
        .put("a", Bytes::from_static(b"1"))
        .await
        .expect("put a");
    let refused = s3
        .client()
        .put_object()
        .bucket(BUCKET)
        .key("a/b")
        .body(ByteStream::from_static(b"2"))
        .send()
        .await;
    assert_eq!(code(refused), ("InvalidArgument".to_owned(), 400));
    assert_eq!(
        s3.store.get("a").await.expect("a intact"),
        Bytes::from_static(b"1")
    );
    // `a/b` is not an object, and reading it says so.
    assert_eq!(s3.store.get_opt("a/b").await.expect("get a/b"), None);
}

#[tokio::test]
async fn range_gets() {
    let s3 = Endpoint::start().await;
    s3.store
        .put("r", Bytes::from_static(b"0123456789"))
        .await
        .expect("put");
    let get = |range: &'static str| {
        let c = s3.client().clone();
        async move {
            c.get_object()
                .bucket(BUCKET)
                .key("r")
                .range(range)
                .send()
                .await
        }
    };
    for (range, want, content_range) in [
        ("bytes=2-5", &b"2345"[..], "bytes 2-5/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=8-100", b"89", "bytes 8-9/10"),
    ] {
        let out = get(range).await.expect(range);
        assert_eq!(out.content_range(), Some(content_range), "{range}");
        assert_eq!(out.content_length(), Some(want.len() as i64), "{range}");
        let body = out.body.collect().await.expect("body").into_bytes();
        assert_eq!(&body[..], want, "{range}");
    }
    assert_eq!(
        code(get("bytes=10-").await),
        ("InvalidRange".to_owned(), 416)
    );
}

#[tokio::test]
async fn a_body_that_fails_its_digest_is_refused_and_stores_nothing() {
    let s3 = Endpoint::start().await;
    let c = s3.client();
    use base64::Engine as _;
    let wrong_md5 = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
    let refused = c
        .put_object()
        .bucket(BUCKET)
        .key("digest")
        .content_md5(wrong_md5)
        .body(ByteStream::from_static(b"body"))
        .send()
        .await;
    assert_eq!(code(refused), ("BadDigest".to_owned(), 400));
    let refused = c
        .put_object()
        .bucket(BUCKET)
        .key("digest")
        .checksum_crc32("AAAAAA==")
        .body(ByteStream::from_static(b"body"))
        .send()
        .await;
    assert_eq!(code(refused).0, "BadDigest");
    assert_eq!(s3.store.get_opt("digest").await.expect("get"), None);

    // The SDK's own checksums (CRC32 in an aws-chunked trailer) are accepted and checked.
    let put = c
        .put_object()
        .bucket(BUCKET)
        .key("digest")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from_static(b"body"))
        .send()
        .await
        .expect("put with a checksum");
    assert!(put.checksum_crc32().is_some());
    assert_eq!(
        s3.store.get("digest").await.expect("get"),
        Bytes::from_static(b"body")
    );
}

#[tokio::test]
async fn the_sdks_default_checksums_are_accepted() {
    let s3 = Endpoint::start().await;
    let c = s3.default_sdk_client();
    let body = vec![7u8; 300_000];
    let put = c
        .put_object()
        .bucket(BUCKET)
        .key("flexible")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put with the default checksums");
    assert!(put.checksum_crc32().is_some() || put.checksum_crc64_nvme().is_some());
    let got = c
        .get_object()
        .bucket(BUCKET)
        .key("flexible")
        .send()
        .await
        .expect("get");
    assert!(got.body.collect().await.expect("body").into_bytes() == body);
}

#[tokio::test]
async fn delete_objects_deletes_each_key_and_reports_it() {
    let s3 = Endpoint::start().await;
    for key in ["d/1", "d/2", "d/3"] {
        s3.store
            .put(key, Bytes::from_static(b"x"))
            .await
            .expect("put");
    }
    let objects = ["d/1", "d/3", "d/missing"]
        .into_iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().expect("id"))
        .collect::<Vec<_>>();
    let out = s3
        .client()
        .delete_objects()
        .bucket(BUCKET)
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .expect("delete"),
        )
        .send()
        .await
        .expect("delete objects");
    let mut deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort_unstable();
    assert_eq!(deleted, ["d/1", "d/3", "d/missing"]);
    assert!(out.errors().is_empty());
    assert_eq!(s3.store.list("d/").await.expect("list"), ["d/2"]);
}

#[tokio::test]
async fn buckets_exist_once_and_missing_ones_say_so() {
    let s3 = Endpoint::start().await;
    let again = s3.client().create_bucket().bucket(BUCKET).send().await;
    assert_eq!(code(again), ("BucketAlreadyOwnedByYou".to_owned(), 409));
    s3.store
        .ensure_bucket()
        .await
        .expect("ensure_bucket stays idempotent");
    s3.store.check().await.expect("head bucket");

    let c = s3.client();
    let nope = "no-such-bucket";
    assert_eq!(code(c.head_bucket().bucket(nope).send().await).1, 404);
    assert_eq!(
        code(c.get_object().bucket(nope).key("k").send().await),
        ("NoSuchBucket".to_owned(), 404)
    );
    assert_eq!(
        code(
            c.put_object()
                .bucket(nope)
                .key("k")
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        ),
        ("NoSuchBucket".to_owned(), 404)
    );
    assert_eq!(
        code(c.list_objects_v2().bucket(nope).send().await),
        ("NoSuchBucket".to_owned(), 404)
    );
    assert_eq!(
        code(c.delete_object().bucket(nope).key("k").send().await),
        ("NoSuchBucket".to_owned(), 404)
    );
    assert!(!s3.root().join(nope).exists());
}
