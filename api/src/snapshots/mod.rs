//! Snapshots: what backups and syncs wrote, and reading it back — the manifest, each stream's
//! totals, records as NDJSON pages, whole streams as `.jsonl` or `.jsonl.zst` downloads, and the
//! files (blobs) records refer to. Everything is decrypted with the account's key, unsealed with
//! the server's master key exactly as the worker seals it, and every part is checked against
//! its sha256 in the manifest before a byte of it is returned.
//!
//! Reading needs the viewer role on the snapshot's account; another tenant's snapshot is a 404.
//! Contents exist only once the manifest is written: for a snapshot that is still `writing`,
//! or that `failed` or was `cancelled`, the content endpoints answer `409
//! snapshot_not_complete` (`details.status`).

mod download;
mod payload;
mod pit;
mod pit_body;
mod records;
mod search;
mod views;

use crate::{
    ApiTags,
    access::Caller,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    pagination::{Page, PageRequest},
    state::AppState,
};
use entities::{Role, SnapshotStatus, account, blob, snapshot, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Enum, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use storage::{StorageError, keys::AccountKey, manifest::Manifest, reader};

pub use payload::{Ndjson, StreamFile, WithZstd};
pub use pit::PointInTimeApi;
pub use search::SearchApi;
pub(crate) use views::status_name;
pub(crate) use views::view as snapshot_view;
pub use views::{ManifestView, SnapshotView, StreamView};

/// A snapshot's status, to filter lists by.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "SnapshotStatus", rename_all = "lowercase")]
pub enum StatusFilter {
    Writing,
    Complete,
    Failed,
    Cancelled,
}

impl From<StatusFilter> for SnapshotStatus {
    fn from(s: StatusFilter) -> Self {
        match s {
            StatusFilter::Writing => Self::Writing,
            StatusFilter::Complete => Self::Complete,
            StatusFilter::Failed => Self::Failed,
            StatusFilter::Cancelled => Self::Cancelled,
        }
    }
}

/// How a stream is downloaded.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename = "DownloadFormat")]
pub enum DownloadFormat {
    /// JSON Lines, `application/x-ndjson`.
    #[default]
    #[oai(rename = "jsonl")]
    Jsonl,
    /// JSON Lines in one zstd frame, `application/zstd` (`zstd -d` restores the `.jsonl`).
    #[oai(rename = "jsonl.zst")]
    JsonlZst,
}

#[derive(ApiResponse)]
pub enum ListSnapshotsResponse {
    /// A page of the source's snapshots, newest first.
    #[oai(status = 200)]
    Ok(Json<Page<SnapshotView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such source (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListSnapshotsResponse { 400 => BadRequest, 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetSnapshotResponse {
    #[oai(status = 200)]
    Ok(Json<SnapshotView>),
    /// No such snapshot (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetSnapshotResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetManifestResponse {
    /// The manifest, as stored next to the parts.
    #[oai(status = 200)]
    Ok(Json<Box<ManifestView>>),
    /// No such snapshot (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot has no manifest: it is still being written, or failed or was cancelled
    /// (`snapshot_not_complete`, `details.status`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(GetManifestResponse { 404 => NotFound, 409 => Conflict, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum ListStreamsResponse {
    /// A page of the snapshot's streams, by name.
    #[oai(status = 200)]
    Ok(Json<Page<StreamView>>),
    /// A parameter could not be read (`invalid_request`; `details.field` names it).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot is not complete (`snapshot_not_complete`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(ListStreamsResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// The answers of reading a stream's records: the NDJSON page with its paging headers, the
/// errors listed, and `500`.
macro_rules! records_response {
    ($name:ident, { $($status:literal => $variant:ident: $vdoc:literal),* $(,)? }) => {
        #[derive(poem_openapi::ApiResponse)]
        pub enum $name {
            /// Up to `limit` records, one JSON object per line, in stored order.
            #[oai(status = 200)]
            Ok(
                $crate::snapshots::Ndjson,
                /// Pass as `cursor` for the next page; absent after the last record.
                #[oai(header = "X-Next-Cursor")]
                Option<String>,
                /// `<…?limit=…&cursor=…>; rel="next"` while more records follow.
                #[oai(header = "Link")]
                Option<String>,
                /// How many records this page holds.
                #[oai(header = "X-Record-Count")]
                u64,
            ),
            $(
                #[doc = $vdoc]
                #[oai(status = $status)]
                $variant(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
            )*
            /// An internal error (a damaged part among them); quote the request id.
            #[oai(status = 500)]
            Internal(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
        }
        $crate::error_responses!($name { $($status => $variant),* });
    };
}
pub(crate) use records_response;

/// The answers of downloading a whole stream: the file with its `Content-Disposition`, the
/// errors listed, and `500`. Wrap it in [`WithZstd`] for both content types in the spec.
macro_rules! download_response {
    ($name:ident, { $($status:literal => $variant:ident: $vdoc:literal),* $(,)? }) => {
        #[derive(poem_openapi::ApiResponse)]
        pub enum $name {
            /// The whole stream, decrypted: `application/x-ndjson` for `format=jsonl`,
            /// `application/zstd` for `format=jsonl.zst`.
            #[oai(status = 200)]
            Ok(
                $crate::snapshots::StreamFile,
                /// `attachment; filename="{snapshot_id}-{stream}.jsonl"` (or `.jsonl.zst`).
                #[oai(header = "Content-Disposition")]
                String,
            ),
            $(
                #[doc = $vdoc]
                #[oai(status = $status)]
                $variant(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
            )*
            /// An internal error; quote the request id.
            #[oai(status = 500)]
            Internal(poem_openapi::payload::Json<$crate::error::ErrorEnvelope>),
        }
        $crate::error_responses!($name { $($status => $variant),* });
    };
}
pub(crate) use download_response;

records_response!(GetRecordsResponse, {
    400 => BadRequest: "`limit` or `cursor` is not acceptable (`invalid_request`, `details.field`).",
    404 => NotFound: "No such snapshot or stream (or not yours).",
    409 => Conflict: "The snapshot is not complete (`snapshot_not_complete`), or the account holds its own key (`key_not_held`).",
    503 => Unavailable: "The object store cannot be reached.",
});

download_response!(DownloadInner, {
    400 => BadRequest: "`format` is not `jsonl` or `jsonl.zst` (`invalid_request`, `details.field`).",
    404 => NotFound: "No such snapshot or stream (or not yours).",
    409 => Conflict: "The snapshot is not complete (`snapshot_not_complete`), or the account holds its own key (`key_not_held`).",
    503 => Unavailable: "The object store cannot be reached.",
});

/// The download's answer: [`DownloadInner`], with both content types of its 200 in the spec.
pub type DownloadStreamResponse = WithZstd<DownloadInner>;

#[derive(ApiResponse)]
pub enum GetFileResponse {
    /// The file's contents, decrypted (`application/octet-stream`).
    #[oai(status = 200)]
    Ok(
        poem_openapi::payload::Binary<poem::Body>,
        /// `attachment; filename="{sha256}"`.
        #[oai(header = "Content-Disposition")]
        String,
    ),
    /// `sha256` is not 64 lowercase hex digits (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot (or not yours), or the snapshot refers to no such file.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot is not complete (`snapshot_not_complete`), or the account holds its own
    /// key (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(GetFileResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// The snapshot `id` if the caller reaches its account (any role reads); 404 otherwise.
async fn find_snapshot(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<snapshot::Model, ApiError> {
    find_snapshot_as(state, caller, id, Role::Viewer).await
}

/// The snapshot `id` if the caller reaches its account with `role` or above: 404 when not
/// reached, 403 with a lower role.
pub(crate) async fn find_snapshot_as(
    state: &AppState,
    caller: &Caller,
    id: &str,
    role: Role,
) -> Result<snapshot::Model, ApiError> {
    let snap = snapshot::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|s| caller.reaches(&s.account_id))
        .ok_or_else(|| ApiError::not_found("snapshot", id))?;
    caller.require(&snap.account_id, role)?;
    Ok(snap)
}

/// A complete snapshot's streams with their totals, by name.
pub(crate) async fn stream_list(
    state: &AppState,
    snap: &snapshot::Model,
) -> Result<Vec<StreamView>, ApiError> {
    let manifest = complete_manifest(state, snap).await?;
    let mut streams: Vec<StreamView> = manifest.streams.iter().map(views::stream_view).collect();
    streams.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(streams)
}

/// One page of a stream's records, read from a snapshot the caller may read.
pub(crate) struct RecordsPage {
    pub body: Ndjson,
    /// The next page's cursor; absent after the last record.
    pub next: Option<String>,
    /// `Link: rel="next"` under `path` (the snapshots' path the request came by).
    pub link: Option<String>,
    pub records: u64,
}

/// Reads the page `(limit, cursor)` asks for of `stream` in `snap` (checked by the caller),
/// decrypted with the account's key or the identity sent as `key`.
pub(crate) async fn read_records(
    state: &AppState,
    snap: &snapshot::Model,
    key: Option<&str>,
    stream: &str,
    (limit, cursor): (Option<u64>, Option<&str>),
    path: &str,
) -> Result<RecordsPage, ApiError> {
    let manifest = complete_manifest(state, snap).await?;
    let entry = self::stream(&manifest, stream)?;
    let (limit, start) = records::parse_request(&snap.id, entry, limit, cursor)?;
    let identity = account_identity(state, &manifest, key).await?;
    let page = records::read_page(&state.store, &identity, entry, start, limit)
        .await
        .map_err(storage_error)?;
    let next = page
        .next
        .map(|at| records::encode_cursor(&snap.id, entry, at));
    let link = next.as_ref().map(|c| {
        format!(
            "<{path}/{}/streams/{}/records?limit={limit}&cursor={c}>; rel=\"next\"",
            snap.id, entry.name
        )
    });
    Ok(RecordsPage {
        body: Ndjson(page.body.into()),
        next,
        link,
        records: page.records,
    })
}

/// A whole stream of `snap` (checked by the caller) as a file to save, with its
/// `Content-Disposition`.
pub(crate) async fn stream_download(
    state: &AppState,
    snap: &snapshot::Model,
    key: Option<&str>,
    stream: &str,
    format: Option<DownloadFormat>,
) -> Result<(StreamFile, String), ApiError> {
    let manifest = complete_manifest(state, snap).await?;
    let entry = self::stream(&manifest, stream)?;
    let identity = account_identity(state, &manifest, key).await?;
    let (zstd, extension, content_type) = match format.unwrap_or_default() {
        DownloadFormat::Jsonl => (false, "jsonl", payload::NDJSON),
        DownloadFormat::JsonlZst => (true, "jsonl.zst", payload::ZSTD),
    };
    let objects = entry
        .parts
        .iter()
        .cloned()
        .map(|part| download::Object::Part(Box::new(part)))
        .collect();
    let body = download::body(state.store.clone(), identity, objects, zstd);
    let disposition = format!(
        "attachment; filename=\"{}-{}.{extension}\"",
        snap.id, entry.name
    );
    Ok((StreamFile { body, content_type }, disposition))
}

/// The manifest of a complete snapshot; 409 `snapshot_not_complete` for any other.
async fn complete_manifest(state: &AppState, snap: &snapshot::Model) -> Result<Manifest, ApiError> {
    let key = match (&snap.status, &snap.manifest_key) {
        (SnapshotStatus::Complete, Some(key)) => key,
        _ => {
            let status = views::status_name(snap.status);
            return Err(ApiError::conflict(
                "snapshot_not_complete",
                format!(
                    "snapshot {} is {status}: it has no manifest to read",
                    snap.id
                ),
            )
            .with_details(json!({"status": status})));
        }
    };
    reader::read_manifest(&state.store, key)
        .await
        .map_err(storage_error)
}

/// The stream `name` of `manifest`; 404 when the snapshot has no such stream.
fn stream<'m>(
    manifest: &'m Manifest,
    name: &str,
) -> Result<&'m storage::manifest::ManifestStream, ApiError> {
    manifest.stream(name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("snapshot {} has no stream `{name}`", manifest.snapshot_id),
        )
    })
}

/// The header an account that holds its own key sends its age identity in, to read its
/// snapshots through the API. The identity is used for this request only, in memory: never
/// stored, logged or passed on.
pub const IDENTITY_HEADER: &str = "X-Listbackup-Identity";

/// The key an account that holds its own key sent in [`IDENTITY_HEADER`] for work done outside
/// this request (an export, a verification): an age identity whose recipient is the account's.
pub(crate) fn sent_account_key(acct: &account::Model, text: &str) -> Result<AccountKey, ApiError> {
    let key = AccountKey::parse(text).map_err(|_| {
        ApiError::bad_param(
            IDENTITY_HEADER,
            format!("`{IDENTITY_HEADER}` must be an age identity (AGE-SECRET-KEY-1…)"),
        )
    })?;
    if key.recipient() != acct.encryption_recipient {
        return Err(ApiError::bad_param(
            IDENTITY_HEADER,
            format!(
                "the key sent in `{IDENTITY_HEADER}` is not the account's ({})",
                acct.encryption_recipient
            ),
        ));
    }
    Ok(key)
}

/// The identity to decrypt `manifest` with: the account's own, unsealed with the master key;
/// or, for an account that holds its own key, the one `provided` in [`IDENTITY_HEADER`]. Either
/// must be the key the snapshot is encrypted to.
async fn account_identity(
    state: &AppState,
    manifest: &Manifest,
    provided: Option<&str>,
) -> Result<age::x25519::Identity, ApiError> {
    let acct = account::Entity::find_by_id(&manifest.account_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("the snapshot's account is gone"))?;
    let key = match (acct.encryption_identity_sealed, provided) {
        (Some(sealed), _) => {
            AccountKey::open_with(&state.master, &sealed).map_err(ApiError::internal)?
        }
        (None, Some(text)) => AccountKey::parse(text).map_err(|_| {
            ApiError::bad_param(
                IDENTITY_HEADER,
                format!("`{IDENTITY_HEADER}` must be an age identity (AGE-SECRET-KEY-1…)"),
            )
        })?,
        (None, None) => {
            return Err(ApiError::conflict(
                "key_not_held",
                format!(
                    "this account holds its own key: send it in `{IDENTITY_HEADER}` (it is used for \
                     this request only), or download the parts from the object store and decrypt \
                     them with `age -d -i <your key>`"
                ),
            ));
        }
    };
    same_key(
        &manifest.snapshot_id,
        &manifest.encryption.recipient,
        key.identity(),
        provided.is_some(),
    )?;
    Ok(key.identity().clone())
}

/// Every snapshot read must be encrypted to `identity`. A chain can span an account's hand-over
/// of its key: with a key sent, a snapshot written before is `400` naming it (read it alone
/// with the key it was written to); with the service's key, a mismatch is an internal error.
pub(super) fn same_key(
    snapshot_id: &str,
    recipient: &str,
    identity: &age::x25519::Identity,
    sent: bool,
) -> Result<(), ApiError> {
    if identity.to_public().to_string() == recipient {
        return Ok(());
    }
    let message = format!(
        "snapshot {snapshot_id} is encrypted to {recipient}, not to {}",
        if sent {
            "the key sent in `X-Listbackup-Identity`"
        } else {
            "the account's key"
        }
    );
    Err(if sent {
        ApiError::bad_param(IDENTITY_HEADER, message)
    } else {
        ApiError::internal(message)
    })
}

/// An object-store failure: 503 when the store could not be reached, 500 for damaged or
/// missing objects (logged with their key).
fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::S3 { .. } | StorageError::Io(_) => {
            tracing::error!(error = %e, "object store unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the object store cannot be reached; try again",
            )
        }
        e => ApiError::internal(e),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub struct SnapshotsApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl SnapshotsApi {
    /// Lists a source's snapshots, newest first. Needs any role on the source's account.
    #[oai(
        path = "/v1/sources/:source_id/snapshots",
        method = "get",
        operation_id = "listSnapshots"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        source_id: Path<String>,
        /// Only snapshots with this status (e.g. `complete`).
        status: Query<Option<StatusFilter>>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListSnapshotsResponse {
        respond(async {
            let src = source::Entity::find_by_id(source_id.0.as_str())
                .one(&state.db)
                .await?
                .filter(|s| auth.0.reaches(&s.account_id))
                .ok_or_else(|| ApiError::not_found("source", &source_id))?;
            auth.0.require(&src.account_id, Role::Viewer)?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let mut select =
                snapshot::Entity::find().filter(snapshot::Column::SourceId.eq(&src.id));
            if let Some(status) = status.0 {
                select = select.filter(snapshot::Column::Status.eq(SnapshotStatus::from(status)));
            }
            let rows = page
                .apply_desc(select, snapshot::Column::Id)
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |s| s.id.clone()).map(views::view);
            Ok(ListSnapshotsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets a snapshot: its status, kind, totals and times.
    #[oai(
        path = "/v1/snapshots/:snapshot_id",
        method = "get",
        operation_id = "getSnapshot"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        snapshot_id: Path<String>,
    ) -> GetSnapshotResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            Ok(GetSnapshotResponse::Ok(Json(views::view(snap))))
        })
        .await
    }

    /// Gets a complete snapshot's manifest: every stream and part with its key, counts and
    /// sha256, and the key the parts are encrypted to.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/manifest",
        method = "get",
        operation_id = "getSnapshotManifest"
    )]
    async fn manifest(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        snapshot_id: Path<String>,
    ) -> GetManifestResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            let manifest = complete_manifest(&state, &snap).await?;
            Ok(GetManifestResponse::Ok(Json(Box::new(
                views::manifest_view(manifest),
            ))))
        })
        .await
    }

    /// Lists a complete snapshot's streams with their records, parts, bytes and files.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/streams",
        method = "get",
        operation_id = "listSnapshotStreams"
    )]
    async fn streams(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        snapshot_id: Path<String>,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListStreamsResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let streams = stream_list(&state, &snap).await?;
            let page = page.slice(streams, |s| s.name.clone()).map(|s| s);
            Ok(ListStreamsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Reads a stream's records as NDJSON (`application/x-ndjson`), `limit` at a time, in
    /// stored order. The next page's cursor is in `X-Next-Cursor` (and a `Link: rel="next"`);
    /// it is absent after the last record. Only the parts a page spans are read.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/streams/:stream/records",
        method = "get",
        operation_id = "getStreamRecords"
    )]
    // One argument per request parameter: the operation has that many.
    #[allow(clippy::too_many_arguments)]
    async fn records(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// Records per page, 1 to 1000 (default 100).
        limit: Query<Option<u64>>,
        /// `X-Next-Cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> GetRecordsResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            let page = read_records(
                &state,
                &snap,
                key.0.as_deref(),
                &stream,
                (limit.0, cursor.0.as_deref()),
                "/v1/snapshots",
            )
            .await?;
            Ok(GetRecordsResponse::Ok(
                page.body,
                page.next,
                page.link,
                page.records,
            ))
        })
        .await
    }

    /// Downloads a whole stream, decrypted, as one `.jsonl` file (or `.jsonl.zst` with
    /// `format=jsonl.zst`). It is streamed part by part: memory stays bounded whatever the
    /// stream's size, and every part is checked against its sha256 before it is sent.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/streams/:stream/download",
        method = "get",
        operation_id = "downloadStream"
    )]
    async fn download(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// `jsonl` (default) or `jsonl.zst`.
        format: Query<Option<DownloadFormat>>,
    ) -> DownloadStreamResponse {
        WithZstd(
            respond(async {
                let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
                let (file, disposition) =
                    stream_download(&state, &snap, key.0.as_deref(), &stream, format.0).await?;
                Ok(DownloadInner::Ok(file, disposition))
            })
            .await,
        )
    }

    /// Downloads a file a complete snapshot refers to (Drive, Dropbox, Slack files), decrypted.
    /// `sha256` is the hex digest of its contents, as the records and the manifest name it.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/files/:sha256",
        method = "get",
        operation_id = "getSnapshotFile"
    )]
    async fn file(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        sha256: Path<String>,
    ) -> GetFileResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            if !is_sha256_hex(&sha256) {
                return Err(ApiError::bad_param(
                    "sha256",
                    "`sha256` must be 64 lowercase hex digits",
                ));
            }
            let manifest = complete_manifest(&state, &snap).await?;
            let referenced = manifest
                .parts()
                .any(|(_, part)| part.blobs.contains(&sha256.0));
            let missing = || {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("snapshot {} refers to no file {}", snap.id, sha256.0),
                )
            };
            if !referenced {
                return Err(missing());
            }
            let row = blob::Entity::find_by_id((snap.account_id.clone(), sha256.0.clone()))
                .one(&state.db)
                .await?
                .ok_or_else(missing)?;
            let identity = account_identity(&state, &manifest, key.0.as_deref()).await?;
            let object = download::Object::Blob {
                key: row.key,
                stored_bytes: row.stored_bytes.max(0) as u64,
                stored_sha256: row.stored_sha256,
            };
            let body = download::body(state.store.clone(), identity, vec![object], false);
            Ok(GetFileResponse::Ok(
                poem_openapi::payload::Binary(body),
                format!("attachment; filename=\"{}\"", sha256.0),
            ))
        })
        .await
    }
}
