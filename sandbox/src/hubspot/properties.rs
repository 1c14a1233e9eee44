//! Object properties: the definitions at `GET /crm/v3/properties/{type}`, and which
//! properties a list or search answer carries.
//!
//! Like HubSpot, an answer carries only a default set of properties unless the request
//! names them (`properties=a,b` on lists, `"properties": [...]` in a search body), so a
//! connector that never asks gets incomplete records. A few system properties always come.

use serde_json::{Value, json};

use super::Stream;

const CONTACTS: &[(&str, &str)] = &[
    ("firstname", "string"),
    ("lastname", "string"),
    ("email", "string"),
    ("phone", "string"),
    ("city", "string"),
    ("country", "string"),
    ("company", "string"),
    ("lifecyclestage", "enumeration"),
    ("createdate", "datetime"),
    ("lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];
const COMPANIES: &[(&str, &str)] = &[
    ("name", "string"),
    ("domain", "string"),
    ("industry", "enumeration"),
    ("city", "string"),
    ("country", "string"),
    ("numberofemployees", "number"),
    ("createdate", "datetime"),
    ("hs_lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];
const DEALS: &[(&str, &str)] = &[
    ("dealname", "string"),
    ("amount", "number"),
    ("dealstage", "enumeration"),
    ("pipeline", "enumeration"),
    ("closedate", "datetime"),
    ("hubspot_owner_id", "enumeration"),
    ("createdate", "datetime"),
    ("hs_lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];
const TICKETS: &[(&str, &str)] = &[
    ("subject", "string"),
    ("content", "string"),
    ("hs_pipeline", "enumeration"),
    ("hs_pipeline_stage", "enumeration"),
    ("hs_ticket_priority", "enumeration"),
    ("hubspot_owner_id", "enumeration"),
    ("createdate", "datetime"),
    ("hs_lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];

/// Every property of `stream`'s objects, with its HubSpot type.
fn all(stream: Stream) -> &'static [(&'static str, &'static str)] {
    match stream {
        Stream::Contacts => CONTACTS,
        Stream::Companies => COMPANIES,
        Stream::Deals => DEALS,
        Stream::Tickets => TICKETS,
        Stream::Owners | Stream::Pipelines => &[],
    }
}

/// What an answer carries when the request names no properties.
fn defaults(stream: Stream) -> &'static [&'static str] {
    match stream {
        Stream::Contacts => &["firstname", "lastname", "email"],
        Stream::Companies => &["name", "domain"],
        Stream::Deals => &["dealname", "amount", "dealstage", "pipeline", "closedate"],
        Stream::Tickets => &["subject", "content", "hs_pipeline", "hs_pipeline_stage"],
        Stream::Owners | Stream::Pipelines => &[],
    }
}

/// The `GET /crm/v3/properties/{type}` answer.
pub(crate) fn definitions(stream: Stream) -> Value {
    let results: Vec<Value> = all(stream)
        .iter()
        .map(|&(name, kind)| {
            let system = name.starts_with("hs_") || name.ends_with("date");
            json!({
                "name": name,
                "label": name.replace('_', " "),
                "type": kind,
                "fieldType": if kind == "enumeration" { "select" } else { "text" },
                "groupName": format!("{}information", stream.name().trim_end_matches('s')),
                "description": "",
                "hidden": false,
                "calculated": false,
                "hasUniqueValue": name == "hs_object_id",
                "modificationMetadata": {
                    "archivable": !system,
                    "readOnlyDefinition": system,
                    "readOnlyValue": system,
                },
            })
        })
        .collect();
    json!({ "results": results })
}

/// Keeps only the properties an answer carries: those `requested` (or the defaults when
/// none are), plus `createdate`, the last-modified property and `hs_object_id`. Unknown
/// names are ignored, as HubSpot does.
pub(crate) fn select(record: &mut Value, stream: Stream, requested: &[String]) {
    let Some(properties) = record.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    let always = ["createdate", stream.modified_property(), "hs_object_id"];
    properties.retain(|name, _| {
        always.contains(&name.as_str())
            || if requested.is_empty() {
                defaults(stream).contains(&name.as_str())
            } else {
                requested.iter().any(|r| r == name)
            }
    });
}

/// Property names from a list request: `properties=a,b` and/or repeated `properties=c`.
pub(crate) fn requested(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(name, _)| name == "properties")
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::{DEFAULT_ACCESS_TOKEN, HubSpotFake};

    #[test]
    fn definitions_cover_every_generated_property() {
        let fake = HubSpotFake::new(2, DEFAULT_ACCESS_TOKEN.into(), |_| 5);
        for stream in [
            Stream::Contacts,
            Stream::Companies,
            Stream::Deals,
            Stream::Tickets,
        ] {
            let record = fake.generate(stream, 1);
            let mut generated: Vec<&String> =
                record["properties"].as_object().unwrap().keys().collect();
            let mut defined: Vec<&str> = all(stream).iter().map(|(n, _)| *n).collect();
            generated.sort();
            defined.sort();
            assert_eq!(generated, defined, "{stream:?}");
            let mut partial = record.clone();
            select(&mut partial, stream, &[]);
            assert_eq!(
                partial["properties"].as_object().unwrap().len(),
                defaults(stream).len() + 3
            );
            let mut named = record.clone();
            select(&mut named, stream, &["hs_object_id".into(), "nope".into()]);
            assert_eq!(named["properties"].as_object().unwrap().len(), 3);
        }
        let params = vec![
            ("properties".to_owned(), "a, b".to_owned()),
            ("properties".to_owned(), "c".to_owned()),
        ];
        assert_eq!(requested(&params), ["a", "b", "c"]);
    }
}
