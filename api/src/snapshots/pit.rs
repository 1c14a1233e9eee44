//! Point-in-time reads: one record as it was at a snapshot, its versions across a source's
//! snapshots, a stream's whole state at a snapshot, and the differences between two snapshots.
//!
//! A sync stores only changes, so each of these follows the snapshot's chain back to the
//! snapshot that read the stream in full (`storage::pit`) and works on the parts' record
//! indexes; records themselves are read only from the parts that hold the versions answered.
//! Access is as for every snapshot read: any role on the account, 404 for another tenant's,
//! `409 snapshot_not_complete` and `409 key_not_held` as for records and downloads; an account
//! that holds its own key sends it in `X-Listbackup-Identity`, and every snapshot read must be
//! encrypted to it.

use super::{
    DownloadFormat, Ndjson, StreamFile, WithZstd, account_identity, complete_manifest,
    find_snapshot, payload, pit_body, same_key, storage_error, stream,
};
use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    state::AppState,
};
use age::x25519::Identity;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entities::{Role, SnapshotStatus, snapshot, source};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use storage::{
    manifest::{Manifest, ManifestStream},
    pit::{self, Level},
};

/// Versions per page when `limit` is not given.
const VERSIONS_DEFAULT_LIMIT: u64 = 20;
/// The largest `limit` for versions: each version's record is read from its part.
const VERSIONS_MAX_LIMIT: u64 = 100;

/// The record itself, as the platform returned it (`application/json`).
pub struct RecordJson(pub Vec<u8>);

impl poem_openapi::payload::Payload for RecordJson {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(
            poem_openapi::registry::MetaSchema::new("object"),
        ))
    }
}

impl poem::IntoResponse for RecordJson {
    fn into_response(self) -> poem::Response {
        poem::Response::builder()
            .content_type("application/json")
            .body(self.0)
    }
}

#[derive(ApiResponse)]
pub enum GetRecordResponse {
    /// The record as it was at the snapshot.
    #[oai(status = 200)]
    Ok(
        RecordJson,
        /// The snapshot of the chain that stored this version of the record.
        #[oai(header = "X-Version-Snapshot-Id")]
        String,
    ),
    /// The key sent in `X-Listbackup-Identity` is not an age identity, or a snapshot of the
    /// chain is not encrypted to it (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot or stream (or not yours), or the record did not exist at that time or
    /// had been deleted (`record_not_found`).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot is not complete (`snapshot_not_complete`), or the account holds its own
    /// key and did not send it (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error (a damaged part or index among them); quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(GetRecordResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// How a record changed in a snapshot.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "RecordChange", rename_all = "lowercase")]
pub enum RecordChange {
    Added,
    Changed,
    Deleted,
}

/// A version of a record: a snapshot in which it was added, changed or deleted.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordVersion {
    pub snapshot_id: String,
    pub change: RecordChange,
    /// When the snapshot was completed.
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The record as stored in this snapshot; absent for a deletion.
    pub record: Option<Value>,
}

