//! The embedded S3 endpoint driven by aws-sdk-s3 over real HTTP with SigV4: each operation our
//! code uses, with S3's semantics, on a real folder.

mod durability;
mod listing;
mod multipart;
mod objects;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use storage::embedded::{EmbeddedS3, PutLog};
use storage::object_store::{ObjectStore, S3Config};

const AK: &str = "AKIDS3SUITE";
const SK: &str = "s3-suite-secret";
const BUCKET: &str = "listbackup";
const LOOPBACK: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A running endpoint over a temp folder, with the bucket created.
struct Endpoint {
    dir: tempfile::TempDir,
    server: Option<EmbeddedS3>,
    store: ObjectStore,
    puts: PutLog,
}

impl Endpoint {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir).await
    }

    /// Serves an existing folder (`dir/objects`).
    async fn start_in(dir: tempfile::TempDir) -> Self {
        let (server, puts) =
            EmbeddedS3::start_recording(&dir.path().join("objects"), LOOPBACK, AK, SK)
                .await
                .expect("start embedded s3");
        let store = ObjectStore::new(&S3Config::local(server.endpoint(), BUCKET, AK, SK));
        store.ensure_bucket().await.expect("ensure_bucket");
        Self {
            dir,
            server: Some(server),
            store,
            puts,
        }
    }

    fn client(&self) -> &Client {
        self.store.client()
    }

    /// A client with the SDK's default settings, flexible checksums included (our
    /// `ObjectStore` computes them only where S3 requires them).
    fn default_sdk_client(&self) -> Client {
        let endpoint = self.server.as_ref().expect("running").endpoint();
        let credentials = aws_sdk_s3::config::Credentials::new(AK, SK, None, None, "test");
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url(endpoint)
            .force_path_style(true)
            .build();
        Client::from_conf(config)
    }

    /// The folder the endpoint serves.
    fn root(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    /// Stops the endpoint and hands back its folder, for a restart.
    async fn stop(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
        self.dir
    }
}

/// The S3 error code and HTTP status of a failed SDK call.
fn code<T, E>(result: Result<T, aws_sdk_s3::error::SdkError<E>>) -> (String, u16)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    T: std::fmt::Debug,
{
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(aws_sdk_s3::error::SdkError::ServiceError(e)) => (
            e.err().code().unwrap_or("<none>").to_owned(),
            e.raw().status().as_u16(),
        ),
        Err(e) => panic!("expected a service error, got {e:?}"),
    }
}

/// Hex MD5, as S3 puts in a single-part ETag.
fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(bytes))
}
