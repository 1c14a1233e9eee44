//! The listing semantics: contact search (`pageLimit`, `searchAfter`, `dateUpdated` filters,
//! sort), opportunity paging (`startAfter` + `startAfterId`) and appointment time ranges.

use serde::Deserialize;
use serde_json::{Value, json};

use super::api::ApiError;
use super::records::{self, appointment_calendar, appointment_start, opportunity_created};
use super::{APPOINTMENT_BASE_MS, APPOINTMENT_STEP_MS, Location, LocationData, Stream};

pub(crate) const MAX_PAGE_LIMIT: u64 = 100;
const DEFAULT_PAGE_LIMIT: u64 = 20;

/// The body of `POST /contacts/search`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ContactSearch {
    pub(crate) location_id: Option<String>,
    page_limit: Option<Value>,
    search_after: Option<Vec<Value>>,
    #[serde(default)]
    filters: Vec<Filter>,
    #[serde(default)]
    sort: Vec<Sort>,
    #[serde(default)]
    query: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Filter {
    field: String,
    operator: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sort {
    field: String,
    #[serde(default)]
    direction: Option<String>,
}

/// A time as a filter value: epoch milliseconds or an RFC 3339 string.
fn time_value(value: &Value) -> Result<i64, ApiError> {
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
            .or_else(|| s.parse().ok()),
        _ => None,
    };
    parsed.ok_or_else(|| ApiError::bad_request(format!("invalid date value {value}")))
}

fn page_limit(value: Option<&Value>, name: &str) -> Result<u64, ApiError> {
    let Some(value) = value else {
        return Ok(DEFAULT_PAGE_LIMIT);
    };
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    n.filter(|n| (1..=MAX_PAGE_LIMIT).contains(n))
        .ok_or_else(|| {
            ApiError::bad_request(format!("{name} must not be greater than {MAX_PAGE_LIMIT}"))
        })
}

impl ContactSearch {
    /// `{contacts, total}` for `location`.
    pub(crate) fn run(&self, loc: &Location) -> Result<Value, ApiError> {
        if self.query.as_deref().is_some_and(|q| !q.is_empty()) {
            return Err(ApiError::bad_request(
                "the sandbox does not implement full-text `query`",
            ));
        }
        let limit = page_limit(self.page_limit.as_ref(), "pageLimit")? as usize;
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        for filter in &self.filters {
            if filter.field != "dateUpdated" {
                return Err(ApiError::bad_request(format!(
                    "the sandbox filters only on dateUpdated, not {}",
                    filter.field
                )));
            }
            let mut bound = |op: &str, v: &Value| -> Result<(), ApiError> {
                let at = time_value(v)?;
                match op {
                    "gte" => lo = lo.max(at),
                    "gt" => lo = lo.max(at.saturating_add(1)),
                    "lte" => hi = hi.min(at),
                    "lt" => hi = hi.min(at.saturating_sub(1)),
                    other => {
                        return Err(ApiError::bad_request(format!("unknown operator {other}")));
                    }
                }
                Ok(())
            };
            match (filter.operator.as_str(), &filter.value) {
                ("range", Value::Object(bounds)) => {
                    for (op, v) in bounds {
                        bound(op, v)?;
                    }
                }
                ("range", _) => return Err(ApiError::bad_request("range needs an object value")),
                (op, v) => bound(op, v)?,
            }
        }
        let (field, descending) = match self.sort.as_slice() {
            [] => ("dateUpdated", false),
            [sort] => {
                let descending = match sort.direction.as_deref() {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(other) => {
                        return Err(ApiError::bad_request(format!("unknown direction {other}")));
                    }
                };
                (sort.field.as_str(), descending)
            }
            _ => return Err(ApiError::bad_request("the sandbox sorts on one field")),
        };
        let data = loc.lock();
        let id = |i: u64| loc.id_of(Stream::Contacts, i);
        let after = self.search_after.as_deref();
        let indices: Vec<u64> = match (field, descending, after) {
            ("dateUpdated", false, None) => data.contacts.page_ascending(lo, hi, None, limit, id),
            ("dateUpdated", false, Some([at, Value::String(last)])) => {
                let at = time_value(at)?;
                data.contacts
                    .page_ascending(lo, hi, Some((at, last)), limit, id)
            }
            ("dateUpdated" | "id", _, _) => page_in_any_order(
                loc,
                &data,
                (lo, hi),
                field == "id",
                descending,
                after,
                limit,
            )?,
            (other, _, _) => {
                return Err(ApiError::bad_request(format!("cannot sort on {other}")));
            }
        };
        let contacts: Vec<Value> = indices
            .into_iter()
            .map(|i| {
                let mut contact = records::contact(loc, &data, i);
                if field == "id" {
                    contact["searchAfter"] = json!([id(i)]);
                }
                contact
            })
            .collect();
        Ok(json!({"contacts": contacts, "total": data.contacts.count_updated_in(lo, hi)}))
    }
}

