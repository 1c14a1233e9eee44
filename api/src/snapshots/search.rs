//! Search across a source's backups: find records by text or by a field's value in its latest
//! complete snapshots, newest first, answering snapshot, stream and record id (with the record).
//!
//! Bounded on every side: at most 20 snapshots (default 5), at most 100 results a page, and at
//! most [`SCAN_BUDGET`] bytes of records read per request. A page that stops early — full, or out
//! of budget — has a `next_cursor` to go on from exactly where it stopped (snapshot, stream,
//! part, line). Parts are fetched, checked against their sha256 and decrypted one at a time, off
//! the async threads; memory stays one part and one page.

use super::{account_identity, complete_manifest, storage_error};
use crate::{
    ApiTags,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    state::AppState,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use entities::{SnapshotStatus, snapshot, source};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use storage::reader;

/// Raw record bytes one request reads at most.
pub const SCAN_BUDGET: u64 = 256 * 1024 * 1024;
const MAX_SNAPSHOTS: u64 = 20;
const DEFAULT_SNAPSHOTS: u64 = 5;
const MAX_LIMIT: u64 = 100;
const DEFAULT_LIMIT: u64 = 20;

/// A record found.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct SearchHit {
    pub snapshot_id: String,
    pub snapshot_created_at: DateTime<Utc>,
    pub stream: String,
    /// The record's platform id (its top-level `id`), when it has one.
    pub record_id: Option<String>,
    pub record: Value,
}

/// A page of results.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct SearchResults {
    pub items: Vec<SearchHit>,
    /// Pass as `cursor` to go on; absent when every snapshot searched was read to its end.
    pub next_cursor: Option<String>,
    /// Snapshots the search covers, newest first.
    pub snapshots: Vec<String>,
    /// Records read by this request.
    pub scanned_records: u64,
}

#[derive(ApiResponse)]
pub enum SearchResponse {
    /// Records found, newest snapshot first, in stored order within it.
    #[oai(status = 200)]
    Ok(Json<SearchResults>),
    /// No query, both or neither of `q` and `field`, a bad `limit`, `snapshots` or `cursor`, or
    /// a malformed `X-Listbackup-Identity` (`invalid_request`, `details.field`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// No such source (or not yours).
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
error_responses!(SearchResponse { 400 => BadRequest, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// What a record must match.
#[derive(Debug, Clone)]
enum Query_ {
    /// Case-insensitive text anywhere in the record's JSON.
    Text(String),
    /// A field (dotted path) equal to a value; strings compared without case.
    Field { path: Vec<String>, value: String },
}

impl Query_ {
    fn matches(&self, line: &[u8]) -> Option<Value> {
        match self {
            Self::Text(needle) => {
                let text = std::str::from_utf8(line).ok()?;
                // JSON escapes non-ASCII and quotes; compare against the decoded record too.
                if text.to_lowercase().contains(needle.as_str()) {
                    return serde_json::from_slice(line).ok();
                }
                let record: Value = serde_json::from_slice(line).ok()?;
                contains_text(&record, needle).then_some(record)
            }
            Self::Field { path, value } => {
                let record: Value = serde_json::from_slice(line).ok()?;
                let mut at = &record;
                for key in path {
                    at = at.get(key)?;
                }
                let equal = match at {
                    Value::String(s) => s.to_lowercase() == *value,
                    Value::Number(n) => n.to_string() == *value,
                    Value::Bool(b) => b.to_string() == *value,
                    _ => false,
                };
                equal.then_some(record)
            }
        }
    }
}

fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Array(a) => a.iter().any(|x| contains_text(x, needle)),
        Value::Object(o) => o
            .iter()
            .any(|(k, x)| k.to_lowercase().contains(needle) || contains_text(x, needle)),
        Value::Number(n) => n.to_string().contains(needle),
        _ => false,
    }
}

/// Where a search goes on: a snapshot, a stream in it, a part (its number) and a line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resume {
    snapshot_id: String,
    stream: String,
    part_no: u32,
    line: u64,
}

fn encode(r: &Resume) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}\n{}\n{}\n{}",
        r.snapshot_id, r.stream, r.part_no, r.line
    ))
}

fn decode(cursor: &str) -> Option<Resume> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let mut f = text.split('\n');
    let r = Resume {
        snapshot_id: f.next()?.to_owned(),
        stream: f.next()?.to_owned(),
        part_no: f.next()?.parse().ok()?,
        line: f.next()?.parse().ok()?,
    };
    f.next().is_none().then_some(r)
}