/// A page of a record's versions, oldest first.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordVersions {
    pub items: Vec<RecordVersion>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum ListVersionsResponse {
    /// The record's versions, oldest first (empty if no snapshot of the source holds it).
    #[oai(status = 200)]
    Ok(Json<RecordVersions>),
    /// `limit` or `cursor` is not acceptable, or the key sent in `X-Listbackup-Identity` is
    /// not an age identity or a snapshot read is not encrypted to it (`invalid_request`,
    /// `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such source or stream (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The account holds its own key and did not send it (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(ListVersionsResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

#[derive(ApiResponse)]
pub enum StateInner {
    /// Every record of the stream as it was at the snapshot, one per line:
    /// `application/x-ndjson`, or `application/zstd` for `format=jsonl.zst`.
    #[oai(status = 200)]
    Ok(
        StreamFile,
        /// `attachment; filename="{snapshot_id}-{stream}-state.jsonl"` (or `.jsonl.zst`).
        #[oai(header = "Content-Disposition")]
        String,
        /// How many records the state holds.
        #[oai(header = "X-Record-Count")]
        u64,
    ),
    /// `format` is not `jsonl` or `jsonl.zst`, or the key sent in `X-Listbackup-Identity` is
    /// not an age identity or a snapshot of the chain is not encrypted to it
    /// (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot or stream (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The snapshot is not complete (`snapshot_not_complete`), or the account holds its own
    /// key and did not send it (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(StateInner { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// The state's answer: [`StateInner`], with both content types of its 200 in the spec.
pub type StateResponse = WithZstd<StateInner>;

#[derive(ApiResponse)]
pub enum DiffResponse {
    /// One line per difference, `{"stream", "id", "change"}` with `change` one of `added`,
    /// `changed`, `removed`, by stream then id (`application/x-ndjson`).
    #[oai(status = 200)]
    Ok(Ndjson),
    /// `against` is missing, or names a snapshot of another source (`invalid_request`,
    /// `details.field: "against"`); or the key sent in `X-Listbackup-Identity` is not an age
    /// identity or a snapshot read is not encrypted to it (`details.field` names the header).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such snapshot or stream (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A snapshot is not complete (`snapshot_not_complete`), or the account holds its own key
    /// and did not send it (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The object store cannot be reached.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(DiffResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// Whether `stream` of `manifest` holds every record: as recorded, or for older manifests,
/// from the snapshot's kind and the platform's stream capabilities.
fn read_in_full(manifest: &Manifest, stream: &ManifestStream) -> bool {
    let incremental = connectors::platform(&manifest.platform)
        .and_then(|p| p.stream(&stream.name))
        .is_some_and(|s| s.incremental);
    pit::read_in_full(manifest, stream, incremental)
}

/// The chain behind `manifest` for `stream`.
pub(super) async fn chain(
    state: &AppState,
    manifest: &Manifest,
    stream: &str,
) -> Result<Vec<Level>, ApiError> {
    pit::chain(&state.store, manifest, stream, read_in_full)
        .await
        .map_err(storage_error)
}

fn record_not_found(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "record_not_found",
        format!("no record `{id}` at this point in time"),
    )
}

/// A record's stored line as JSON.
fn parse_record(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(ApiError::internal)
}

/// The state of the record after a snapshot, as the versions cursor carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Absent,
    Present(String),
}

fn encode_versions_cursor(snapshot_id: &str, seen: &Seen) -> String {
    let state = match seen {
        Seen::Absent => "-",
        Seen::Present(hash) => hash,
    };
    URL_SAFE_NO_PAD.encode(format!("{snapshot_id}/{state}"))
}

fn decode_versions_cursor(cursor: &str) -> Option<(String, Seen)> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (snapshot_id, state) = text.split_once('/')?;
    let seen = match state {
        "-" => Seen::Absent,
        hash if hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Seen::Present(hash.to_owned())
        }
        _ => return None,
    };
    (!snapshot_id.is_empty()).then(|| (snapshot_id.to_owned(), seen))
}

/// The account's identity, or for an account that holds its own key the one `sent` in
/// `X-Listbackup-Identity` (used for this request only); `409 key_not_held` when such an
/// account sent none.
async fn identity_of(
    state: &AppState,
    manifest: &Manifest,
    sent: Option<&str>,
) -> Result<Identity, ApiError> {
    account_identity(state, manifest, sent).await
}

/// [`same_key`] for every level of a chain.
fn same_key_levels(levels: &[Level], identity: &Identity, sent: bool) -> Result<(), ApiError> {
    levels
        .iter()
        .try_for_each(|l| same_key(&l.snapshot_id, &l.recipient, identity, sent))
}

