//! The `messages` and `threads` streams: a walk over every conversation the bot is in.
//!
//! Slack has no workspace-wide message list, so both streams page through
//! `conversations.list` and, for each conversation, through `conversations.history` (newest
//! first); `threads` then reads each threaded message's replies with `conversations.replies`.
//! The walk's position — the conversation list cursor, the conversations of the current list
//! page still to read, the history cursor and, for threads, the threads of the current history
//! page still to read and the replies cursor — travels in the page token, so a run resumes
//! mid-conversation (even mid-thread) after a checkpoint. One `read_page` makes at most one
//! history and one replies request.
//!
//! **Incremental.** The stream cursor maps each conversation to the latest change Slack showed
//! on the *first* history page read for it in the run (the newest message's `ts`, `edited.ts`
//! or `latest_reply`): everything that happened up to that instant was visible to the rest of
//! the walk, and anything later is newer than the cursor. A sync reads each conversation's
//! history from its cursor minus the lookback (`lookback_days`) and keeps:
//! - `messages`: messages posted or edited after the cursor (edits of messages older than the
//!   window are not seen until the next full backup);
//! - `threads`: the replies posted or edited after the cursor, in threads whose
//!   `latest_reply` is after it (a reply to a thread whose parent is older than the window is
//!   not seen until the next full backup).
//!
//! A conversation the bot was removed from during the run (`not_in_channel`,
//! `channel_not_found`) is skipped with a warning: what was read of it stays in the snapshot,
//! and the run goes on.

use super::PLATFORM;
use super::client::{Answer, SlackConnector};
use super::models::{self, Head, MessageHead, MessagePage};
use super::streams::Method;
use crate::{ConnectorError, ErrorKind, Page, PageRequest, Record};
use serde::{Deserialize, Serialize};
use serde_json::{Value, value::RawValue};
use std::collections::BTreeMap;

/// Where the walk is. Serialized as the page token.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Walk {
    /// The `conversations.list` cursor after the current page; `None` after the last.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    conversations_after: Option<String>,
    /// Conversations of the current list page not finished yet; the first is being read.
    #[serde(rename = "p", default)]
    pending: Vec<String>,
    /// The history cursor into the first pending conversation; `None` at its newest message.
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    history: Option<String>,
    /// `threads`: the first pending conversation's last history page has been read.
    #[serde(rename = "e", default, skip_serializing_if = "std::ops::Not::not")]
    history_done: bool,
    /// `threads`: threads (parent `ts`) of the current history page still to read.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    threads: Vec<String>,
    /// `threads`: the replies cursor into the first pending thread.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    replies: Option<String>,
}

fn error(kind: ErrorKind, message: impl Into<String>) -> ConnectorError {
    ConnectorError::new(PLATFORM, kind, message)
}

impl Walk {
    /// The walk a page token continues, and whether it had started.
    fn resume(token: Option<&str>) -> Result<(Self, bool), ConnectorError> {
        match token {
            None => Ok((Self::default(), false)),
            Some(token) => serde_json::from_str(token)
                .map(|walk| (walk, true))
                .map_err(|e| error(ErrorKind::Config, format!("unreadable page token: {e}"))),
        }
    }

    /// Makes sure a conversation is being read, listing the next page of conversations when
    /// the current one is used up; `None` when every conversation has been read.
    async fn current(
        &mut self,
        c: &SlackConnector,
        started: &mut bool,
    ) -> Result<Option<String>, ConnectorError> {
        while self.pending.is_empty() {
            if *started && self.conversations_after.is_none() {
                return Ok(None);
            }
            let (conversations, next) =
                c.conversations(self.conversations_after.as_deref()).await?;
            *started = true;
            self.conversations_after = next;
            for json in conversations {
                let head: Head = serde_json::from_str(json.get())
                    .map_err(|e| error(ErrorKind::Decode, format!("a conversation: {e}")))?;
                // Public channels the bot is not in are listed, but their history is closed.
                if head.is_member != Some(false) {
                    self.pending.push(head.id);
                }
            }
        }
        Ok(self.pending.first().cloned())
    }