fn parse_query(
    q: Option<String>,
    field: Option<String>,
    value: Option<String>,
) -> Result<Query_, ApiError> {
    match (
        q.filter(|s| !s.trim().is_empty()),
        field.filter(|s| !s.trim().is_empty()),
    ) {
        (Some(q), None) => {
            let q = q.trim().to_lowercase();
            if !(2..=200).contains(&q.chars().count()) {
                return Err(ApiError::bad_param("q", "`q` must be 2 to 200 characters"));
            }
            Ok(Query_::Text(q))
        }
        (None, Some(field)) => {
            let value = value.ok_or_else(|| {
                ApiError::bad_param("value", "`field` needs a `value` to compare with")
            })?;
            let path: Vec<String> = field.trim().split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) || field.len() > 200 || value.len() > 1000 {
                return Err(ApiError::bad_param(
                    "field",
                    "`field` must be a field name or a dotted path (`address.city`), `value` at most 1000 characters",
                ));
            }
            Ok(Query_::Field {
                path,
                value: value.to_lowercase(),
            })
        }
        (Some(_), Some(_)) => Err(ApiError::bad_param(
            "q",
            "give either `q` (text) or `field` and `value`, not both",
        )),
        (None, None) => Err(ApiError::bad_param(
            "q",
            "give `q` (text to find) or `field` and `value`",
        )),
    }
}

/// The position of stream `name` in the manifest (streams are read in manifest order).
fn stream_index(manifest: &storage::manifest::Manifest, name: &str) -> usize {
    manifest
        .streams
        .iter()
        .position(|s| s.name == name)
        .unwrap_or(usize::MAX)
}

fn bounded(field: &str, v: Option<u64>, default: u64, max: u64) -> Result<u64, ApiError> {
    let v = v.unwrap_or(default);
    if !(1..=max).contains(&v) {
        return Err(ApiError::bad_param(
            field,
            format!("`{field}` must be 1 to {max}"),
        ));
    }
    Ok(v)
}

pub struct SearchApi;

