//! Connectors: how ListBackup reads each platform's data.
//!
//! A [`Connector`] pages through one platform's API and hands back [`Page`]s of raw JSON records
//! plus the opaque token for the next page, so the extraction activity can checkpoint after any
//! page and resume from it. Everything platform-neutral lives here: the error model
//! ([`ConnectorError`], classified once where a response is parsed), the shared HTTP client with
//! retry and `Retry-After` handling ([`http`]), and the [`registry`] that maps platform ids to
//! connectors. Each platform is one folder with the same files (`config`, `client`, `streams`,
//! `models`, `docs.md`).

pub mod activecampaign;
pub mod budget;
pub mod dropbox;
pub mod error;
pub mod gohighlevel;
pub mod googledrive;
pub mod http;
pub mod hubspot;
pub mod keap;
pub mod mailchimp;
pub mod oauth;
pub mod registry;
pub mod settings;
pub mod slack;
pub mod stripe;
pub mod webhook;
pub mod zendesk;

pub use error::{ConnectorError, ErrorKind};
pub use registry::{build, build_with_tokens, oauth_app, platform, platforms};

use serde::Serialize;
use serde_json::{Value, value::RawValue};

/// How a platform authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    ApiKey,
    #[serde(rename = "oauth2")]
    OAuth2,
}

/// What a stream supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamInfo {
    pub name: &'static str,
    /// A sync can fetch only what changed since the saved cursor.
    pub incremental: bool,
    /// Records reference file contents stored in the blob store.
    pub files: bool,
    /// A sync reports records deleted on the platform (as tombstones).
    pub deletes: bool,
}

impl StreamInfo {
    /// A stream read whole on every run.
    pub const fn full(name: &'static str) -> Self {
        Self {
            name,
            incremental: false,
            files: false,
            deletes: false,
        }
    }

    /// A stream a sync reads from the saved cursor.
    pub const fn incremental(name: &'static str) -> Self {
        Self {
            incremental: true,
            ..Self::full(name)
        }
    }

    /// Records of this stream carry file contents.
    pub const fn with_files(self) -> Self {
        Self {
            files: true,
            ..self
        }
    }

    /// Syncs of this stream report deletions.
    pub const fn with_deletes(self) -> Self {
        Self {
            deletes: true,
            ..self
        }
    }
}

/// A platform in the catalog.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PlatformInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub auth: AuthKind,
    pub docs_url: &'static str,
    pub streams: &'static [StreamInfo],
    /// The documented request budget a connection gets (before any per-connection override).
    #[serde(skip)]
    pub rate_limit: http::RateLimit,
}

impl PlatformInfo {
    /// The stream called `name`, if the platform has one.
    pub fn stream(&self, name: &str) -> Option<&'static StreamInfo> {
        self.streams.iter().find(|s| s.name == name)
    }
}

/// What to fetch next.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub stream: String,
    /// The token returned with the previous page; `None` for the first page.
    pub page_token: Option<String>,
    /// For an incremental sync: the stream cursor saved by the previous snapshot.
    pub since: Option<Value>,
    /// The stream cursor reached so far in this run (from earlier pages).
    pub cursor: Option<Value>,
}

/// One record as the platform returned it.
#[derive(Debug)]
pub struct Record {
    pub id: String,
    pub json: Box<RawValue>,
    /// The file whose contents this record describes (Drive, Dropbox, Slack files): the pipeline
    /// downloads it with [`Connector::download`], stores it once per content hash in the
    /// account's blob store and adds a reference to the stored record.
    pub file: Option<FileRef>,
    /// The record is a tombstone: a sync's report that the record `id` was deleted on the
    /// platform (streams with [`StreamInfo::deletes`]). It is stored like any record, and its
    /// part's index marks it deleted, so point-in-time views drop the record from then on.
    pub deleted: bool,
}

impl Record {
    /// A record that describes no file contents.
    pub fn new(id: impl Into<String>, json: Box<RawValue>) -> Self {
        Self {
            id: id.into(),
            json,
            file: None,
            deleted: false,
        }
    }

    /// A tombstone: the platform's report that record `id` was deleted, stored as `json`.
    pub fn tombstone(id: impl Into<String>, json: Box<RawValue>) -> Self {
        Self {
            deleted: true,
            ..Self::new(id, json)
        }
    }

    /// A record whose file contents the pipeline should store.
    pub fn with_file(mut self, file: FileRef) -> Self {
        self.file = Some(file);
        self
    }
}

/// Where a record's file contents come from. The pipeline never interprets `locator`; it hands
/// the whole reference back to [`Connector::download`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRef {
    /// What the connector needs to download the contents (a file id, a path, a URL on the
    /// platform's own host), opaque to everyone else.
    pub locator: String,
    /// The platform's own fingerprint of these exact contents when it has one (Dropbox
    /// `content_hash`, Drive `md5Checksum` or revision id, Slack file id + timestamp). Equal
    /// fingerprints of the same source mean equal contents, so the pipeline can skip the
    /// download of a file it has already stored.
    pub fingerprint: Option<String>,
    /// The size the platform reports, if it does (exported documents have none).
    pub size: Option<u64>,
    /// The file name to restore or export it under.
    pub name: String,
    /// The media type of the downloaded contents (for exported Workspace documents, the export
    /// format, e.g. `application/vnd.openxmlformats-officedocument.wordprocessingml.document`).
    pub mime_type: Option<String>,
}

/// File contents as they arrive, chunk by chunk, so a large file never sits in memory whole.
pub type FileBody =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, ConnectorError>> + Send>>;

/// One page of a stream.
#[derive(Debug)]
pub struct Page {
    pub records: Vec<Record>,
    /// The token for the following page; `None` when the stream is complete.
    pub next_page_token: Option<String>,
    /// The stream cursor after this page (what the next sync starts from).
    pub cursor: Option<Value>,
}

/// Reads one platform account's data.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    fn info(&self) -> &'static PlatformInfo;
    /// Checks that the credentials work, with one cheap request.
    async fn check(&self) -> Result<(), ConnectorError>;
    /// Fetches one page of a stream.
    async fn read_page(&self, request: &PageRequest) -> Result<Page, ConnectorError>;
    /// Streams the contents of a file a record referred to. A refusal that concerns this one
    /// file (deleted since it was listed, not downloadable) is `ErrorKind::InvalidRequest`: the
    /// record is then kept without contents and the stream goes on. Platforms without file
    /// streams keep the default, which refuses.
    async fn download(&self, file: &FileRef) -> Result<FileBody, ConnectorError> {
        Err(ConnectorError::new(
            self.info().id,
            ErrorKind::Config,
            format!(
                "{} has no file contents to download ({})",
                self.info().name,
                file.locator
            ),
        ))
    }
}
