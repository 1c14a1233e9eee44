//! Same seed, same bytes; different seed, different data.

use sandbox::stripe::STREAMS;
use sandbox::{Sandbox, SandboxConfig};

use crate::Harness;

async fn raw_page(harness: &Harness, path: &str) -> Vec<u8> {
    let response = harness
        .client
        .get(harness.url(path))
        .bearer_auth(crate::KEY)
        .send()
        .await
        .unwrap();
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn same_seed_serves_identical_bytes() {
    let (a, b) = (Harness::with_seed(51).await, Harness::with_seed(51).await);
    for stream in STREAMS {
        let status = if stream == "subscriptions" {
            "&status=all"
        } else {
            ""
        };
        let path = format!("/v1/{stream}?limit=100{status}");
        assert_eq!(
            raw_page(&a, &path).await,
            raw_page(&b, &path).await,
            "{stream}"
        );
    }
}

#[test]
fn records_are_pure_functions_of_seed_stream_and_index() {
    let one = Sandbox::new(SandboxConfig::new(52)).unwrap();
    let two = Sandbox::new(SandboxConfig::new(52)).unwrap();
    let other = Sandbox::new(SandboxConfig::new(53)).unwrap();
    for stream in STREAMS {
        let a: Vec<String> = one
            .stripe()
            .records(stream)
            .map(|r| r.to_string())
            .collect();
        let b: Vec<String> = two
            .stripe()
            .records(stream)
            .map(|r| r.to_string())
            .collect();
        let c: Vec<String> = other
            .stripe()
            .records(stream)
            .map(|r| r.to_string())
            .collect();
        assert_eq!(a, b, "{stream}");
        assert!(
            a.iter().zip(&c).all(|(x, y)| x != y),
            "{stream}: seeds 52 and 53 share a record"
        );
    }
    // A huge stream costs nothing until read, and its far end is as stable as its start.
    let big = Sandbox::new(
        SandboxConfig::new(52)
            .with_records("stripe.charges", 10_000_000)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(big.stripe().count("charges"), 10_000_000);
    assert_eq!(
        big.stripe().record("charges", 7),
        one.stripe().record("charges", 7)
    );
    let newest = big.stripe().records("charges").next().unwrap();
    assert_eq!(newest["id"], big.stripe().id_of("charges", 9_999_999));
    assert_eq!(
        big.stripe()
            .index_of("charges", newest["id"].as_str().unwrap()),
        Some(9_999_999)
    );
}