#[OpenApi(tag = "ApiTags::Snapshots")]
impl SearchApi {
    /// Searches the source's latest complete snapshots for records: by text (`q`, anywhere in
    /// the record, without case) or by a field's value (`field` — a name or dotted path — and
    /// `value`). Answers each record found with its snapshot, stream and id, newest snapshot
    /// first. Bounded: `snapshots` (1–20, default 5), `limit` results (1–100, default 20), and
    /// 256 MiB of records read per request; `next_cursor` goes on where a page stopped.
    #[oai(
        path = "/v1/sources/:source_id/search",
        method = "get",
        operation_id = "searchSource"
    )]
    // One argument per request parameter: the operation has that many.
    #[allow(clippy::too_many_arguments)]
    async fn search(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// For an account that holds its own key: its age identity, used for this request only.
        #[oai(name = "X-Listbackup-Identity")]
        key: Header<Option<String>>,
        source_id: Path<String>,
        /// Text to find anywhere in a record (2 to 200 characters, any case).
        q: Query<Option<String>>,
        /// A field name or dotted path, with `value`.
        field: Query<Option<String>>,
        /// The value `field` must have (strings compared without case).
        value: Query<Option<String>>,
        /// Only this stream.
        stream: Query<Option<String>>,
        /// How many of the latest complete snapshots to search, 1 to 20 (default 5).
        snapshots: Query<Option<u64>>,
        /// Results per page, 1 to 100 (default 20).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> SearchResponse {
        respond(async {
            let query = parse_query(q.0, field.0, value.0)?;
            let snapshot_count =
                bounded("snapshots", snapshots.0, DEFAULT_SNAPSHOTS, MAX_SNAPSHOTS)?;
            let limit = bounded("limit", limit.0, DEFAULT_LIMIT, MAX_LIMIT)?;
            let resume = match cursor.0.as_deref().filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(decode(c).ok_or_else(|| {
                    ApiError::bad_param("cursor", "`cursor` is not one this API returned")
                })?),
            };
            let src = source::Entity::find_by_id(source_id.as_str())
                .one(&state.db)
                .await?
                .filter(|s| auth.0.reaches(&s.account_id))
                .ok_or_else(|| ApiError::not_found("source", &source_id))?;
            let snaps = snapshot::Entity::find()
                .filter(snapshot::Column::SourceId.eq(src.id.as_str()))
                .filter(snapshot::Column::Status.eq(SnapshotStatus::Complete))
                .order_by_desc(snapshot::Column::CreatedAt)
                .order_by_desc(snapshot::Column::Id)
                .limit(snapshot_count)
                .all(&state.db)
                .await?;
            let start = match &resume {
                None => 0,
                Some(r) => snaps
                    .iter()
                    .position(|s| s.id == r.snapshot_id)
                    .ok_or_else(|| {
                        ApiError::bad_param(
                            "cursor",
                            "`cursor` names a snapshot no longer searched",
                        )
                    })?,
            };
            let mut results = SearchResults {
                items: Vec::new(),
                next_cursor: None,
                snapshots: snaps.iter().map(|s| s.id.clone()).collect(),
                scanned_records: 0,
            };
            let mut budget = SCAN_BUDGET;
            let mut parts_read = 0u32;
            let mut identity = None;
            'snapshots: for snap in &snaps[start..] {
                let manifest = complete_manifest(&state, snap).await?;
                if identity.is_none() {
                    identity = Some(account_identity(&state, &manifest, key.0.as_deref()).await?);
                }
                let Some(identity) = identity.clone() else {
                    break;
                };
                for entry in &manifest.streams {
                    if stream.0.as_deref().is_some_and(|s| s != entry.name) {
                        continue;
                    }
                    for part in &entry.parts {
                        // Skip what a cursor says was read already.
                        let from = match resume.as_ref().filter(|r| r.snapshot_id == snap.id) {
                            None => 0,
                            Some(r) => {
                                let here = (stream_index(&manifest, &entry.name), part.part_no);
                                let there = (stream_index(&manifest, &r.stream), r.part_no);
                                match here.cmp(&there) {
                                    std::cmp::Ordering::Less => continue,
                                    std::cmp::Ordering::Equal => r.line,
                                    std::cmp::Ordering::Greater => 0,
                                }
                            }
                        };
                        if from >= part.records {
                            continue;
                        }
                        // Out of budget — but every request reads at least one part, so a part
                        // larger than the budget cannot stall a search.
                        let out_of_budget = budget < part.raw_bytes && parts_read > 0;
                        if out_of_budget || results.items.len() as u64 >= limit {
                            results.next_cursor = Some(encode(&Resume {
                                snapshot_id: snap.id.clone(),
                                stream: entry.name.clone(),
                                part_no: part.part_no,
                                line: from,
                            }));
                            break 'snapshots;
                        }
                        budget = budget.saturating_sub(part.raw_bytes);
                        parts_read += 1;
                        let body = reader::fetch_part(&state.store, part)
                            .await
                            .map_err(storage_error)?;
                        let (query, identity, entry_part) =
                            (query.clone(), identity.clone(), part.clone());
                        let wanted = limit - results.items.len() as u64;
                        let (found, read, stopped_at) = tokio::task::spawn_blocking(move || {
                            let mut lines = reader::part_lines(&identity, &entry_part, body)?;
                            lines.skip(from)?;
                            let mut found = Vec::new();
                            let mut line = Vec::new();
                            let mut at = from;
                            let mut stopped_at = None;
                            loop {
                                line.clear();
                                if !lines.next_into(&mut line)? {
                                    break;
                                }
                                at += 1;
                                let text = line.strip_suffix(b"\n").unwrap_or(&line);
                                if let Some(record) = query.matches(text) {
                                    found.push(record);
                                    if found.len() as u64 >= wanted {
                                        stopped_at = Some(at);
                                        break;
                                    }
                                }
                            }
                            Ok::<_, storage::StorageError>((found, at - from, stopped_at))
                        })
                        .await
                        .map_err(ApiError::internal)?
                        .map_err(storage_error)?;
                        results.scanned_records += read;
                        for record in found {
                            results.items.push(SearchHit {
                                snapshot_id: snap.id.clone(),
                                snapshot_created_at: snap.created_at,
                                stream: entry.name.clone(),
                                record_id: match record.get("id") {
                                    Some(Value::String(s)) => Some(s.clone()),
                                    Some(Value::Number(n)) => Some(n.to_string()),
                                    _ => None,
                                },
                                record,
                            });
                        }
                        if let Some(line) = stopped_at {
                            // The page is full inside this part: go on after the last hit.
                            if line < part.records {
                                results.next_cursor = Some(encode(&Resume {
                                    snapshot_id: snap.id.clone(),
                                    stream: entry.name.clone(),
                                    part_no: part.part_no,
                                    line,
                                }));
                                break 'snapshots;
                            }
                        }
                    }
                }
            }
            Ok(SearchResponse::Ok(Json(results)))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_field_queries_match_as_documented() {
        let line = br#"{"id":"cus_1","email":"Ada@Example.com","address":{"city":"M\u00fcnchen"},"n":42,"paid":true}"#;
        let q = |s: &str| parse_query(Some(s.into()), None, None).unwrap();
        let f = |p: &str, v: &str| parse_query(None, Some(p.into()), Some(v.into())).unwrap();
        assert!(q("ada@example").matches(line).is_some());
        assert!(
            q("münchen").matches(line).is_some(),
            "escaped text is found decoded"
        );
        assert!(q("nobody").matches(line).is_none());
        assert!(f("email", "ADA@EXAMPLE.COM").matches(line).is_some());
        assert!(f("address.city", "münchen").matches(line).is_some());
        assert!(f("n", "42").matches(line).is_some());
        assert!(f("paid", "true").matches(line).is_some());
        assert!(
            f("email", "ada").matches(line).is_none(),
            "a field's value is whole"
        );
        assert!(f("missing", "x").matches(line).is_none());
        assert!(parse_query(None, None, None).is_err());
        assert!(parse_query(Some("a".into()), None, None).is_err());
        assert!(parse_query(Some("ab".into()), Some("f".into()), Some("v".into())).is_err());
        assert!(parse_query(None, Some("a..b".into()), Some("v".into())).is_err());
        let r = Resume {
            snapshot_id: "s".into(),
            stream: "customers".into(),
            part_no: 3,
            line: 17,
        };
        assert_eq!(decode(&encode(&r)), Some(r));
        assert_eq!(decode("not a cursor"), None);
    }
}
