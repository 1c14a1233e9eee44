//! Incremental syncs: search windows on the last-modified property, split until each
//! fits under HubSpot's 10,000-results-per-query cap, with every window's count checked
//! against the `total` HubSpot reported for it.
//!
//! The window `[since, now - lag)` is read oldest first. A search reports `total` on
//! its first page; above 10,000 the window is halved (lower half first, so the cursor
//! only moves forward) and the first page thrown away. Both halves go on a stack that
//! the page token carries, with the `after` offset and counts of the current window, so
//! a sync can stop after any page and resume exactly there.

use super::client::{HubSpotConnector, PLATFORM, records};
use super::streams;
use crate::{ConnectorError, ErrorKind, Page, PageRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The most results HubSpot's search returns for one query.
pub const SEARCH_RESULT_CAP: u64 = 10_000;
/// Changes this recent may not be searchable yet (the search index trails writes), so a
/// sync stops short of them; the next sync starts from the cursor and picks them up.
const INDEX_LAG_MS: i64 = 60_000;

/// Where an incremental read is: the page token, JSON-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// Windows `[from, to)` still to read; the last one is being read.
    windows: Vec<(i64, i64)>,
    /// The search offset within the current window; `None` before its first page.
    after: Option<String>,
    /// The `total` HubSpot reported for the current window.
    total: u64,
    /// Records read from the current window so far.
    read: u64,
}

impl Position {
    fn start(from: i64, to: i64) -> Self {
        Self {
            windows: if from < to {
                vec![(from, to)]
            } else {
                Vec::new()
            },
            after: None,
            total: 0,
            read: 0,
        }
    }

    fn decode(token: &str) -> Result<Self, ConnectorError> {
        serde_json::from_str(token).map_err(|e| {
            ConnectorError::new(
                PLATFORM,
                ErrorKind::Config,
                format!("page token is not a HubSpot search position: {e}"),
            )
        })
    }

    fn encode(&self) -> String {
        // A struct of numbers and strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Replaces the current window by its two halves; `false` when it is one millisecond wide.
    fn split(&mut self) -> bool {
        let Some(&(from, to)) = self.windows.last() else {
            return false;
        };
        if to - from < 2 {
            return false;
        }
        let mid = from + (to - from) / 2;
        self.windows.pop();
        self.windows.push((mid, to));
        self.windows.push((from, mid));
        true
    }

    fn finish_window(&mut self) {
        self.windows.pop();
        self.after = None;
        self.total = 0;
        self.read = 0;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn decode_error(message: String) -> ConnectorError {
    ConnectorError::new(PLATFORM, ErrorKind::Decode, message)
}

impl HubSpotConnector {
    /// One page of the records of `stream` modified at or after `since` (ms).
    pub(super) async fn read_changes(
        &self,
        stream: &str,
        since: i64,
        request: &PageRequest,
    ) -> Result<Page, ConnectorError> {
        let mut position = match &request.page_token {
            Some(token) => Position::decode(token)?,
            None => Position::start(since, now_ms() - INDEX_LAG_MS),
        };
        let mut cursor = Some(
            request
                .cursor
                .as_ref()
                .and_then(Value::as_i64)
                .unwrap_or(since),
        );
        let property = streams::modified_property(stream);
        let names = self.property_names(stream).await?;
        while let Some(&(from, to)) = position.windows.last() {
            let mut body = json!({
                "filterGroups": [{ "filters": [
                    { "propertyName": property, "operator": "GTE", "value": from.to_string() },
                    { "propertyName": property, "operator": "LT", "value": to.to_string() },
                ]}],
                "sorts": [{ "propertyName": property, "direction": "ASCENDING" }],
                "limit": self.config.page_size,
                "properties": names.as_slice(),
            });
            if let Some(after) = &position.after {
                body["after"] = after.clone().into();
            }
            let answer = self.search(stream, &body).await?;
            let total = answer
                .total
                .ok_or_else(|| decode_error(format!("{stream} search answer without `total`")))?;
            if position.after.is_none() {
                if total > SEARCH_RESULT_CAP {
                    if position.split() {
                        continue;
                    }
                    return Err(decode_error(format!(
                        "{stream}: {total} records have {property} = {from} ms; HubSpot search \
                         returns at most {SEARCH_RESULT_CAP} per query and the window cannot be \
                         split further"
                    )));
                }
                position.total = total;
            } else if total != position.total {
                return Err(decode_error(format!(
                    "{stream}: search window [{from}, {to}) reported {} records, now {total}: \
                     records changed during the sync; it must start over",
                    position.total
                )));
            }
            let next_after = answer.next_after();
            let records = records(stream, answer.results, &mut cursor)?;
            position.read += records.len() as u64;
            match next_after {
                Some(after) if !records.is_empty() => {
                    position.after = Some(after);
                    return Ok(Page {
                        records,
                        next_page_token: Some(position.encode()),
                        cursor: cursor.map(Value::from),
                    });
                }
                _ => {
                    if position.read != position.total {
                        return Err(decode_error(format!(
                            "{stream}: search window [{from}, {to}) reported {} records but \
                             returned {} (HubSpot stops at {SEARCH_RESULT_CAP} per query)",
                            position.total, position.read
                        )));
                    }
                    position.finish_window();
                    if !records.is_empty() || position.windows.is_empty() {
                        let next_page_token =
                            (!position.windows.is_empty()).then(|| position.encode());
                        return Ok(Page {
                            records,
                            next_page_token,
                            cursor: cursor.map(Value::from),
                        });
                    }
                }
            }
        }
        Ok(Page {
            records: Vec::new(),
            next_page_token: None,
            cursor: cursor.map(Value::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_split_lower_half_first_and_round_trip_as_tokens() {
        let mut position = Position::start(0, 10);
        assert!(position.split());
        assert_eq!(position.windows, vec![(5, 10), (0, 5)]);
        assert_eq!(Position::decode(&position.encode()).unwrap(), position);
        let mut narrow = Position::start(7, 8);
        assert!(!narrow.split());
        assert!(Position::start(9, 9).windows.is_empty());
        assert!(Position::decode("garbage").is_err());
    }
}
