//! Search across a source's backups, on real stored snapshots (parts in the embedded S3
//! endpoint): text and field queries, newest snapshot first, pages that cover every hit once
//! across parts and streams, bounds and errors, and another tenant's source out of reach.

use crate::{harness::*, pit::store_chain, snapshots::specs, snapshots::store_snapshot};
use serde_json::Value;
use std::collections::BTreeSet;

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["record_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_records_by_text_and_field_across_snapshots_and_pages() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    // customers in parts of 7, 5, 1 and 9 records; invoices 3; refunds none.
    let stored = store_snapshot(&app, &ada.account_id, &specs()).await;
    let search = format!("/v1/sources/{}/search", stored.source_id);

    // Text anywhere in a record: every one has an @example.com email. Pages of 10 cover all
    // 25 once, in stored order, across part and stream boundaries.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{search}?q=%40EXAMPLE.com&limit=10&cursor={c}"),
            None => format!("{search}?q=%40EXAMPLE.com&limit=10"),
        };
        let r = app.get(&path, &ada.access).await;
        let page = r.ok(200).clone();
        assert_eq!(page["snapshots"][0], stored.snapshot_id.as_str());
        for hit in page["items"].as_array().unwrap() {
            assert_eq!(hit["snapshot_id"], stored.snapshot_id.as_str());
            assert_eq!(hit["record"]["id"], hit["record_id"]);
        }
        seen.extend(ids(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pages end");
    }
    let expected: Vec<String> = (0..22)
        .map(|i| format!("customers_{i:05}"))
        .chain((0..3).map(|i| format!("invoices_{i:05}")))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);

    // Text in a decoded string, any case.
    let r = app
        .get(
            &format!("{search}?q=%C3%9CN%C3%8FCODE&limit=1"),
            &ada.access,
        )
        .await;
    assert_eq!(r.ok(200)["items"].as_array().unwrap().len(), 1);

    // A field's whole value, strings without case; a stream of its own.
    let r = app
        .get(
            &format!("{search}?field=email&value=USER3%40example.com"),
            &ada.access,
        )
        .await;
    assert_eq!(ids(r.ok(200)), ["customers_00003"]);
    let r = app
        .get(
            &format!("{search}?field=amount&value=200&stream=invoices"),
            &ada.access,
        )
        .await;
    let page = r.ok(200);
    assert_eq!(ids(page), ["invoices_00002"]);
    assert_eq!(page["items"][0]["stream"], "invoices");
    let r = app
        .get(&format!("{search}?q=user1&stream=invoices"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), ["invoices_00001"]);
    let r = app
        .get(&format!("{search}?q=nobody-has-this"), &ada.access)
        .await;
    let page = r.ok(200);
    assert_eq!(page["items"], serde_json::json!([]));
    assert!(page.get("next_cursor").is_none());
    assert_eq!(page["scanned_records"], 25);

    // Bad requests name their parameter.
    for (query, field) in [
        ("", "q"),
        ("?q=a", "q"),
        ("?q=ab&field=email&value=x", "q"),
        ("?field=email", "value"),
        ("?field=a..b&value=x", "field"),
        ("?q=ab&limit=0", "limit"),
        ("?q=ab&snapshots=21", "snapshots"),
        ("?q=ab&cursor=bm9wZQ", "cursor"),
    ] {
        let r = app.get(&format!("{search}{query}"), &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), field, "{query}");
    }

    // Another tenant's source is not there; a viewer of the account searches.
    let bea = app.register("bea@example.com").await;
    app.get(&format!("{search}?q=user"), &bea.access)
        .await
        .error(404, "not_found");
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    app.get(&format!("{search}?q=user1&limit=1"), &vic.access)
        .await
        .ok(200);
    app.shutdown().await;
}

#[tokio::test]
async fn search_covers_the_latest_snapshots_newest_first() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    // s1: a v1, b v1; s2: a v2; s3: b deleted.
    let chain = store_chain(
        &app,
        &ada.account_id,
        &[
            &[&[("a", Some(1)), ("b", Some(1))]],
            &[&[("a", Some(2))]],
            &[&[("b", None)]],
        ],
    )
    .await;
    let search = format!("/v1/sources/{}/search", chain.source_id);
    let r = app.get(&format!("{search}?q=a%20v"), &ada.access).await;
    let page = r.ok(200);
    let found: Vec<(String, String)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["snapshot_id"].as_str().unwrap().to_owned(),
                h["record"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            (chain.ids[1].clone(), "a v2".to_owned()),
            (chain.ids[0].clone(), "a v1".to_owned())
        ]
    );
    let listed: Vec<&str> = page["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(listed, [&chain.ids[2], &chain.ids[1], &chain.ids[0]]);

    // Only the latest snapshot; the tombstone is a record too.
    let r = app
        .get(
            &format!("{search}?field=id&value=b&snapshots=1"),
            &ada.access,
        )
        .await;
    let page = r.ok(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["record"]["deleted"], true);
    let all = app
        .get(
            &format!("{search}?field=id&value=b&snapshots=3"),
            &ada.access,
        )
        .await;
    let snaps: BTreeSet<&str> = all.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["snapshot_id"].as_str().unwrap())
        .collect();
    assert_eq!(snaps.len(), 2);
    app.shutdown().await;
}
