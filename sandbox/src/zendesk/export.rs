//! Cursor-based incremental exports: `GET /api/v2/incremental/{tickets|users}/cursor.json`.
//!
//! The first request gives `start_time` (Unix seconds; items updated at or after it), later ones
//! the opaque `cursor` from `after_cursor`. Pages hold up to 1000 items (`per_page`) in
//! `(updated_at, id)` order; `end_of_stream` says the caller is caught up, and its
//! `after_cursor` is where the next sync starts. Items updated in the last
//! [`RECENT_EXCLUSION_SECS`] of the clock are left out — they come with a later request.
//! Exports have their own small budget ([`ExportWindow`]), apart from the account's.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use super::error::ApiError;
use super::state::Kind;
use super::{RECENT_EXCLUSION_SECS, ZendeskFake};

pub(crate) const MAX_EXPORT_PAGE: u64 = 1000;

/// A fixed window of real time allowing `limit` export requests.
#[derive(Debug)]
pub(crate) struct ExportWindow {
    limit: u32,
    per: Duration,
    start: Instant,
    used: u32,
}

impl ExportWindow {
    pub(crate) fn new(limit: u32, per: Duration) -> Self {
        Self {
            limit,
            per,
            start: Instant::now(),
            used: 0,
        }
    }

    /// Counts one request, or says how many whole seconds until the window reopens.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), u64> {
        let elapsed = now.saturating_duration_since(self.start);
        if elapsed >= self.per {
            self.start = now;
            self.used = 0;
        }
        if self.used < self.limit {
            self.used += 1;
            return Ok(());
        }
        let left = self.per.saturating_sub(elapsed);
        Err(left.as_secs_f64().ceil().max(1.0) as u64)
    }
}

impl ZendeskFake {
    /// Spends one request of the export budget.
    pub(crate) fn take_export_budget(&self) -> Result<(), ApiError> {
        let taken = self
            .export_window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take(Instant::now());
        taken.map_err(|retry_after| {
            self.export_throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            ApiError::rate_limited(retry_after)
        })
    }

    /// One page of the export of `kind`; `base` is the URL prefix for `after_url`.
    pub(crate) fn export(
        &self,
        kind: Kind,
        params: &[(String, String)],
        base: &str,
    ) -> Result<Value, ApiError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let per_page = match get("per_page") {
            None => MAX_EXPORT_PAGE,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_EXPORT_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "InvalidValue",
                        format!("per_page must be between 1 and {MAX_EXPORT_PAGE}"),
                    )
                })?,
        };
        let state = self.lock();
        let cutoff = state.now.saturating_sub(RECENT_EXCLUSION_SECS);
        let position = match (get("cursor"), get("start_time")) {
            (Some(cursor), _) => decode_cursor(cursor)?,
            (None, Some(start)) => {
                let start: i64 = start.parse().map_err(|_| {
                    ApiError::invalid("InvalidValue", "start_time must be a Unix timestamp")
                })?;
                if start > cutoff {
                    return Err(ApiError::invalid(
                        "InvalidValue",
                        "Too recent start_time. Use a start_time older than 1 minute.",
                    ));
                }
                (start.saturating_sub(1), u64::MAX)
            }
            (None, None) => {
                return Err(ApiError::invalid(
                    "InvalidValue",
                    "start_time or cursor is required",
                ));
            }
        };
        let (items, more) = state.stream(kind).changed_after(
            kind,
            position,
            cutoff,
            usize::try_from(per_page).unwrap_or(usize::MAX),
        );
        drop(state);
        let after = items
            .last()
            .map(|&(index, meta)| (meta.updated_at, kind.id(index)))
            .unwrap_or(position);
        let records: Vec<Value> = items
            .into_iter()
            .map(|(index, meta)| self.generate(kind, index, meta))
            .collect();
        let cursor = encode_cursor(after);
        Ok(json!({
            kind.name(): records,
            "after_cursor": cursor,
            "before_cursor": null,
            "after_url": format!("{base}/api/v2/incremental/{}/cursor.json?cursor={cursor}", kind.name()),
            "before_url": null,
            "end_of_stream": !more,
        }))
    }
}

fn encode_cursor((at, id): (i64, u64)) -> String {
    B64.encode(format!("zdx:{at}:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(i64, u64), ApiError> {
    B64.decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| {
            let rest = s.strip_prefix("zdx:")?;
            let (at, id) = rest.split_once(':')?;
            Some((at.parse().ok()?, id.parse().ok()?))
        })
        .ok_or_else(|| ApiError::invalid("InvalidValue", "cursor is not a valid export cursor"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_refuses_past_its_limit_and_reopens() {
        let start = Instant::now();
        let mut window = ExportWindow::new(2, Duration::from_secs(60));
        window.start = start;
        assert_eq!(window.take(start), Ok(()));
        assert_eq!(window.take(start), Ok(()));
        assert_eq!(window.take(start + Duration::from_secs(15)), Err(45));
        assert_eq!(window.take(start + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor((-5, 9))), Ok((-5, 9)));
        assert!(decode_cursor("nope").is_err());
    }
}