/// Other orders walk every contact: fine for the sandbox's sizes, and only the fast path
/// (`dateUpdated` ascending) has to scale.
fn page_in_any_order(
    loc: &Location,
    data: &LocationData,
    (lo, hi): (i64, i64),
    by_id: bool,
    descending: bool,
    after: Option<&[Value]>,
    limit: usize,
) -> Result<Vec<u64>, ApiError> {
    let id = |i: u64| loc.id_of(Stream::Contacts, i);
    let mut keyed: Vec<(i64, String, u64)> = (0..data.contacts.count())
        .map(|i| (data.contacts.updated(i), id(i), i))
        .filter(|(at, _, _)| (lo..=hi).contains(at))
        .collect();
    keyed.sort_by(|a, b| {
        if by_id {
            a.1.cmp(&b.1)
        } else {
            (a.0, &a.1).cmp(&(b.0, &b.1))
        }
    });
    if descending {
        keyed.reverse();
    }
    let after = match (by_id, after) {
        (_, None) => None,
        (true, Some([Value::String(last)])) => Some((None, last.as_str())),
        (false, Some([at, Value::String(last)])) => Some((Some(time_value(at)?), last.as_str())),
        _ => return Err(ApiError::bad_request("searchAfter does not match the sort")),
    };
    let past = |(at, id, _): &(i64, String, u64)| match after {
        None => true,
        Some((after_at, after_id)) => {
            let ord = match after_at {
                None => id.as_str().cmp(after_id),
                Some(after_at) => (*at, id.as_str()).cmp(&(after_at, after_id)),
            };
            if descending { ord.is_lt() } else { ord.is_gt() }
        }
    };
    Ok(keyed
        .iter()
        .filter(|k| past(k))
        .take(limit)
        .map(|k| k.2)
        .collect())
}

/// `GET /opportunities/search`: oldest first, `startAfter` (ms) + `startAfterId` continue.
pub(crate) fn opportunities(
    loc: &Location,
    params: &[(String, String)],
) -> Result<Value, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let limit = page_limit(param("limit").map(|v| json!(v)).as_ref(), "limit")?;
    let count = loc.count(Stream::Opportunities);
    let start = match (param("startAfterId"), param("startAfter")) {
        (Some(id), _) => loc
            .index_of(Stream::Opportunities, id)
            .filter(|&i| i < count)
            .map(|i| i + 1)
            .ok_or_else(|| {
                ApiError::bad_request(format!("startAfterId {id} is not an opportunity"))
            })?,
        (None, Some(at)) => {
            let at = time_value(&json!(at))?;
            (0..count)
                .find(|&i| opportunity_created(i) > at)
                .unwrap_or(count)
        }
        (None, None) => 0,
    };
    let end = start.saturating_add(limit).min(count);
    let data = loc.lock();
    let page: Vec<Value> = (start..end)
        .map(|i| records::generate(loc, &data, Stream::Opportunities, i))
        .collect();
    let last = end.checked_sub(1).filter(|_| end > start);
    let more = end < count;
    let current = start / limit + 1;
    Ok(json!({
        "opportunities": page,
        "meta": {
            "total": count,
            "startAfterId": last.map(|i| loc.id_of(Stream::Opportunities, i)),
            "startAfter": last.map(opportunity_created),
            "currentPage": current,
            "nextPage": more.then_some(current + 1),
            "prevPage": (current > 1).then(|| current - 1),
            "nextPageUrl": more.then(|| format!(
                "/opportunities/search?location_id={}&limit={limit}&startAfter={}&startAfterId={}",
                loc.id,
                last.map(opportunity_created).unwrap_or_default(),
                last.map(|i| loc.id_of(Stream::Opportunities, i)).unwrap_or_default(),
            )),
        },
    }))
}

/// `GET /calendars/events`: one calendar's appointments starting in `startTime..=endTime` (ms).
pub(crate) fn events(loc: &Location, params: &[(String, String)]) -> Result<Value, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let calendar_id = param("calendarId")
        .ok_or_else(|| ApiError::bad_request("calendarId, userId or groupId is required"))?;
    let calendar = loc
        .index_of(Stream::Calendars, calendar_id)
        .filter(|&c| c < loc.count(Stream::Calendars))
        .ok_or_else(|| ApiError::bad_request(format!("calendar {calendar_id} not found")))?;
    let time = |name: &str| {
        param(name)
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| ApiError::bad_request(format!("{name} must be epoch milliseconds")))
    };
    let (from, to) = (time("startTime")?, time("endTime")?);
    let count = loc.count(Stream::Appointments);
    let first = from
        .saturating_sub(APPOINTMENT_BASE_MS)
        .saturating_add(APPOINTMENT_STEP_MS - 1)
        .div_euclid(APPOINTMENT_STEP_MS)
        .max(0) as u64;
    let last = to
        .saturating_sub(APPOINTMENT_BASE_MS)
        .div_euclid(APPOINTMENT_STEP_MS);
    let end = u64::try_from(last.saturating_add(1))
        .unwrap_or(0)
        .min(count);
    let data = loc.lock();
    let events: Vec<Value> = (first..end)
        .filter(|&i| appointment_calendar(loc, i) == Some(calendar))
        .filter(|&i| (from..=to).contains(&appointment_start(i)))
        .map(|i| records::generate(loc, &data, Stream::Appointments, i))
        .collect();
    Ok(json!({ "events": events }))
}