pub struct PointInTimeApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl PointInTimeApi {
    /// Gets one record, by its platform id, as it was at a complete snapshot: the newest
    /// version along the snapshot's chain back to the last snapshot that read the stream in
    /// full. Only the parts' indexes and the one part that holds the version are read. A
    /// record absent at that time, or deleted by then, is `404 record_not_found`.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/streams/:stream/records/:record_id",
        method = "get",
        operation_id = "getSnapshotRecord"
    )]
    async fn record(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only. Every snapshot read must be encrypted to it.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// The record's platform id (URL-encoded: ids may contain `/`).
        record_id: Path<String>,
    ) -> GetRecordResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            let manifest = complete_manifest(&state, &snap).await?;
            self::stream(&manifest, &stream)?;
            let identity = identity_of(&state, &manifest, key.0.as_deref()).await?;
            let levels = chain(&state, &manifest, &stream).await?;
            same_key_levels(&levels, &identity, key.0.is_some())?;
            let version = pit::find(&state.store, &identity, &levels, &record_id)
                .await
                .map_err(storage_error)?
                .filter(|v| !v.entry.deleted)
                .ok_or_else(|| record_not_found(&record_id))?;
            let level = &levels[version.level];
            let part = &level.stream.parts[version.part];
            let line = pit::read_record(&state.store, &identity, part, &version.entry)
                .await
                .map_err(storage_error)?;
            Ok(GetRecordResponse::Ok(
                RecordJson(line),
                level.snapshot_id.clone(),
            ))
        })
        .await
    }

    /// Lists the versions of a record across a source's complete snapshots, oldest first:
    /// each snapshot in which it was added, changed (its stored JSON differs) or deleted (a
    /// tombstone, or missing from a snapshot that read the stream in full), with the record
    /// as stored then. `limit` is 1 to 100 (default 20).
    #[oai(
        path = "/v1/sources/:source_id/streams/:stream/records/:record_id/versions",
        method = "get",
        operation_id = "listRecordVersions"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "the path's three ids and paging are separate parameters"
    )]
    async fn versions(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only. Every snapshot read must be encrypted to it.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        source_id: Path<String>,
        stream: Path<String>,
        /// The record's platform id (URL-encoded: ids may contain `/`).
        record_id: Path<String>,
        /// Versions per page, 1 to 100 (default 20).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListVersionsResponse {
        respond(async {
            let src = source::Entity::find_by_id(source_id.0.as_str())
                .one(&state.db)
                .await?
                .filter(|s| auth.0.reaches(&s.account_id))
                .ok_or_else(|| ApiError::not_found("source", &source_id))?;
            auth.0.require(&src.account_id, Role::Viewer)?;
            if connectors::platform(&src.platform)
                .and_then(|p| p.stream(&stream))
                .is_none()
            {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    format!("{} has no stream `{}`", src.platform, stream.0),
                ));
            }
            let limit = limit.0.unwrap_or(VERSIONS_DEFAULT_LIMIT);
            if !(1..=VERSIONS_MAX_LIMIT).contains(&limit) {
                return Err(ApiError::bad_param(
                    "limit",
                    format!("`limit` must be between 1 and {VERSIONS_MAX_LIMIT}"),
                ));
            }
            let after = match cursor.0.as_deref().filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(decode_versions_cursor(c).ok_or_else(|| {
                    ApiError::bad_param("cursor", "`cursor` is not one this API returned")
                })?),
            };
            let mut select = snapshot::Entity::find()
                .filter(snapshot::Column::SourceId.eq(&src.id))
                .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete));
            if let Some((after, _)) = &after {
                select = select.filter(snapshot::Column::Id.gt(after.as_str()));
            }
            let snapshots = select
                .order_by_asc(snapshot::Column::Id)
                .all(&state.db)
                .await?;
            let mut seen = after.map_or(Seen::Absent, |(_, seen)| seen);
            let mut identity = None;
            let mut items = Vec::new();
            let mut next_cursor = None;
            for snap in snapshots {
                let manifest = complete_manifest(&state, &snap).await?;
                let Some(entry) = manifest.stream(&stream) else {
                    continue;
                };
                if identity.is_none() {
                    identity = Some(identity_of(&state, &manifest, key.0.as_deref()).await?);
                }
                let identity = identity.as_ref().expect("just set");
                let level = [Level {
                    snapshot_id: snap.id.clone(),
                    stream: entry.clone(),
                    recipient: manifest.encryption.recipient.clone(),
                }];
                same_key_levels(&level, identity, key.0.is_some())?;
                let found = pit::find(&state.store, identity, &level, &record_id)
                    .await
                    .map_err(storage_error)?;
                let (now, change) = match (&found, &seen) {
                    (Some(v), _) if v.entry.deleted => (Seen::Absent, RecordChange::Deleted),
                    (Some(v), Seen::Absent) => {
                        (Seen::Present(v.entry.hash.clone()), RecordChange::Added)
                    }
                    (Some(v), Seen::Present(_)) => {
                        (Seen::Present(v.entry.hash.clone()), RecordChange::Changed)
                    }
                    (None, _) if read_in_full(&manifest, entry) => {
                        (Seen::Absent, RecordChange::Deleted)
                    }
                    (None, _) => continue,
                };
                if now == seen {
                    continue;
                }
                if items.len() as u64 == limit {
                    // Another version follows: the next page starts after the last one, from
                    // the record's state then.
                    let last: &RecordVersion = items.last().expect("limit is at least 1");
                    next_cursor = Some(encode_versions_cursor(&last.snapshot_id, &seen));
                    break;
                }
                let record = match &found {
                    Some(v) if !v.entry.deleted => {
                        let part = &entry.parts[v.part];
                        let line = pit::read_record(&state.store, identity, part, &v.entry)
                            .await
                            .map_err(storage_error)?;
                        Some(parse_record(&line)?)
                    }
                    _ => None,
                };
                items.push(RecordVersion {
                    snapshot_id: snap.id.clone(),
                    change,
                    completed_at: snap.completed_at,
                    record,
                });
                seen = now;
            }
            Ok(ListVersionsResponse::Ok(Json(RecordVersions {
                items,
                next_cursor,
            })))
        })
        .await
    }

    /// Gets the state of a stream at a complete snapshot: every record it held then, each in
    /// its newest version along the snapshot's chain, records deleted by then left out. The
    /// answer is streamed (memory stays bounded whatever the stream's size), in stored order
    /// (oldest snapshot of the chain first), as `.jsonl` or, with `format=jsonl.zst`, one zstd
    /// frame. `X-Record-Count` says how many records follow.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/streams/:stream/state",
        method = "get",
        operation_id = "getStreamState"
    )]
    async fn stream_state(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only. Every snapshot read must be encrypted to it.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        stream: Path<String>,
        /// `jsonl` (default) or `jsonl.zst`.
        format: Query<Option<DownloadFormat>>,
    ) -> StateResponse {
        WithZstd(
            respond(async {
                let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
                let manifest = complete_manifest(&state, &snap).await?;
                let entry = self::stream(&manifest, &stream)?;
                let identity = identity_of(&state, &manifest, key.0.as_deref()).await?;
                let (zstd, extension, content_type) = match format.0.unwrap_or_default() {
                    DownloadFormat::Jsonl => (false, "jsonl", payload::NDJSON),
                    DownloadFormat::JsonlZst => (true, "jsonl.zst", payload::ZSTD),
                };
                let levels = chain(&state, &manifest, &entry.name).await?;
                same_key_levels(&levels, &identity, key.0.is_some())?;
                let live = pit_body::live_lines(&state.store, &identity, &levels)
                    .await
                    .map_err(storage_error)?;
                let records = live.records();
                let body = pit_body::state(state.store.clone(), identity, levels, live, zstd);
                let disposition = format!(
                    "attachment; filename=\"{}-{}-state.{extension}\"",
                    snap.id, entry.name
                );
                Ok(StateInner::Ok(
                    StreamFile { body, content_type },
                    disposition,
                    records,
                ))
            })
            .await,
        )
    }

    /// Compares the state of a source at two complete snapshots: the records added, changed
    /// (stored JSON differs) and removed from `against` to this snapshot, streamed as NDJSON,
    /// by stream then id. `stream` limits it to one stream; otherwise every stream either
    /// snapshot holds is compared.
    #[oai(
        path = "/v1/snapshots/:snapshot_id/diff",
        method = "get",
        operation_id = "diffSnapshots"
    )]
    async fn diff(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request
        /// only. Every snapshot read must be encrypted to it.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        snapshot_id: Path<String>,
        /// The snapshot to compare with (usually an older one of the same source).
        against: Query<Option<String>>,
        /// Only this stream.
        stream: Query<Option<String>>,
    ) -> DiffResponse {
        respond(async {
            let snap = find_snapshot(&state, &auth.0, &snapshot_id).await?;
            let against = against
                .0
                .filter(|a| !a.is_empty())
                .ok_or_else(|| ApiError::bad_param("against", "`against` is required"))?;
            let older = find_snapshot(&state, &auth.0, &against).await?;
            if older.source_id != snap.source_id {
                return Err(ApiError::bad_param(
                    "against",
                    "`against` is a snapshot of another source",
                )
                .with_details(json!({"field": "against", "source_id": older.source_id})));
            }
            let newer = complete_manifest(&state, &snap).await?;
            let older = complete_manifest(&state, &older).await?;
            let names: Vec<String> = match stream.0 {
                Some(name) => {
                    if newer.stream(&name).is_none() && older.stream(&name).is_none() {
                        return Err(ApiError::new(
                            StatusCode::NOT_FOUND,
                            "not_found",
                            format!("neither snapshot has a stream `{name}`"),
                        ));
                    }
                    vec![name]
                }
                None => {
                    let mut names: Vec<String> = (newer.streams.iter())
                        .chain(&older.streams)
                        .map(|s| s.name.clone())
                        .collect();
                    names.sort();
                    names.dedup();
                    names
                }
            };
            let identity = identity_of(&state, &newer, key.0.as_deref()).await?;
            let sent = key.0.is_some();
            same_key(
                &older.snapshot_id,
                &older.encryption.recipient,
                &identity,
                sent,
            )?;
            let mut pairs = Vec::with_capacity(names.len());
            for name in names {
                let new_chain = chain(&state, &newer, &name).await?;
                let old_chain = chain(&state, &older, &name).await?;
                same_key_levels(&new_chain, &identity, sent)?;
                same_key_levels(&old_chain, &identity, sent)?;
                pairs.push((name, new_chain, old_chain));
            }
            let body = pit_body::diff(state.store.clone(), identity, pairs);
            Ok(DiffResponse::Ok(Ndjson(body)))
        })
        .await
    }
}
