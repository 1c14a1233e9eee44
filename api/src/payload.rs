//! JSON responses written by serde straight from the value, for the busiest lists.
//!
//! poem-openapi's `Json` turns a response into a `serde_json::Value` tree first (every key and
//! every string of a 50-item page copied into it), then writes the tree. [`SerdeJson`] writes
//! the value itself. Its schema is still the type's own (`Type`), so the OpenAPI document does
//! not change; the type's `Serialize` must write exactly what its `ToJSON` would — the tests
//! below hold every type sent this way to that.

use chrono::{DateTime, Utc};
use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    payload::Payload,
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::{Serialize, Serializer};

/// A JSON body serialised by serde, documented by poem-openapi.
pub struct SerdeJson<T>(pub T);

const CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for SerdeJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(CONTENT_TYPE).body(body),
            Err(e) => {
                tracing::error!(error = %e, "a response could not be written as JSON");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// A time as poem-openapi writes one (RFC 3339 with a numeric offset, `+00:00`).
pub fn time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.to_rfc3339())
}

/// An optional time as poem-openapi writes one; use with `skip_serializing_if`.
pub fn opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => time(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        jobs::{JobView, StreamProgressView},
        pagination::Page,
    };
    use poem_openapi::types::ToJSON;

    fn job(full: bool) -> JobView {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-07T22:15:08.123456Z")
            .unwrap()
            .to_utc();
        let some = |s: &str| full.then(|| s.to_owned());
        JobView {
            id: "job-1".into(),
            account_id: "acc \"quoted\"".into(),
            source_id: "src-1".into(),
            kind: "backup".into(),
            status: "failed".into(),
            phase: some("extracting"),
            snapshot_id: "snap-1".into(),
            workflow_id: "backup/src-1/ü".into(),
            run_id: some("run-1"),
            temporal_ui_url: "http://ui/namespaces/default/workflows/backup%2Fsrc-1".into(),
            records: u64::MAX,
            bytes: 0,
            streams: if full {
                vec![StreamProgressView {
                    name: "charges".into(),
                    status: "committed".into(),
                    records: 3,
                    raw_bytes: 4,
                    stored_bytes: 5,
                    parts: u32::MAX,
                }]
            } else {
                Vec::new()
            },
            error: some("the platform refused the key\n"),
            retry_of: some("job-0"),
            created_at: at,
            started_at: full.then_some(at),
            finished_at: full.then_some(at + chrono::Duration::seconds(30)),
        }
    }

    #[test]
    fn a_page_of_jobs_is_written_as_its_schema_says() {
        for (items, next_cursor) in [
            (vec![job(true), job(false)], Some("b64cursor".to_owned())),
            (vec![job(false)], None),
            (Vec::new(), None),
        ] {
            let page = Page { items, next_cursor };
            assert_eq!(
                serde_json::to_value(&page).unwrap(),
                page.to_json().unwrap(),
                "serde and poem-openapi write the same JSON"
            );
        }
    }
}
