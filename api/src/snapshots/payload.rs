//! Response bodies that are not JSON: NDJSON record pages and whole-stream downloads, typed so
//! that the spec states their content types.

use poem::{Body, IntoResponse, Response};
use poem_openapi::{
    ApiResponse,
    payload::Payload,
    registry::{MetaMediaType, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
};

/// `application/x-ndjson`: one JSON record per line.
pub const NDJSON: &str = "application/x-ndjson";
/// `application/zstd`: a zstd frame (of JSON lines).
pub const ZSTD: &str = "application/zstd";

fn binary_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format: Some("binary"),
        ..MetaSchema::new("string")
    }))
}

/// JSON Lines: one record per line, each a JSON object as the platform returned it.
pub struct Ndjson(pub Body);

impl Payload for Ndjson {
    const CONTENT_TYPE: &'static str = NDJSON;

    fn schema_ref() -> MetaSchemaRef {
        binary_schema()
    }
}

impl IntoResponse for Ndjson {
    fn into_response(self) -> Response {
        Response::builder().content_type(NDJSON).body(self.0)
    }
}

/// A file to save: JSON Lines (`application/x-ndjson`) or, re-compressed, `application/zstd`.
pub struct StreamFile {
    pub body: Body,
    pub content_type: &'static str,
}

impl Payload for StreamFile {
    const CONTENT_TYPE: &'static str = NDJSON;

    fn schema_ref() -> MetaSchemaRef {
        binary_schema()
    }
}

impl IntoResponse for StreamFile {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.content_type)
            .body(self.body)
    }
}

/// Adds `application/zstd` next to `application/x-ndjson` in the 200 answer of `R`, whose
/// [`StreamFile`] sends either.
pub struct WithZstd<R>(pub R);

impl<R: ApiResponse> ApiResponse for WithZstd<R> {
    fn meta() -> MetaResponses {
        let mut meta = R::meta();
        for response in &mut meta.responses {
            if response.status == Some(200) {
                response.content.push(MetaMediaType {
                    content_type: ZSTD,
                    schema: binary_schema(),
                });
            }
        }
        meta
    }

    fn register(registry: &mut Registry) {
        R::register(registry);
    }
}

impl<R: IntoResponse> IntoResponse for WithZstd<R> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}
