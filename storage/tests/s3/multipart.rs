//! Multipart uploads: create, upload parts, complete, abort, and S3's checks on each.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::*;

const MIB: usize = 1024 * 1024;

async fn create(s3: &Endpoint, key: &str) -> String {
    s3.client()
        .create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .content_type("application/octet-stream")
        .send()
        .await
        .expect("create multipart")
        .upload_id()
        .expect("upload id")
        .to_owned()
}

async fn part(
    s3: &Endpoint,
    key: &str,
    upload_id: &str,
    number: i32,
    body: Vec<u8>,
) -> CompletedPart {
    let out = s3
        .client()
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload part");
    CompletedPart::builder()
        .part_number(number)
        .set_e_tag(out.e_tag().map(str::to_owned))
        .build()
}

async fn complete(
    s3: &Endpoint,
    key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
    >,
> {
    s3.client()
        .complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
}

#[tokio::test]
async fn parts_become_one_object_with_the_multipart_etag() {
    let s3 = Endpoint::start().await;
    let key = "big/object";
    let upload_id = create(&s3, key).await;
    let first: Vec<u8> = (0..5 * MIB).map(|i| (i % 251) as u8).collect();
    let second = b"the tail".to_vec();
    let p1 = part(&s3, key, &upload_id, 1, first.clone()).await;
    let p2 = part(&s3, key, &upload_id, 2, second.clone()).await;
    // Nothing is visible before completion.
    assert_eq!(s3.store.get_opt(key).await.expect("get"), None);
    assert!(s3.store.list("big/").await.expect("list").is_empty());

    let done = complete(&s3, key, &upload_id, vec![p1, p2])
        .await
        .expect("complete");
    let md5 = |b: &[u8]| {
        use md5::Digest as _;
        md5::Md5::digest(b).to_vec()
    };
    let mut both = md5(&first);
    both.extend(md5(&second));
    let want = format!("\"{}-2\"", md5_hex(&both));
    assert_eq!(done.e_tag(), Some(want.as_str()));

    let head = s3
        .client()
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("head");
    assert_eq!(head.e_tag(), Some(want.as_str()));
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    let mut whole = first;
    whole.extend(second);
    assert!(s3.store.get(key).await.expect("get") == whole);
    // The upload's parts are gone, and the recorder saw one entry per part.
    assert_eq!(s3.puts.keys(), [key, key]);
    let leftovers = std::fs::read_dir(s3.root().join(".uploads"))
        .expect("uploads")
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn completion_checks_parts_like_s3() {
    let s3 = Endpoint::start().await;
    let key = "checked";
    let upload_id = create(&s3, key).await;
    let small1 = part(&s3, key, &upload_id, 1, b"small".to_vec()).await;
    let small2 = part(&s3, key, &upload_id, 2, b"also small".to_vec()).await;

    // Every part but the last must be at least 5 MiB.
    let refused = complete(&s3, key, &upload_id, vec![small1.clone(), small2.clone()]).await;
    assert_eq!(code(refused), ("EntityTooSmall".to_owned(), 400));
    let refused = complete(&s3, key, &upload_id, vec![small2.clone(), small1.clone()]).await;
    assert_eq!(code(refused), ("InvalidPartOrder".to_owned(), 400));
    let wrong_etag = CompletedPart::builder()
        .part_number(1)
        .e_tag("\"00000000000000000000000000000000\"")
        .build();
    let refused = complete(&s3, key, &upload_id, vec![wrong_etag]).await;
    assert_eq!(code(refused), ("InvalidPart".to_owned(), 400));
    let never_uploaded = CompletedPart::builder().part_number(3).build();
    let refused = complete(&s3, key, &upload_id, vec![never_uploaded]).await;
    assert_eq!(code(refused), ("InvalidPart".to_owned(), 400));
    assert_eq!(s3.store.get_opt(key).await.expect("get"), None);

    // A failed completion leaves the upload usable: one small part is a valid object.
    complete(&s3, key, &upload_id, vec![small1])
        .await
        .expect("complete");
    assert_eq!(&s3.store.get(key).await.expect("get")[..], b"small");
    // Completed uploads are gone.
    let refused = complete(&s3, key, &upload_id, vec![small2]).await;
    assert_eq!(code(refused), ("NoSuchUpload".to_owned(), 404));
}

#[tokio::test]
async fn aborted_and_unknown_uploads_are_no_such_upload() {
    let s3 = Endpoint::start().await;
    let key = "aborted";
    let upload_id = create(&s3, key).await;
    part(&s3, key, &upload_id, 1, b"x".to_vec()).await;
    s3.client()
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&upload_id)
        .send()
        .await
        .expect("abort");
    let c = s3.client();
    let refused = c
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&upload_id)
        .part_number(2)
        .body(ByteStream::from_static(b"y"))
        .send()
        .await;
    assert_eq!(code(refused), ("NoSuchUpload".to_owned(), 404));
    let again = c
        .abort_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&upload_id)
        .send()
        .await;
    assert_eq!(code(again), ("NoSuchUpload".to_owned(), 404));
    for bogus in ["../../etc", "0123456789abcdef0123456789abcdef"] {
        let refused = c
            .upload_part()
            .bucket(BUCKET)
            .key(key)
            .upload_id(bogus)
            .part_number(1)
            .body(ByteStream::from_static(b"y"))
            .send()
            .await;
        assert_eq!(code(refused), ("NoSuchUpload".to_owned(), 404), "{bogus}");
    }
    // An upload id is bound to its key.
    let other = create(&s3, "other").await;
    let refused = c
        .upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(&other)
        .part_number(1)
        .body(ByteStream::from_static(b"y"))
        .send()
        .await;
    assert_eq!(code(refused), ("NoSuchUpload".to_owned(), 404));
    assert_eq!(s3.store.get_opt(key).await.expect("get"), None);
}
