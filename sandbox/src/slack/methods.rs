//! The Web API methods the fake answers, each a pure function of the workspace and the
//! request's arguments: `Ok(body)` is merged into `{"ok": true, …}`, `Err` is Slack's
//! `{"ok": false, "error": …}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as CURSOR_CODEC;
use serde_json::{Value, json};

use super::time;
use super::workspace::{Channel, Kind, Workspace};

/// A refused call: Slack's error code and any fields it adds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) code: String,
    pub(crate) extra: Value,
}

impl Refusal {
    pub(crate) fn new(code: &str) -> Self {
        Self {
            code: code.to_owned(),
            extra: Value::Null,
        }
    }
}

type Params = [(String, String)];
type Answer = Result<Value, Refusal>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

fn flag(params: &Params, name: &str) -> bool {
    matches!(param(params, name), Some("true" | "1"))
}

/// A page size argument (`limit`, or `files.list`'s `count`): absent or 0 means `default`;
/// larger than `max` is lowered to `max`, as Slack does.
fn limit(params: &Params, name: &str, default: usize, max: usize) -> Result<usize, Refusal> {
    match param(params, name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .map(|n| if n == 0 { default } else { n.min(max) })
            .map_err(|_| Refusal::new("invalid_limit")),
    }
}

/// Cursors are base64 of `kind:value`, like Slack's (`dXNlcjpVMDYxTkZUVDI=` is `user:U061NFTT2`).
fn encode_cursor(kind: &str, value: &str) -> String {
    CURSOR_CODEC.encode(format!("{kind}:{value}"))
}

fn decode_cursor(params: &Params, kind: &str) -> Result<Option<String>, Refusal> {
    let Some(raw) = param(params, "cursor") else {
        return Ok(None);
    };
    CURSOR_CODEC
        .decode(raw.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(&format!("{kind}:")).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| Refusal::new("invalid_cursor"))
}

/// One page of `items` starting at the item `cursor` names (by `key`), with the cursor of
/// the next page or `""`.
fn page_by_key<T>(
    items: &[T],
    key: impl Fn(&T) -> String,
    start: Option<String>,
    size: usize,
    kind: &str,
) -> Result<(usize, usize, String), Refusal> {
    let from = match start {
        None => 0,
        Some(id) => items
            .iter()
            .position(|item| key(item) == id)
            .ok_or_else(|| Refusal::new("invalid_cursor"))?,
    };
    let to = from.saturating_add(size).min(items.len());
    let next = items
        .get(to)
        .map(|item| encode_cursor(kind, &key(item)))
        .unwrap_or_default();
    Ok((from, to, next))
}

pub(crate) fn conversations_list(ws: &Workspace, params: &Params) -> Answer {
    let types = param(params, "types").unwrap_or("public_channel");
    let mut kinds = Vec::new();
    for name in types.split(',') {
        kinds.push(Kind::from_type(name).ok_or_else(|| Refusal::new("invalid_types"))?);
    }
    let exclude_archived = flag(params, "exclude_archived");
    let listed: Vec<&Channel> = ws
        .channels
        .iter()
        .filter(|c| Workspace::listed(c) && kinds.contains(&c.kind))
        .filter(|c| !(exclude_archived && ws.render_channel(c)["is_archived"] == true))
        .collect();
    let size = limit(params, "limit", 100, 1000)?;
    let start = decode_cursor(params, "team")?;
    let (from, to, next) = page_by_key(&listed, |c| c.id.clone(), start, size, "team")?;
    let channels: Vec<Value> = listed[from..to]
        .iter()
        .map(|c| ws.render_channel(c))
        .collect();
    Ok(json!({"channels": channels, "response_metadata": {"next_cursor": next}}))
}

pub(crate) fn users_list(ws: &Workspace, params: &Params) -> Answer {
    let users = ws.users();
    // Without a limit Slack returns every member at once.
    let size = limit(params, "limit", users.len().max(1), 1000)?;
    let start = decode_cursor(params, "user")?;
    let id = |u: &Value| u["id"].as_str().unwrap_or_default().to_owned();
    let (from, to, next) = page_by_key(users, id, start, size, "user")?;
    Ok(json!({
        "members": users[from..to],
        "cache_ts": super::workspace::BASE_SECS,
        "response_metadata": {"next_cursor": next},
    }))
}

/// The conversation the bot may read, or Slack's refusal: a public channel it is not in
/// answers `not_in_channel`; any other unknown or closed conversation `channel_not_found`.
fn readable<'a>(ws: &'a Workspace, params: &Params) -> Result<&'a Channel, Refusal> {
    let channel = param(params, "channel")
        .and_then(|id| ws.channel_index(id.trim()))
        .map(|i| &ws.channels[i])
        .ok_or_else(|| Refusal::new("channel_not_found"))?;
    match (channel.member, channel.kind) {
        (true, _) => Ok(channel),
        (false, Kind::Public) => Err(Refusal::new("not_in_channel")),
        (false, _) => Err(Refusal::new("channel_not_found")),
    }
}