    /// Moves on to the next conversation.
    fn finish_conversation(&mut self) {
        if !self.pending.is_empty() {
            self.pending.remove(0);
        }
        self.history = None;
        self.history_done = false;
        self.threads.clear();
        self.replies = None;
    }

    fn finish_thread(&mut self) {
        if !self.threads.is_empty() {
            self.threads.remove(0);
        }
        self.replies = None;
    }

    /// The page token to continue from; `None` when the walk is over.
    fn token(&self) -> Result<Option<String>, ConnectorError> {
        if self.pending.is_empty() && self.conversations_after.is_none() {
            return Ok(None);
        }
        serde_json::to_string(self)
            .map(Some)
            .map_err(|e| error(ErrorKind::Decode, format!("page token: {e}")))
    }
}

/// The stream cursor: each conversation's latest change seen (a Slack `ts`).
#[derive(Debug, Default, Clone, PartialEq)]
struct Cursors(BTreeMap<String, i64>);

impl Cursors {
    fn from_value(value: Option<&Value>) -> Result<Self, ConnectorError> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(Self::default());
        };
        let invalid = || {
            error(
                ErrorKind::Config,
                "cursor must map conversation ids to Slack timestamps",
            )
        };
        let map = value.as_object().ok_or_else(invalid)?;
        map.iter()
            .map(|(id, ts)| {
                let micros = ts
                    .as_str()
                    .and_then(models::ts_micros)
                    .ok_or_else(invalid)?;
                Ok((id.clone(), micros))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn get(&self, conversation: &str) -> Option<i64> {
        self.0.get(conversation).copied()
    }

    fn raise(&mut self, conversation: &str, to: Option<i64>) {
        if let Some(to) = to {
            let entry = self.0.entry(conversation.to_owned()).or_insert(to);
            *entry = (*entry).max(to);
        }
    }

    fn to_value(&self) -> Value {
        self.0
            .iter()
            .map(|(id, micros)| (id.clone(), Value::from(models::ts_string(*micros))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

/// What a run starts from: the previous run's cursor (`since`) decides what counts as a
/// change; the cursor reached so far in this run is carried on.
struct Progress {
    since: Cursors,
    reached: Cursors,
}

impl Progress {
    fn of(request: &PageRequest) -> Result<Self, ConnectorError> {
        let since = Cursors::from_value(request.since.as_ref())?;
        let reached = match &request.cursor {
            Some(cursor) => Cursors::from_value(Some(cursor))?,
            None => since.clone(),
        };
        Ok(Self { since, reached })
    }

    fn page(&self, records: Vec<Record>, walk: &Walk) -> Result<Page, ConnectorError> {
        Ok(Page {
            records,
            next_page_token: walk.token()?,
            cursor: Some(self.reached.to_value()),
        })
    }
}

/// Codes that mean "this conversation is closed to the bot now".
fn conversation_gone(code: &str) -> bool {
    matches!(code, "not_in_channel" | "channel_not_found")
}

/// Messages of a history page with the fields the walk reads, and the cursor of the next page.
type HistoryPage = (Vec<(Box<RawValue>, MessageHead)>, Option<String>);

/// The next page of the current conversation's history, from the lookback window of its
/// cursor on. The run's first page of a conversation raises its cursor. A conversation closed
/// to the bot now is skipped (`None`).
async fn history_page(
    c: &SlackConnector,
    walk: &mut Walk,
    progress: &mut Progress,
    conversation: &str,
    stream: &str,
) -> Result<Option<HistoryPage>, ConnectorError> {
    let mut query = vec![
        ("channel", conversation.to_owned()),
        ("limit", c.config.message_page_size.to_string()),
    ];
    if let Some(floor) = progress.since.get(conversation) {
        let lookback = i64::try_from(c.config.lookback.as_micros()).unwrap_or(i64::MAX);
        let oldest = floor.saturating_sub(lookback).max(0);
        query.push(("oldest", models::ts_string(oldest)));
    }
    if let Some(cursor) = &walk.history {
        query.push(("cursor", cursor.clone()));
    }
    let page: MessagePage = match c.call(Method::History, &query).await? {
        Answer::Data(page) => page,
        Answer::Refused(r) if conversation_gone(&r.code) => {
            skipped(conversation, &r.code, stream);
            walk.finish_conversation();
            return Ok(None);
        }
        Answer::Refused(r) => return Err(r.into_error(Method::History)),
    };
    let first_page = walk.history.is_none();
    let (messages, next) = page.next();
    let mut heads = Vec::with_capacity(messages.len());
    for json in messages {
        let head = head(&json)?;
        if first_page {
            progress.reached.raise(conversation, head.last_change());
        }
        heads.push((json, head));
    }
    Ok(Some((heads, next)))
}

fn head(json: &RawValue) -> Result<MessageHead, ConnectorError> {
    serde_json::from_str(json.get())
        .map_err(|e| error(ErrorKind::Decode, format!("a message without `ts`: {e}")))
}

/// A message as recorded: Slack's object with the conversation's id added as `channel`
/// (the API leaves it out because the request names it), keyed `{channel}:{ts}`.
fn record(
    conversation: &str,
    json: Box<RawValue>,
    head: &MessageHead,
) -> Result<Record, ConnectorError> {
    let id = format!("{conversation}:{}", head.ts);
    if head.channel.is_some() {
        return Ok(Record::new(id, json));
    }
    let text = json.get().trim_start();
    let rest = text
        .strip_prefix('{')
        .ok_or_else(|| error(ErrorKind::Decode, "a message that is not an object"))?;
    let channel = Value::from(conversation).to_string();
    let separator = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ","
    };
    let json = RawValue::from_string(format!("{{\"channel\":{channel}{separator}{rest}"))
        .map_err(|e| error(ErrorKind::Decode, format!("message {id}: {e}")))?;
    Ok(Record::new(id, json))
}

fn skipped(conversation: &str, code: &str, stream: &str) {
    tracing::warn!(
        platform = PLATFORM,
        stream,
        conversation,
        code,
        "the conversation is closed to the app now; the rest of its history is skipped"
    );
}

pub(super) async fn messages(
    c: &SlackConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let mut progress = Progress::of(request)?;
    let (mut walk, mut started) = Walk::resume(request.page_token.as_deref())?;
    let Some(conversation) = walk.current(c, &mut started).await? else {
        return progress.page(Vec::new(), &walk);
    };
    let floor = progress.since.get(&conversation);
    let mut records = Vec::new();
    if let Some((messages, next)) =
        history_page(c, &mut walk, &mut progress, &conversation, "messages").await?
    {
        for (json, head) in messages {
            if floor.is_none_or(|f| head.changed_after(f) || head.latest_reply_after(f)) {
                records.push(record(&conversation, json, &head)?);
            }
        }
        match next {
            Some(cursor) => walk.history = Some(cursor),
            None => walk.finish_conversation(),
        }
    }
    progress.page(records, &walk)
}

pub(super) async fn threads(
    c: &SlackConnector,
    request: &PageRequest,
) -> Result<Page, ConnectorError> {
    let mut progress = Progress::of(request)?;
    let (mut walk, mut started) = Walk::resume(request.page_token.as_deref())?;
    let mut read_history = false;
    loop {
        let Some(conversation) = walk.current(c, &mut started).await? else {
            return progress.page(Vec::new(), &walk);
        };
        let floor = progress.since.get(&conversation);
        if let Some(parent) = walk.threads.first().cloned() {
            let records = replies(c, &mut walk, &conversation, &parent, floor).await?;
            return progress.page(records, &walk);
        }
        if walk.history_done {
            walk.finish_conversation();
            continue;
        }
        if read_history {
            // One history request per page: the threads it found are read from the next.
            return progress.page(Vec::new(), &walk);
        }
        read_history = true;
        if let Some((messages, next)) =
            history_page(c, &mut walk, &mut progress, &conversation, "threads").await?
        {
            for (_, head) in messages {
                if head.has_replies() && floor.is_none_or(|f| head.latest_reply_after(f)) {
                    walk.threads.push(head.ts);
                }
            }
            walk.history_done = next.is_none();
            walk.history = next;
        }
    }
}

/// One page of a thread's replies (without the parent Slack repeats at the top of each).
async fn replies(
    c: &SlackConnector,
    walk: &mut Walk,
    conversation: &str,
    parent: &str,
    floor: Option<i64>,
) -> Result<Vec<Record>, ConnectorError> {
    let mut query = vec![
        ("channel", conversation.to_owned()),
        ("ts", parent.to_owned()),
        ("limit", c.config.message_page_size.to_string()),
    ];
    if let Some(cursor) = &walk.replies {
        query.push(("cursor", cursor.clone()));
    }
    let page: MessagePage = match c.call(Method::Replies, &query).await? {
        Answer::Data(page) => page,
        // The parent was deleted since its history page was read.
        Answer::Refused(r) if r.code == "thread_not_found" => {
            walk.finish_thread();
            return Ok(Vec::new());
        }
        Answer::Refused(r) if conversation_gone(&r.code) => {
            skipped(conversation, &r.code, "threads");
            walk.finish_conversation();
            return Ok(Vec::new());
        }
        Answer::Refused(r) => return Err(r.into_error(Method::Replies)),
    };
    let (messages, next) = page.next();
    let mut records = Vec::new();
    for json in messages {
        let head = head(&json)?;
        if head.ts == parent || floor.is_some_and(|f| !head.changed_after(f)) {
            continue;
        }
        records.push(record(conversation, json, &head)?);
    }
    match next {
        Some(cursor) if walk.replies.as_deref() != Some(cursor.as_str()) => {
            walk.replies = Some(cursor)
        }
        _ => walk.finish_thread(),
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_round_trips_through_a_token() {
        let walk = Walk {
            conversations_after: Some("dGVhbTpDMDY=".into()),
            pending: vec!["C1".into(), "D2".into()],
            history: Some("bmV4dF90czox".into()),
            history_done: false,
            threads: vec!["1700000000.000100".into()],
            replies: None,
        };
        let token = walk.token().unwrap().unwrap();
        assert_eq!(Walk::resume(Some(&token)).unwrap(), (walk, true));
        assert!(Walk::resume(Some("not json")).is_err());
        assert_eq!(Walk::default().token().unwrap(), None);
    }

    #[test]
    fn records_carry_their_conversation() {
        let json = RawValue::from_string(r#"{"type":"message","ts":"1.000002"}"#.into()).unwrap();
        let first = head(&json).unwrap();
        let r = record("C1", json, &first).unwrap();
        assert_eq!(r.id, "C1:1.000002");
        let value: Value = serde_json::from_str(r.json.get()).unwrap();
        assert_eq!(value["channel"], "C1");
        assert_eq!(value["ts"], "1.000002");
        let json = RawValue::from_string(r#"{"ts":"2.0","channel":"C9"}"#.into()).unwrap();
        let second = head(&json).unwrap();
        assert_eq!(
            record("C1", json, &second).unwrap().json.get(),
            r#"{"ts":"2.0","channel":"C9"}"#
        );
    }

    #[test]
    fn cursors_keep_the_latest_change_per_conversation() {
        let mut cursors =
            Cursors::from_value(Some(&serde_json::json!({"C1": "10.000000"}))).unwrap();
        cursors.raise("C1", Some(5_000_000));
        cursors.raise("C2", Some(7_000_000));
        cursors.raise("C3", None);
        assert_eq!(
            cursors.to_value(),
            serde_json::json!({"C1": "10.000000", "C2": "7.000000"})
        );
        assert!(Cursors::from_value(Some(&serde_json::json!("10.0"))).is_err());
        assert!(Cursors::from_value(Some(&serde_json::json!({"C1": 10}))).is_err());
        assert_eq!(Cursors::from_value(None).unwrap(), Cursors::default());
    }
}
