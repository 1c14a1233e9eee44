//! The platform catalog: what can be backed up, how it authenticates, and what each stream supports.

use crate::ApiTags;
use poem_openapi::{Object, OpenApi, payload::Json};

/// One stream of a platform.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct StreamView {
    pub name: String,
    /// A sync can fetch only what changed since the previous snapshot.
    pub incremental: bool,
    /// Records reference file contents (stored once per content hash).
    pub files: bool,
    /// A sync reports records deleted on the platform (as tombstone records).
    pub deletes: bool,
}

/// A platform ListBackup can back up.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PlatformView {
    /// The id used in connections and sources, e.g. `stripe`.
    pub id: String,
    pub name: String,
    /// `api_key` or `oauth2`.
    pub auth: String,
    pub docs_url: String,
    pub streams: Vec<StreamView>,
}

/// The catalog.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PlatformList {
    pub items: Vec<PlatformView>,
}

pub struct PlatformsApi;

#[OpenApi(tag = "ApiTags::Platforms")]
impl PlatformsApi {
    /// Lists the platforms and their streams. Needs no authentication.
    #[oai(path = "/v1/platforms", method = "get", operation_id = "listPlatforms")]
    async fn list(&self) -> Json<PlatformList> {
        let items = connectors::platforms()
            .iter()
            .map(|p| PlatformView {
                id: p.id.to_owned(),
                name: p.name.to_owned(),
                auth: serde_json::to_value(p.auth)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                docs_url: p.docs_url.to_owned(),
                streams: p
                    .streams
                    .iter()
                    .map(|s| StreamView {
                        name: s.name.to_owned(),
                        incremental: s.incremental,
                        files: s.files,
                        deletes: s.deletes,
                    })
                    .collect(),
            })
            .collect();
        Json(PlatformList { items })
    }
}
