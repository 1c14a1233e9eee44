//! For this crate's unit tests: an embedded S3 endpoint over a temporary folder, and a store
//! with its bucket, spoken to over real HTTP with SigV4.

use std::net::SocketAddr;

use crate::embedded::EmbeddedS3;
use crate::object_store::{ObjectStore, S3Config};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// Starts the endpoint with credentials `ak`/`sk` and returns the folder, the server and a
/// store on bucket `backups`.
pub(crate) async fn start(ak: &str, sk: &str) -> (tempfile::TempDir, EmbeddedS3, ObjectStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = EmbeddedS3::start(&dir.path().join("s3"), LOOPBACK, ak, sk)
        .await
        .expect("start embedded s3");
    let store = ObjectStore::new(&S3Config::local(server.endpoint(), "backups", ak, sk));
    store.ensure_bucket().await.expect("ensure_bucket");
    (dir, server, store)
}
