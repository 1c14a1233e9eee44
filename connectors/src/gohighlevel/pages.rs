//! One page of each stream: the request, the records and the token for the next page.

use super::{PLATFORM, client::GoHighLevelConnector, config::APPOINTMENTS_AHEAD_MS, models};
use crate::{ConnectorError, ErrorKind, Page, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json, value::RawValue};
use std::time::{SystemTime, UNIX_EPOCH};

fn decode_error(what: &str, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::new(PLATFORM, ErrorKind::Decode, format!("{what}: {e}"))
}

fn bad_token(stream: &str) -> ConnectorError {
    ConnectorError::new(
        PLATFORM,
        ErrorKind::InvalidRequest,
        format!("the {stream} page token is not one this connector made"),
    )
}

fn with_ids(stream: &str, raw: Vec<Box<RawValue>>) -> Result<Vec<Record>, ConnectorError> {
    raw.into_iter()
        .map(|json| {
            let head: models::RecordHead = serde_json::from_str(json.get())
                .map_err(|e| decode_error(&format!("{stream} record without id"), e))?;
            Ok(Record::new(head.id, json))
        })
        .collect()
}

/// Contacts sorted by `dateUpdated` (then id) ascending, after the `searchAfter` values in
/// `token`, updated at or after `since` (epoch ms). The page's cursor is the newest
/// `dateUpdated` on it: the first `searchAfter` value under this sort.
pub(super) async fn contacts(
    c: &GoHighLevelConnector,
    since: Option<i64>,
    token: Option<&str>,
    page_size: u32,
) -> Result<Page, ConnectorError> {
    let mut body = json!({
        "locationId": c.config.location_id.as_str(),
        "pageLimit": page_size,
        "sort": [{"field": "dateUpdated", "direction": "asc"}],
    });
    if let Some(since) = since {
        body["filters"] =
            json!([{"field": "dateUpdated", "operator": "range", "value": {"gte": since}}]);
    }
    if let Some(token) = token {
        let after: Vec<Value> = serde_json::from_str(token).map_err(|_| bad_token("contacts"))?;
        body["searchAfter"] = Value::Array(after);
    }
    let url = c.url("/contacts/search");
    let page: models::ContactsPage = c
        .call("contacts page", |http| http.post(&url).json(&body))
        .await?;
    let full = page.contacts.len() >= page_size as usize;
    let mut cursor: Option<i64> = None;
    let mut last_after = None;
    let mut records = Vec::with_capacity(page.contacts.len());
    for json in page.contacts {
        let head: models::ContactHead =
            serde_json::from_str(json.get()).map_err(|e| decode_error("contact without id", e))?;
        if let Some(at) = head
            .search_after
            .as_ref()
            .and_then(|a| a.first())
            .and_then(Value::as_i64)
        {
            cursor = Some(cursor.map_or(at, |c| c.max(at)));
        }
        last_after = head.search_after;
        records.push(Record::new(head.id, json));
    }
    // A short page is the last; a full one continues after its last contact. A contact
    // without `searchAfter` cannot be continued from, so it ends the walk loudly.
    let next_page_token = match (full, last_after) {
        (false, _) => None,
        (true, Some(after)) if !after.is_empty() => Some(Value::Array(after).to_string()),
        (true, _) => {
            return Err(decode_error(
                "contacts page",
                "last contact has no searchAfter",
            ));
        }
    };
    Ok(Page {
        records,
        next_page_token,
        cursor: cursor.map(Value::from),
    })
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpportunitiesToken {
    start_after: Value,
    start_after_id: String,
}

/// Opportunities oldest first, continuing after `startAfter` + `startAfterId`.
pub(super) async fn opportunities(
    c: &GoHighLevelConnector,
    token: Option<&str>,
) -> Result<Page, ConnectorError> {
    let mut query = vec![
        (
            "location_id".to_owned(),
            c.config.location_id.as_str().to_owned(),
        ),
        ("limit".to_owned(), c.config.page_size.to_string()),
    ];
    if let Some(token) = token {
        let t: OpportunitiesToken =
            serde_json::from_str(token).map_err(|_| bad_token("opportunities"))?;
        let at = match t.start_after {
            Value::String(s) => s,
            other => other.to_string(),
        };
        query.push(("startAfter".into(), at));
        query.push(("startAfterId".into(), t.start_after_id));
    }
    let url = c.url("/opportunities/search");
    let page: models::OpportunitiesPage = c
        .call("opportunities page", |http| http.get(&url).query(&query))
        .await?;
    let records = with_ids("opportunities", page.opportunities)?;
    let next_page_token = page.meta.and_then(|meta| {
        let more = meta.next_page.is_some_and(|n| !n.is_null()) || meta.next_page_url.is_some();
        match (
            more && !records.is_empty(),
            meta.start_after,
            meta.start_after_id,
        ) {
            (true, Some(start_after), Some(start_after_id)) => {
                serde_json::to_string(&OpportunitiesToken {
                    start_after,
                    start_after_id,
                })
                .ok()
            }
            _ => None,
        }
    });
    Ok(Page {
        records,
        next_page_token,
        cursor: None,
    })
}

async fn calendar_list(c: &GoHighLevelConnector) -> Result<Vec<Record>, ConnectorError> {
    let url = c.url("/calendars/");
    let query = [("locationId", c.config.location_id.as_str())];
    let page: models::CalendarsPage = c
        .call("calendars list", |http| http.get(&url).query(&query))
        .await?;
    with_ids("calendars", page.calendars)
}

/// Every calendar of the location, in one page.
pub(super) async fn calendars(c: &GoHighLevelConnector) -> Result<Page, ConnectorError> {
    Ok(Page {
        records: calendar_list(c).await?,
        next_page_token: None,
        cursor: None,
    })
}

/// Where an appointments walk stands: the calendars still to read (the current one first) and
/// the start of the next window. `until` is fixed when the walk starts.
#[derive(Serialize, Deserialize)]
struct AppointmentsToken {
    calendars: Vec<String>,
    from: i64,
    until: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Appointments of one calendar in one time window per page: calendars in list order, each
/// from `appointments_from` to a year ahead of the walk's start, window by window.
pub(super) async fn appointments(
    c: &GoHighLevelConnector,
    token: Option<&str>,
) -> Result<Page, ConnectorError> {
    let start = c.config.appointments_from_ms;
    let window = c.config.appointments_window_ms;
    let walk = match token {
        Some(token) => serde_json::from_str(token).map_err(|_| bad_token("appointments"))?,
        None => AppointmentsToken {
            calendars: calendar_list(c).await?.into_iter().map(|r| r.id).collect(),
            from: start,
            until: now_ms().saturating_add(APPOINTMENTS_AHEAD_MS),
        },
    };
    let Some(calendar) = walk.calendars.first() else {
        return Ok(Page {
            records: Vec::new(),
            next_page_token: None,
            cursor: None,
        });
    };
    let to = walk.from.saturating_add(window).min(walk.until);
    // `endTime` is inclusive: stop a millisecond before the next window starts.
    let query = [
        ("locationId", c.config.location_id.as_str().to_owned()),
        ("calendarId", calendar.clone()),
        ("startTime", walk.from.to_string()),
        ("endTime", (to - 1).to_string()),
    ];
    let url = c.url("/calendars/events");
    let page: models::EventsPage = c
        .call("appointments window", |http| http.get(&url).query(&query))
        .await?;
    let records = with_ids("appointments", page.events)?;
    let next = if to < walk.until {
        Some(AppointmentsToken { from: to, ..walk })
    } else {
        let calendars: Vec<String> = walk.calendars.into_iter().skip(1).collect();
        (!calendars.is_empty()).then_some(AppointmentsToken {
            calendars,
            from: start,
            until: walk.until,
        })
    };
    Ok(Page {
        records,
        next_page_token: next.and_then(|t| serde_json::to_string(&t).ok()),
        cursor: None,
    })
}
