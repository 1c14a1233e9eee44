//! Which properties to ask for. HubSpot answers carry only a default set of properties
//! unless the request names them, so a backup first reads every property name of a type
//! (`GET /crm/v3/properties/{type}`, once per connector) and asks for all of them.
//!
//! Searches name them in the JSON body. Lists name them in the query string, where a
//! portal with hundreds of properties would overflow the URL (HubSpot answers 414), so
//! the names are split into chunks under [`URL_BUDGET`], one request per chunk for the
//! same page, and the chunks' properties merged record by record.

use super::client::{HubSpotConnector, PLATFORM};
use super::models::PropertyList;
use crate::{ConnectorError, ErrorKind};
use serde_json::{Value, value::RawValue};
use std::sync::{Arc, PoisonError};

/// Characters of comma-joined property names per list request.
pub(super) const URL_BUDGET: usize = 8_000;

impl HubSpotConnector {
    /// Every property name of `stream`'s objects, read once per connector.
    pub(super) async fn property_names(
        &self,
        stream: &str,
    ) -> Result<Arc<Vec<String>>, ConnectorError> {
        let cached = self
            .properties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(stream)
            .cloned();
        if let Some(names) = cached {
            return Ok(names);
        }
        let list: PropertyList = self.get(&format!("properties/{stream}"), &[]).await?;
        let names = Arc::new(list.results.into_iter().map(|p| p.name).collect::<Vec<_>>());
        self.properties
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(stream.to_owned(), Arc::clone(&names));
        Ok(names)
    }
}

/// `names` joined with commas, in chunks of at most `budget` characters (a name longer
/// than the budget gets a chunk of its own). Always at least one chunk.
pub(super) fn chunks(names: &[String], budget: usize) -> Vec<String> {
    let mut chunks = vec![String::new()];
    for name in names {
        let current = chunks
            .last_mut()
            .filter(|c| c.is_empty() || c.len() + 1 + name.len() <= budget);
        match current {
            Some(chunk) => {
                if !chunk.is_empty() {
                    chunk.push(',');
                }
                chunk.push_str(name);
            }
            None => chunks.push(name.clone()),
        }
    }
    chunks
}

/// Adds the properties of `extra` (the same page read with other property names) to
/// `records`. Both must list the same ids in the same order.
pub(super) fn merge(
    records: Vec<Box<RawValue>>,
    extra: &[Box<RawValue>],
) -> Result<Vec<Box<RawValue>>, ConnectorError> {
    let decode = |m: String| ConnectorError::new(PLATFORM, ErrorKind::Decode, m);
    if records.len() != extra.len() {
        return Err(decode(format!(
            "a page read in property chunks changed size ({} then {} records)",
            records.len(),
            extra.len()
        )));
    }
    records
        .into_iter()
        .zip(extra)
        .map(|(record, more)| {
            let mut record: Value =
                serde_json::from_str(record.get()).map_err(|e| decode(format!("record: {e}")))?;
            let more: Value =
                serde_json::from_str(more.get()).map_err(|e| decode(format!("record: {e}")))?;
            if record["id"] != more["id"] {
                return Err(decode(format!(
                    "a page read in property chunks changed records ({} then {})",
                    record["id"], more["id"]
                )));
            }
            if let (Some(target), Some(source)) = (
                record.get_mut("properties").and_then(Value::as_object_mut),
                more.get("properties").and_then(Value::as_object),
            ) {
                target.extend(source.clone());
            }
            RawValue::from_string(record.to_string()).map_err(|e| decode(format!("record: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    #[test]
    fn names_are_chunked_under_the_budget() {
        let names: Vec<String> = ["aaaa", "bb", "cccc", "a_very_long_name"]
            .map(String::from)
            .into();
        assert_eq!(chunks(&names, 8), ["aaaa,bb", "cccc", "a_very_long_name"]);
        assert_eq!(chunks(&names, 1_000), ["aaaa,bb,cccc,a_very_long_name"]);
        assert_eq!(chunks(&[], 10), [""]);
    }

    #[test]
    fn chunked_pages_merge_record_by_record() {
        let a = vec![raw(
            serde_json::json!({"id": "1", "properties": {"a": "x"}}),
        )];
        let b = vec![raw(
            serde_json::json!({"id": "1", "properties": {"b": "y"}}),
        )];
        let merged = merge(a.clone(), &b).unwrap();
        let merged: Value = serde_json::from_str(merged[0].get()).unwrap();
        assert_eq!(
            merged["properties"],
            serde_json::json!({"a": "x", "b": "y"})
        );
        let other = vec![raw(serde_json::json!({"id": "2", "properties": {}}))];
        assert_eq!(
            merge(a.clone(), &other).unwrap_err().kind,
            ErrorKind::Decode
        );
        assert_eq!(merge(a, &[]).unwrap_err().kind, ErrorKind::Decode);
    }
}
