//! ListObjectsV2: prefix, delimiter and common prefixes, max-keys, continuation tokens,
//! StartAfter, lexicographic order.

use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use bytes::Bytes;

use super::*;

const KEYS: &[&str] = &[
    "accounts/a/blobs/sha256/ab/ab01.zst.age",
    "accounts/a/sources/s/snapshots/1/manifest.json",
    "accounts/a/sources/s/snapshots/1/streams/customers/part-00001.jsonl.zst.age",
    "accounts/a/sources/s/snapshots/1/streams/customers/part-00002.jsonl.zst.age",
    "accounts/a/sources/s/snapshots/2/manifest.json",
    "accounts/a.txt",
    "accounts/a0",
    "accounts/b/x",
];

async fn with_keys() -> Endpoint {
    let s3 = Endpoint::start().await;
    // Written out of order: the listing order must not depend on it.
    for key in KEYS.iter().rev() {
        s3.store
            .put(key, Bytes::from(key.to_string()))
            .await
            .expect("put");
    }
    s3
}

fn keys(page: &ListObjectsV2Output) -> Vec<&str> {
    page.contents().iter().filter_map(|o| o.key()).collect()
}

fn prefixes(page: &ListObjectsV2Output) -> Vec<&str> {
    page.common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect()
}

#[tokio::test]
async fn keys_are_listed_in_byte_order_with_sizes_and_etags() {
    let s3 = with_keys().await;
    let page = s3
        .client()
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list");
    let mut sorted = KEYS.to_vec();
    sorted.sort_unstable();
    assert_eq!(keys(&page), sorted);
    assert_eq!(page.key_count(), Some(KEYS.len() as i32));
    assert_eq!(page.is_truncated(), Some(false));
    for object in page.contents() {
        let key = object.key().expect("key");
        assert_eq!(object.size(), Some(key.len() as i64));
        assert_eq!(
            object.e_tag(),
            Some(format!("\"{}\"", md5_hex(key.as_bytes())).as_str())
        );
        assert!(object.last_modified().is_some());
    }
}

#[tokio::test]
async fn a_delimiter_rolls_keys_up_into_common_prefixes() {
    let s3 = with_keys().await;
    let list = |prefix: &'static str| {
        let c = s3.client().clone();
        async move {
            c.list_objects_v2()
                .bucket(BUCKET)
                .prefix(prefix)
                .delimiter("/")
                .send()
                .await
                .expect("list")
        }
    };
    let page = list("accounts/").await;
    assert_eq!(keys(&page), ["accounts/a.txt", "accounts/a0"]);
    assert_eq!(prefixes(&page), ["accounts/a/", "accounts/b/"]);
    assert_eq!(page.key_count(), Some(4));

    let page = list("accounts/a/sources/s/snapshots/").await;
    assert!(keys(&page).is_empty());
    assert_eq!(
        prefixes(&page),
        [
            "accounts/a/sources/s/snapshots/1/",
            "accounts/a/sources/s/snapshots/2/"
        ]
    );

    let page = list("accounts/a/sources/s/snapshots/1/").await;
    assert_eq!(
        keys(&page),
        ["accounts/a/sources/s/snapshots/1/manifest.json"]
    );
    assert_eq!(
        prefixes(&page),
        ["accounts/a/sources/s/snapshots/1/streams/"]
    );

    // A prefix that ends inside a segment.
    let page = list("accounts/a").await;
    assert_eq!(keys(&page), ["accounts/a.txt", "accounts/a0"]);
    assert_eq!(prefixes(&page), ["accounts/a/"]);

    let page = list("nothing/").await;
    assert!(keys(&page).is_empty() && prefixes(&page).is_empty());
    assert_eq!(page.key_count(), Some(0));
}

#[tokio::test]
async fn pages_follow_continuation_tokens_and_start_after() {
    let s3 = with_keys().await;
    let c = s3.client();
    for delimiter in [None, Some("/")] {
        let mut seen = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = c
                .list_objects_v2()
                .bucket(BUCKET)
                .prefix("accounts/")
                .set_delimiter(delimiter.map(str::to_owned))
                .max_keys(2)
                .set_continuation_token(token.clone())
                .send()
                .await
                .expect("page");
            pages += 1;
            assert!(page.key_count().unwrap_or(0) <= 2);
            assert_eq!(page.max_keys(), Some(2));
            assert_eq!(page.continuation_token(), token.as_deref());
            seen.extend(keys(&page).into_iter().map(str::to_owned));
            seen.extend(prefixes(&page).into_iter().map(str::to_owned));
            if page.is_truncated() != Some(true) {
                assert!(page.next_continuation_token().is_none());
                break;
            }
            token = page.next_continuation_token().map(str::to_owned);
            assert!(token.is_some());
        }
        let whole = c
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("accounts/")
            .set_delimiter(delimiter.map(str::to_owned))
            .send()
            .await
            .expect("whole");
        let mut want: Vec<String> = keys(&whole).into_iter().map(str::to_owned).collect();
        want.extend(prefixes(&whole).into_iter().map(str::to_owned));
        seen.sort_unstable();
        want.sort_unstable();
        assert_eq!(seen, want, "{delimiter:?}");
        assert_eq!(pages, want.len().div_ceil(2), "{delimiter:?}");
    }

    let page = c
        .list_objects_v2()
        .bucket(BUCKET)
        .start_after("accounts/a/sources/s/snapshots/2/manifest.json")
        .send()
        .await
        .expect("start after");
    // `accounts/a.txt` sorts before `accounts/a/…` (`.` < `/`), so it is not after it.
    assert_eq!(keys(&page), ["accounts/a0", "accounts/b/x"]);

    let bad = c
        .list_objects_v2()
        .bucket(BUCKET)
        .continuation_token("not a token!")
        .send()
        .await;
    assert_eq!(code(bad), ("InvalidArgument".to_owned(), 400));

    // ObjectStore::list follows the tokens itself.
    assert_eq!(s3.store.list("accounts/a/").await.expect("list").len(), 5);
}

#[tokio::test]
async fn deleted_objects_leave_no_common_prefix_behind() {
    let s3 = with_keys().await;
    s3.store.delete("accounts/b/x").await.expect("delete");
    let page = s3
        .client()
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("accounts/")
        .delimiter("/")
        .send()
        .await
        .expect("list");
    assert_eq!(prefixes(&page), ["accounts/a/"]);
}
