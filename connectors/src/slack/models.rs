//! The parts of Slack's answers the connector reads; records themselves stay raw JSON.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every answer's envelope: `{"ok": true, …}` or `{"ok": false, "error": "…"}` — both with
/// HTTP 200. `missing_scope` adds the scope `needed` and the scopes `provided`.
#[derive(Deserialize)]
pub struct Status {
    pub ok: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub needed: Option<String>,
    #[serde(default)]
    pub provided: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct ResponseMetadata {
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl ResponseMetadata {
    /// The cursor of the next page; `None` at the end (Slack sends `""` or nothing).
    pub fn next(self) -> Option<String> {
        self.next_cursor.filter(|c| !c.trim().is_empty())
    }
}

/// `conversations.history` and `conversations.replies`.
#[derive(Deserialize)]
pub struct MessagePage {
    #[serde(default)]
    pub messages: Vec<Box<RawValue>>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub response_metadata: ResponseMetadata,
}

impl MessagePage {
    pub fn next(self) -> (Vec<Box<RawValue>>, Option<String>) {
        let next = self.response_metadata.next().filter(|_| self.has_more);
        (self.messages, next)
    }
}

/// `files.list`: classic paging (`count` + `page`).
#[derive(Deserialize)]
pub struct FilePage {
    #[serde(default)]
    pub files: Vec<Box<RawValue>>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Deserialize)]
pub struct Paging {
    pub page: u64,
    pub pages: u64,
}

/// The fields of a listed object the connector needs.
#[derive(Deserialize)]
pub struct Head {
    pub id: String,
    /// Conversations only: whether the token's user (the bot) is in it. Absent on IMs.
    #[serde(default)]
    pub is_member: Option<bool>,
}

/// The fields of a message the connector needs.
#[derive(Deserialize)]
pub struct MessageHead {
    pub ts: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub reply_count: Option<u64>,
    #[serde(default)]
    pub latest_reply: Option<String>,
    #[serde(default)]
    pub edited: Option<Edited>,
    #[serde(default)]
    pub channel: Option<serde_json::Value>,
}

#[derive(Deserialize)]
pub struct Edited {
    #[serde(default)]
    pub ts: Option<String>,
}

impl MessageHead {
    /// The latest thing that happened to the message: posted, edited, or replied to (µs).
    pub fn last_change(&self) -> Option<i64> {
        let edited = self.edited.as_ref().and_then(|e| e.ts.as_deref());
        [Some(self.ts.as_str()), edited, self.latest_reply.as_deref()]
            .into_iter()
            .flatten()
            .filter_map(ts_micros)
            .max()
    }

    /// The parent of a thread with replies (not a reply, not a lone message).
    pub fn has_replies(&self) -> bool {
        self.reply_count.unwrap_or(0) > 0 && self.thread_ts.as_deref().is_none_or(|t| t == self.ts)
    }

    /// Whether the message's thread got a reply after `floor` (µs).
    pub fn latest_reply_after(&self, floor: i64) -> bool {
        self.latest_reply
            .as_deref()
            .and_then(ts_micros)
            .is_some_and(|t| t > floor)
    }

    /// Whether the message was posted or edited after `floor` (µs).
    pub fn changed_after(&self, floor: i64) -> bool {
        let edited = self.edited.as_ref().and_then(|e| e.ts.as_deref());
        [Some(self.ts.as_str()), edited]
            .into_iter()
            .flatten()
            .filter_map(ts_micros)
            .any(|t| t > floor)
    }
}

/// The fields of a file the connector needs.
#[derive(Deserialize)]
pub struct FileHead {
    pub id: String,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default)]
    pub updated: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub is_external: bool,
    #[serde(default)]
    pub url_private_download: Option<String>,
}

/// Parses a Slack `ts` (`"1700000000.000100"`) to microseconds: message timestamps must be
/// compared as numbers, and the cursor must be moved back by a duration.
pub fn ts_micros(ts: &str) -> Option<i64> {
    let ts = ts.trim();
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if secs.is_empty() || !digits(secs) || frac.len() > 6 || !digits(frac) {
        return None;
    }
    let micros: i64 = format!("{frac:0<6}").parse().ok()?;
    secs.parse::<i64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(micros)
}

/// Formats microseconds as a Slack `ts`.
pub fn ts_string(micros: i64) -> String {
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_compare_as_numbers() {
        assert_eq!(ts_micros("1700000000.000100"), Some(1_700_000_000_000_100));
        assert_eq!(ts_micros("9.5"), Some(9_500_000));
        assert!(ts_micros("999999999.9") < ts_micros("1000000000.0"));
        assert_eq!(ts_string(1_700_000_000_000_100), "1700000000.000100");
        for bad in ["", "x", "1.1234567", "-3.0", "1e9"] {
            assert_eq!(ts_micros(bad), None, "{bad}");
        }
        let head: MessageHead = serde_json::from_str(
            r#"{"ts":"10.0","thread_ts":"10.0","reply_count":2,"latest_reply":"30.0","edited":{"ts":"20.0"}}"#,
        )
        .unwrap();
        assert!(head.has_replies());
        assert_eq!(head.last_change(), Some(30_000_000));
        assert!(head.changed_after(15_000_000) && !head.changed_after(20_000_000));
        let reply: MessageHead =
            serde_json::from_str(r#"{"ts":"11.0","thread_ts":"10.0","reply_count":1}"#).unwrap();
        assert!(!reply.has_replies());
    }
}
