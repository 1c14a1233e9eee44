//! Completes the OpenAPI document poem-openapi derives from the handlers with what holds for
//! every operation and cannot be said per handler:
//!
//! - the answers any operation can give besides its own: `401` where credentials are required,
//!   `429` where the per-credential rate limit applies, `400`/`413`/`415` where there is a body,
//!   `500` everywhere — all with the error envelope;
//! - `additionalProperties: false` on request bodies (every request object refuses unknown fields);
//! - the bounds of the `limit` query parameter of every list (`1..=200`, see [`crate::pagination`]);
//! - `text/event-stream` answers described as what arrives: each event an object with `event`,
//!   `id` and `data` (the JSON of the schema poem-openapi names as the stream's items).
//!
//! The completed document is what `/v1/openapi.json` serves, what Swagger UI shows and what is
//! committed as `api/openapi.json`, so generated clients and fuzzers see the API as it behaves.
//! [`AllowedMethods`] answers `405` with the `Allow` header from the same document.

use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use serde_json::{Map, Value, json};

const ENVELOPE: &str = "#/components/schemas/ErrorEnvelope";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Adds the common answers, body strictness and parameter bounds to `raw` (poem-openapi's JSON).
pub fn complete(raw: &str) -> String {
    let mut doc: Value = serde_json::from_str(raw).expect("poem-openapi emits JSON");
    let mut strict_bodies = Vec::new();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for item in paths.values_mut() {
            for method in METHODS {
                if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                    complete_operation(op, &mut strict_bodies);
                }
            }
        }
    }
    for name in strict_bodies {
        if let Some(schema) = doc["components"]["schemas"]
            .get_mut(&name)
            .and_then(Value::as_object_mut)
            && schema.get("type") == Some(&json!("object"))
        {
            schema.insert("additionalProperties".into(), json!(false));
        }
    }
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

fn complete_operation(op: &mut Map<String, Value>, strict_bodies: &mut Vec<String>) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let body = op.get("requestBody").cloned();
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());

    // Lists paginated with `crate::pagination` answer a `Page_…`; other `limit`s (e.g. record
    // pages) state their own bounds.
    let paginated = op["responses"]["200"]["content"]
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, media)| {
            media["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("#/components/schemas/Page_"))
        });
    if let Some(params) = op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .filter(|_| paginated)
    {
        for param in params {
            if param["in"] == "query" && param["name"] == "limit" {
                let schema = &mut param["schema"];
                schema["minimum"] = json!(1);
                schema["maximum"] = json!(MAX_LIMIT);
                schema["default"] = json!(DEFAULT_LIMIT);
            }
        }
    }

    if let Some(body) = &body {
        for media in body["content"].as_object().into_iter().flatten() {
            if let Some(name) = media.1["schema"]["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                strict_bodies.push(name.to_owned());
            }
        }
    }

    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses is an object");
    for response in responses.values_mut() {
        if let Some(media) = response
            .get_mut("content")
            .and_then(|c| c.get_mut("text/event-stream"))
        {
            describe_event_stream(media);
        }
    }
    let mut add = |status: &str, description: &str| {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description,
                "content": {"application/json; charset=utf-8": {"schema": {"$ref": ENVELOPE}}}
            })
        });
    };
    if body.is_some() || has_params {
        add(
            "400",
            "The request could not be read; `details.field` names the culprit when known.",
        );
    }
    if secured {
        add("401", "Missing, invalid, expired or revoked credentials.");
    }
    if body.is_some() {
        add("413", "The body is too large.");
        add("415", "The body is not `application/json`.");
    }
    if secured {
        add(
            "429",
            "Too many requests with these credentials; `Retry-After` says when to try again.",
        );
    }
    add("500", "An unexpected failure; quote the request id.");
}

/// poem-openapi describes an event stream as `{type: array, format: event-stream, items}`; a
/// client reads it one event at a time, each with a type, an id and `data` holding the JSON of
/// `items`.
fn describe_event_stream(media: &mut Value) {
    let item = media["schema"]["items"]["$ref"]
        .as_str()
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .unwrap_or("the stream's item")
        .to_owned();
    media["schema"] = json!({
        "type": "object",
        "description": format!("One Server-Sent Event; `data` is a `{item}` as JSON."),
        "properties": {
            "event": {"type": "string", "description": "The event's type."},
            "id": {"type": "string", "description": "The event's sequence number."},
            "data": {"type": "string", "description": format!("A `{item}` as JSON.")}
        },
        "required": ["event", "id", "data"]
    });
}

/// The methods of each path template in the document, to answer `405` with an `Allow` header.
pub struct AllowedMethods {
    routes: Vec<(Vec<Segment>, String)>,
}

enum Segment {
    Literal(String),
    Param,
}

impl AllowedMethods {
    pub fn from_spec(doc: &str) -> Self {
        let doc: Value = serde_json::from_str(doc).expect("the spec is JSON");
        let mut routes = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let segments = path
                .split('/')
                .map(|s| {
                    if s.starts_with('{') && s.ends_with('}') {
                        Segment::Param
                    } else {
                        Segment::Literal(s.to_owned())
                    }
                })
                .collect();
            let allowed: Vec<String> = METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| m.to_ascii_uppercase())
                .collect();
            routes.push((segments, allowed.join(", ")));
        }
        Self { routes }
    }

    /// The `Allow` value for a request path, preferring literal segments over parameters (as
    /// the router does: `/v1/accounts/tree` is not `/v1/accounts/{id}`).
    pub fn for_path(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .filter(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param => !p.is_empty(),
                    })
            })
            .max_by_key(|(segments, _)| {
                segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
            .map(|(_, allow)| allow.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_the_methods_of_the_matching_template() {
        let spec = crate::openapi_json();
        let allowed = AllowedMethods::from_spec(&spec);
        assert_eq!(allowed.for_path("/v1/health"), Some("GET"));
        assert_eq!(
            allowed.for_path("/v1/accounts/acc_1"),
            Some("GET, DELETE, PATCH")
        );
        assert_eq!(allowed.for_path("/v1/nowhere"), None);
    }

    #[test]
    fn every_operation_documents_the_common_answers() {
        let doc: Value = serde_json::from_str(&crate::openapi_json()).unwrap();
        let op = &doc["paths"]["/v1/accounts/{account_id}"]["patch"];
        for status in ["400", "401", "413", "415", "429", "500"] {
            assert!(op["responses"].get(status).is_some(), "{status}");
        }
        let health = &doc["paths"]["/v1/health"]["get"];
        assert!(health["responses"].get("401").is_none());
        let limit = doc["paths"]["/v1/accounts"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(limit["schema"]["maximum"], MAX_LIMIT);
    }
}
