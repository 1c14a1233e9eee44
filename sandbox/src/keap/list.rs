//! List queries and pages for both API versions.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN_CODEC;
use serde_json::{Value, json};

use super::error::KeapError;
use super::stream::{ApiVersion, Stream};
use super::{KeapFake, time};

/// The most records one page may hold, in both versions.
pub(crate) const MAX_PAGE_SIZE: u64 = 1000;
/// v2's page size when the client does not say.
const V2_DEFAULT_PAGE_SIZE: u64 = 50;
/// v1's `limit` when the client does not say.
const V1_DEFAULT_LIMIT: u64 = 1000;

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn bounded(
    params: &[(String, String)],
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
    version: ApiVersion,
) -> Result<u64, KeapError> {
    match param(params, name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                KeapError::invalid_argument(
                    version,
                    &format!(
                        "Invalid {name}: must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

/// A v2 page: `{"<stream>": [...], "next_page_token": "…"}`, the token empty at the end.
pub(crate) fn v2_page(
    fake: &KeapFake,
    stream: Stream,
    params: &[(String, String)],
) -> Result<Value, KeapError> {
    let version = ApiVersion::V2;
    let page_size = bounded(
        params,
        "page_size",
        V2_DEFAULT_PAGE_SIZE,
        1..=MAX_PAGE_SIZE,
        version,
    )?;
    let offset = match param(params, "page_token").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => decode_token(token)
            .ok_or_else(|| KeapError::invalid_argument(version, "Invalid page_token"))?,
    };
    let count = fake.count_of(stream);
    let (indices, more) = match param(params, "filter").filter(|f| !f.trim().is_empty()) {
        // Unfiltered pages cost their own size, however deep the offset.
        None => {
            let end = offset.saturating_add(page_size).min(count);
            ((offset.min(count)..end).collect::<Vec<_>>(), end < count)
        }
        Some(filter) => {
            let (start, end) = update_time_filter(stream, filter)?;
            let mut matching = (0..count).filter(|&index| {
                let updated = fake.updated(stream, index).saturating_mul(1000);
                start <= updated && updated < end
            });
            let skip = usize::try_from(offset).unwrap_or(usize::MAX);
            let take = usize::try_from(page_size).unwrap_or(usize::MAX);
            let page: Vec<u64> = matching.by_ref().skip(skip).take(take).collect();
            (page, matching.next().is_some())
        }
    };
    let records: Vec<Value> = indices
        .into_iter()
        .map(|index| fake.generate(stream, index))
        .collect();
    let next_page_token = if more {
        encode_token(offset.saturating_add(page_size))
    } else {
        String::new()
    };
    Ok(json!({ stream.name(): records, "next_page_token": next_page_token }))
}

/// Parses `start_update_time==<ts>;end_update_time==<ts>` into a millisecond range.
fn update_time_filter(stream: Stream, filter: &str) -> Result<(i64, i64), KeapError> {
    let invalid = |m: String| KeapError::invalid_argument(ApiVersion::V2, &m);
    let (mut start, mut end) = (i64::MIN, i64::MAX);
    for clause in filter.split(';').map(str::trim).filter(|c| !c.is_empty()) {
        let (field, value) = clause
            .split_once("==")
            .ok_or_else(|| invalid(format!("Invalid filter: `{clause}`")))?;
        let field = field.trim();
        if !stream.filters_on_update_time()
            || !matches!(field, "start_update_time" | "end_update_time")
        {
            return Err(invalid(format!("Invalid filter field: {field}")));
        }
        let millis = time::parse_millis(value)
            .ok_or_else(|| invalid(format!("Invalid {field}: `{}`", value.trim())))?;
        if field == "start_update_time" {
            start = millis;
        } else {
            end = millis;
        }
    }
    Ok((start, end))
}

fn encode_token(offset: u64) -> String {
    TOKEN_CODEC.encode(format!("offset:{offset}"))
}

fn decode_token(token: &str) -> Option<u64> {
    let bytes = TOKEN_CODEC.decode(token.trim()).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// A v1 page: `{"<stream>": [...], "count": total, "next": url, "previous": url}`; `next`
/// is there even when nothing follows.
pub(crate) fn v1_page(
    fake: &KeapFake,
    stream: Stream,
    params: &[(String, String)],
    base_url: &str,
) -> Result<Value, KeapError> {
    let version = ApiVersion::V1;
    let limit = bounded(
        params,
        "limit",
        V1_DEFAULT_LIMIT,
        1..=MAX_PAGE_SIZE,
        version,
    )?;
    let offset = bounded(params, "offset", 0, 0..=u64::MAX / 2, version)?;
    let count = fake.count_of(stream);
    let end = offset.saturating_add(limit).min(count);
    let records: Vec<Value> = (offset.min(count)..end)
        .map(|index| fake.generate(stream, index))
        .collect();
    let url = |offset: u64| {
        format!(
            "{base_url}/crm/rest/v1/{}/?limit={limit}&offset={offset}",
            stream.name()
        )
    };
    Ok(json!({
        stream.name(): records,
        "count": count,
        "next": url(offset.saturating_add(limit)),
        "previous": url(offset.saturating_sub(limit)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn v2_pages_walk_everything_and_end_with_an_empty_token() {
        let fake = KeapFake::new(1, Arc::default(), |_| 7);
        let mut token = String::new();
        let mut ids = Vec::new();
        loop {
            let page = v2_page(
                &fake,
                Stream::Tags,
                &pairs(&[("page_size", "3"), ("page_token", &token)]),
            )
            .unwrap();
            ids.extend(
                page["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t["id"].clone()),
            );
            token = page["next_page_token"].as_str().unwrap().to_owned();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(ids, (1..=7).map(Value::from).collect::<Vec<_>>());
    }

    #[test]
    fn v2_filters_only_contacts_on_update_time() {
        let fake = KeapFake::new(1, Arc::default(), |_| 10);
        let since = time::format(fake.updated(Stream::Contacts, 7));
        let page = v2_page(
            &fake,
            Stream::Contacts,
            &pairs(&[("filter", &format!("start_update_time=={since}"))]),
        )
        .unwrap();
        assert_eq!(page["contacts"].as_array().unwrap().len(), 3);
        for bad in ["start_update_time==yesterday", "email==a@b.c", "nonsense"] {
            assert!(v2_page(&fake, Stream::Contacts, &pairs(&[("filter", bad)])).is_err());
        }
        assert!(
            v2_page(
                &fake,
                Stream::Tags,
                &pairs(&[("filter", &format!("start_update_time=={since}"))])
            )
            .is_err()
        );
        assert!(v2_page(&fake, Stream::Tags, &pairs(&[("page_size", "1001")])).is_err());
        assert!(v2_page(&fake, Stream::Tags, &pairs(&[("page_token", "%%%")])).is_err());
    }

    #[test]
    fn v1_next_is_always_there() {
        let fake = KeapFake::new(1, Arc::default(), |_| 5);
        let page = v1_page(
            &fake,
            Stream::Orders,
            &pairs(&[("limit", "3"), ("offset", "3")]),
            "http://h",
        )
        .unwrap();
        assert_eq!(page["orders"].as_array().unwrap().len(), 2);
        assert_eq!(page["count"], 5);
        assert_eq!(
            page["next"],
            "http://h/crm/rest/v1/orders/?limit=3&offset=6"
        );
        assert!(v1_page(&fake, Stream::Orders, &pairs(&[("limit", "0")]), "").is_err());
    }
}