/// `oldest`/`latest`/`inclusive` as a test on a message's ts.
fn time_range(params: &Params) -> Result<impl Fn(i64) -> bool, Refusal> {
    let bound = |name: &str, error: &str| match param(params, name) {
        None => Ok(None),
        Some(raw) => time::parse(raw)
            .map(Some)
            .ok_or_else(|| Refusal::new(error)),
    };
    let oldest = bound("oldest", "invalid_ts_oldest")?;
    let latest = bound("latest", "invalid_ts_latest")?;
    let inclusive = flag(params, "inclusive");
    Ok(move |ts: i64| {
        let after = oldest.is_none_or(|o| ts > o || inclusive && ts == o);
        let before = latest.is_none_or(|l| ts < l || inclusive && ts == l);
        after && before
    })
}

/// The page size of history and replies: Slack's, or 15 for apps outside the Marketplace.
fn message_limit(params: &Params, default: usize, non_marketplace: bool) -> Result<usize, Refusal> {
    if non_marketplace {
        limit(params, "limit", 15, 15)
    } else {
        limit(params, "limit", default, 999)
    }
}

fn ts_cursor(params: &Params) -> Result<Option<i64>, Refusal> {
    decode_cursor(params, "next_ts")?
        .map(|raw| {
            raw.parse::<i64>()
                .map_err(|_| Refusal::new("invalid_cursor"))
        })
        .transpose()
}

/// Adds `has_more` and, when there is more, `response_metadata.next_cursor`.
fn more(mut body: Value, next: Option<i64>) -> Value {
    body["has_more"] = json!(next.is_some());
    if let Some(ts) = next {
        body["response_metadata"] =
            json!({"next_cursor": encode_cursor("next_ts", &ts.to_string())});
    }
    body
}

pub(crate) fn conversations_history(
    ws: &Workspace,
    params: &Params,
    non_marketplace: bool,
) -> Answer {
    let channel = readable(ws, params)?;
    let in_range = time_range(params)?;
    let size = message_limit(params, 100, non_marketplace)?;
    let before = ts_cursor(params)?;
    let mut newest_first = channel
        .messages
        .iter()
        .rev()
        .filter(|m| in_range(m.ts) && before.is_none_or(|b| m.ts <= b));
    let page: Vec<Value> = newest_first
        .by_ref()
        .take(size)
        .map(|m| ws.render_message(m))
        .collect();
    let next = newest_first.next().map(|m| m.ts);
    Ok(more(json!({"messages": page, "pin_count": 0}), next))
}

pub(crate) fn conversations_replies(
    ws: &Workspace,
    params: &Params,
    non_marketplace: bool,
) -> Answer {
    let channel = readable(ws, params)?;
    let ts = param(params, "ts")
        .ok_or_else(|| Refusal::new("invalid_arguments"))
        .and_then(|raw| time::parse(raw).ok_or_else(|| Refusal::new("thread_not_found")))?;
    // Any message of the thread names it: its parent or one of its replies.
    let parent = channel
        .messages
        .iter()
        .find(|m| m.ts == ts || m.replies.iter().any(|r| r.ts == ts))
        .ok_or_else(|| Refusal::new("thread_not_found"))?;
    let in_range = time_range(params)?;
    let size = message_limit(params, 100, non_marketplace)?;
    let from = ts_cursor(params)?;
    let mut oldest_first = parent
        .replies
        .iter()
        .filter(|r| in_range(r.ts) && from.is_none_or(|f| r.ts >= f));
    // The parent leads every page, as Slack's does.
    let mut page = vec![ws.render_message(parent)];
    page.extend(oldest_first.by_ref().take(size).map(|r| r.json.clone()));
    let next = oldest_first.next().map(|r| r.ts);
    Ok(more(json!({"messages": page}), next))
}

pub(crate) fn files_list(ws: &Workspace, params: &Params) -> Answer {
    let seconds = |name: &str| match param(params, name) {
        None => Ok(None),
        Some(raw) => time::parse(raw)
            .map(|micros| Some(micros.div_euclid(1_000_000)))
            .ok_or_else(|| Refusal::new("invalid_arguments")),
    };
    let (from, to) = (seconds("ts_from")?, seconds("ts_to")?);
    let channel = param(params, "channel");
    let user = param(params, "user");
    let mut files: Vec<_> = ws
        .visible_files()
        .filter(|f| from.is_none_or(|t| f.created >= t) && to.is_none_or(|t| f.created <= t))
        .filter(|f| channel.is_none_or(|c| ws.channels[f.channel].id == c))
        .filter(|f| user.is_none_or(|u| ws.render_file(f)["user"] == u))
        .collect();
    files.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
    let count = limit(params, "count", 100, 1000)?;
    let page = match param(params, "page") {
        None => 1,
        Some(raw) => raw
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| Refusal::new("invalid_arguments"))?,
    };
    let total = files.len();
    let start = (page - 1).saturating_mul(count).min(total);
    let end = start.saturating_add(count).min(total);
    let listed: Vec<Value> = files[start..end]
        .iter()
        .map(|f| ws.render_file(f))
        .collect();
    Ok(json!({
        "files": listed,
        "paging": {"count": count, "total": total, "page": page, "pages": total.div_ceil(count)},
    }))
}

