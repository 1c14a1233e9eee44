//! Partial responses: Google APIs return only the fields named in the `fields` parameter
//! (`nextPageToken,files(id,name,owners(emailAddress))`, `a/b` for nesting, `*` for all).
//! Without `fields`, Drive v3 answers a default set (`kind,id,name,mimeType` per file), which
//! is the trap: a client that forgets `fields` backs up almost nothing.

use serde_json::{Map, Value};

/// A parsed field mask: each selected name with, optionally, the mask of its sub-fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldMask(Vec<(String, Option<FieldMask>)>);

impl FieldMask {
    /// Parses a `fields` value; `None` when it is malformed (unbalanced parentheses, empty
    /// names), which Google answers with 400.
    pub fn parse(spec: &str) -> Option<Self> {
        let chars: Vec<char> = spec.chars().filter(|c| !c.is_whitespace()).collect();
        let mut at = 0;
        let mask = parse_list(&chars, &mut at)?;
        (at == chars.len()).then_some(mask)
    }

    /// Keeps what the mask selects of `value` (objects by key, arrays element by element).
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(object) => {
                if self
                    .0
                    .iter()
                    .any(|(name, sub)| name == "*" && sub.is_none())
                {
                    return value.clone();
                }
                let mut kept = Map::new();
                for (name, sub) in &self.0 {
                    if let Some(field) = object.get(name) {
                        let field = match sub {
                            Some(sub) => sub.apply(field),
                            None => field.clone(),
                        };
                        kept.insert(name.clone(), field);
                    }
                }
                Value::Object(kept)
            }
            other => other.clone(),
        }
    }
}

/// Projects `value` through the field mask `spec`, as the API would answer a request with
/// `fields=spec`. An unparsable `spec` selects nothing.
pub fn select(value: &Value, spec: &str) -> Value {
    FieldMask::parse(spec).map_or(Value::Null, |mask| mask.apply(value))
}

fn parse_list(chars: &[char], at: &mut usize) -> Option<FieldMask> {
    let mut items = Vec::new();
    loop {
        let (name, sub) = parse_item(chars, at)?;
        items.push((name, sub));
        match chars.get(*at) {
            Some(',') => *at += 1,
            _ => return Some(FieldMask(items)),
        }
    }
}

/// `name`, `name(list)` or `name/rest`, the last meaning `name(rest)`.
fn parse_item(chars: &[char], at: &mut usize) -> Option<(String, Option<FieldMask>)> {
    let start = *at;
    while chars
        .get(*at)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '*')
    {
        *at += 1;
    }
    if *at == start {
        return None;
    }
    let name: String = chars[start..*at].iter().collect();
    let sub = match chars.get(*at) {
        Some('(') => {
            *at += 1;
            let list = parse_list(chars, at)?;
            if chars.get(*at) != Some(&')') {
                return None;
            }
            *at += 1;
            Some(list)
        }
        Some('/') => {
            *at += 1;
            let (inner, sub) = parse_item(chars, at)?;
            Some(FieldMask(vec![(inner, sub)]))
        }
        _ => None,
    };
    Some((name, sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_select_nested_fields_in_arrays() {
        let answer = json!({
            "kind": "drive#fileList",
            "nextPageToken": "t",
            "files": [
                {"id": "a", "name": "x", "size": "3", "owners": [{"emailAddress": "e", "me": true}]},
                {"id": "b", "name": "y"},
            ],
        });
        assert_eq!(
            select(&answer, "nextPageToken, files(id, owners(emailAddress))"),
            json!({"nextPageToken": "t", "files": [
                {"id": "a", "owners": [{"emailAddress": "e"}]},
                {"id": "b"},
            ]})
        );
        assert_eq!(
            select(&answer, "files/name"),
            json!({"files": [{"name": "x"}, {"name": "y"}]})
        );
        assert_eq!(select(&answer, "*"), answer);
        assert_eq!(select(&answer, "files(*)")["files"][0]["size"], json!("3"));
    }

    #[test]
    fn malformed_masks_are_refused() {
        for bad in ["", "files(", "files(id", "a,,b", "files)", "a(b)c"] {
            assert_eq!(FieldMask::parse(bad), None, "{bad}");
        }
    }
}