#[cfg(test)]
mod tests {
    use super::super::workspace::Counts;
    use super::*;

    fn ws() -> Workspace {
        Workspace::generate(
            5,
            Counts {
                channels: 6,
                members: 7,
                messages: 25,
                threads: 3,
                files: 9,
            },
        )
    }

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn history_pages_newest_first_until_has_more_is_false() {
        let ws = ws();
        let channel = ws.channels[0].id.clone();
        let mut cursor = String::new();
        let mut seen = Vec::new();
        loop {
            let page = conversations_history(
                &ws,
                &args(&[("channel", &channel), ("limit", "10"), ("cursor", &cursor)]),
                false,
            )
            .unwrap();
            seen.extend(
                page["messages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| time::parse(m["ts"].as_str().unwrap()).unwrap()),
            );
            if page["has_more"] == false {
                assert!(page.get("response_metadata").is_none());
                break;
            }
            cursor = page["response_metadata"]["next_cursor"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert_eq!(seen.len(), 25);
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first");
        let oldest = time::format(seen[5]);
        let newer = conversations_history(
            &ws,
            &args(&[("channel", &channel), ("oldest", &oldest)]),
            false,
        )
        .unwrap();
        assert_eq!(
            newer["messages"].as_array().unwrap().len(),
            5,
            "oldest is exclusive"
        );
        let capped =
            conversations_history(&ws, &args(&[("channel", &channel), ("limit", "200")]), true)
                .unwrap();
        assert_eq!(capped["messages"].as_array().unwrap().len(), 15);
    }

    #[test]
    fn unreadable_channels_and_bad_arguments_are_refused() {
        let ws = ws();
        let outside = ws.channels.iter().find(|c| !c.member).unwrap().id.clone();
        let code = |params: &[(&str, &str)]| {
            conversations_history(&ws, &args(params), false)
                .unwrap_err()
                .code
        };
        assert_eq!(code(&[("channel", &outside)]), "not_in_channel");
        assert_eq!(code(&[("channel", "C0NOPE")]), "channel_not_found");
        let general = ws.channels[0].id.clone();
        assert_eq!(
            code(&[("channel", &general), ("cursor", "???")]),
            "invalid_cursor"
        );
        assert_eq!(
            code(&[("channel", &general), ("oldest", "yesterday")]),
            "invalid_ts_oldest"
        );
        assert_eq!(
            conversations_list(&ws, &args(&[("types", "dm")]))
                .unwrap_err()
                .code,
            "invalid_types"
        );
    }

    #[test]
    fn replies_repeat_the_parent_on_every_page() {
        let ws = ws();
        let channel = &ws.channels[0];
        let parent = channel
            .messages
            .iter()
            .find(|m| m.replies.len() >= 2)
            .unwrap();
        let ts = time::format(parent.ts);
        let first = conversations_replies(
            &ws,
            &args(&[("channel", &channel.id), ("ts", &ts), ("limit", "1")]),
            false,
        )
        .unwrap();
        let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
        let second = conversations_replies(
            &ws,
            &args(&[
                ("channel", &channel.id),
                ("ts", &ts),
                ("limit", "1"),
                ("cursor", cursor),
            ]),
            false,
        )
        .unwrap();
        for page in [&first, &second] {
            assert_eq!(page["messages"][0]["ts"], ts.as_str());
        }
        assert_ne!(first["messages"][1], second["messages"][1]);
    }

    #[test]
    fn files_page_newest_first_within_inclusive_bounds() {
        let ws = ws();
        let all = files_list(&ws, &args(&[])).unwrap();
        let files = all["files"].as_array().unwrap();
        assert_eq!(all["paging"]["total"], files.len());
        let created: Vec<i64> = files
            .iter()
            .map(|f| f["created"].as_i64().unwrap())
            .collect();
        assert!(created.windows(2).all(|w| w[0] >= w[1]));
        let bound = created[2].to_string();
        let upto = files_list(&ws, &args(&[("ts_to", &bound)])).unwrap();
        assert_eq!(upto["files"][0]["created"], created[2]);
        let second = files_list(&ws, &args(&[("count", "2"), ("page", "2")])).unwrap();
        assert_eq!(second["files"][0], files[2]);
        assert_eq!(second["paging"]["pages"], files.len().div_ceil(2));
    }
}
