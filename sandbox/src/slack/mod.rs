//! A fake of Slack's Web API under `/slack` (so a connector's base URL is `{sandbox}/slack`):
//! `auth.test`, `conversations.list`, `users.list`, `conversations.history`,
//! `conversations.replies`, `files.list` and `oauth.v2.access` at `/slack/api/{method}` (GET
//! with a query or POST with a form), and file contents at `/slack/files-pri/…` as
//! `url_private_download` names them.
//!
//! It follows Slack's documented behaviour where a connector can notice:
//! - **Errors are HTTP 200** with `{"ok": false, "error": "…"}` (`invalid_auth`,
//!   `token_expired`, `token_revoked`, `not_authed`, `channel_not_found`, `not_in_channel`,
//!   `thread_not_found`, `invalid_cursor`, `missing_scope` with `needed`/`provided`, …); only
//!   rate limits answer 429, with `Retry-After` and `{"ok": false, "error": "ratelimited"}`.
//! - **Tokens**: a bot token that never expires ([`SlackFake::bot_token`], an install without
//!   token rotation), or tokens from the sandbox's OAuth authority with Slack's rotation policy:
//!   access tokens live 12 hours and every `oauth.v2.access` refresh returns a new refresh token
//!   and retires the old one. Downloads with a bad token get Slack's sign-in page — HTML, with
//!   a 200.
//! - **Pagination**: `limit` + `cursor` -> `response_metadata.next_cursor` (empty, or absent
//!   from history and replies, at the end); `files.list` pages by `count` + `page` with a
//!   `paging` object, newest first, filtered by `ts_from`/`ts_to` (inclusive).
//! - **History**: newest first, thread replies left out (only their parents, which carry
//!   `reply_count` and `latest_reply`), `oldest`/`latest`/`inclusive`; `conversations.replies`
//!   repeats the parent at the top of every page. Public channels the bot is not in are listed
//!   (`is_member: false`) but their history answers `not_in_channel`.
//! - **Rate limits** per method and tier (Tier 2: 20, Tier 3: 50 a minute; history and replies
//!   1 a minute with at most 15 messages for apps outside the Marketplace), enforced per a
//!   window the test chooses ([`SlackFake::set_rate_window`]).
//!
//! The workspace is generated from the seed ([`workspace`]) and changed through the mutations
//! below (new, edited and threaded messages, uploads, deletions, the bot leaving a channel).

pub(crate) mod api;
mod limits;
mod methods;
mod time;
mod workspace;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::oauth::{OAuthAuthority, TokenPolicy};
use workspace::{Counts, Workspace};

/// The streams the fake serves (as `slack.<stream>` record counts).
pub const STREAMS: [&str; 5] = ["channels", "members", "messages", "threads", "files"];

/// The platform name tokens are issued for.
pub const PLATFORM: &str = "slack";

/// Slack's token rotation: access tokens expire after 12 hours, refresh tokens rotate.
pub const TOKEN_POLICY: TokenPolicy = TokenPolicy {
    access_ttl_secs: 12 * 3600,
    rotate_refresh_tokens: true,
};

/// The bot token of an install without token rotation: it never expires.
pub const DEFAULT_BOT_TOKEN: &str = "xoxb-1-sandbox-bot-token";

/// The record count a stream starts with when the config does not say: 6 channels (one of
/// each shape, see [`workspace`]), 20 members, 30 messages and 5 threads per channel, 8 files.
pub(crate) fn default_count(stream: &str) -> u64 {
    match stream {
        "channels" => 6,
        "members" => 20,
        "messages" => 30,
        "threads" => 5,
        _ => 8,
    }
}

/// The Slack fake: one workspace, its limits and its tokens.
#[derive(Debug)]
pub struct SlackFake {
    oauth: Arc<OAuthAuthority>,
    workspace: Mutex<Workspace>,
    limits: limits::Limits,
    bot_token_revoked: AtomicBool,
    origin_set: AtomicBool,
    /// Error codes the next calls of a method answer with ([`SlackFake::fail_next`]).
    failures: Mutex<HashMap<String, VecDeque<String>>>,
}

fn known_stream(stream: &str) -> &str {
    assert!(
        STREAMS.contains(&stream),
        "unknown Slack stream `{stream}` (known: {})",
        STREAMS.join(", ")
    );
    stream
}

/// A message or reply as the connector records it: Slack's object plus the conversation id,
/// which the API leaves out because the request names it.
pub fn with_channel(mut message: Value, channel: &str) -> Value {
    if let Some(object) = message.as_object_mut() {
        object
            .entry("channel")
            .or_insert_with(|| Value::from(channel));
    }
    message
}

impl SlackFake {
    pub(crate) fn new(seed: u64, oauth: Arc<OAuthAuthority>, counts: impl Fn(&str) -> u64) -> Self {
        oauth.set_policy(PLATFORM, TOKEN_POLICY);
        let counts = Counts {
            channels: counts("channels"),
            members: counts("members"),
            messages: counts("messages"),
            threads: counts("threads"),
            files: counts("files"),
        };
        Self {
            oauth,
            workspace: Mutex::new(Workspace::generate(seed, counts)),
            limits: limits::Limits::default(),
            bot_token_revoked: AtomicBool::new(false),
            origin_set: AtomicBool::new(false),
            failures: Mutex::default(),
        }
    }

    pub(crate) fn workspace(&self) -> MutexGuard<'_, Workspace> {
        self.workspace
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn oauth(&self) -> &OAuthAuthority {
        &self.oauth
    }

    pub(crate) fn limits(&self) -> &limits::Limits {
        &self.limits
    }

    /// File URLs name the first address the sandbox serves on.
    pub(crate) fn serving_at(&self, origin: &str) {
        if !self.origin_set.swap(true, Ordering::SeqCst) {
            self.workspace().set_origin(origin);
        }
    }

    /// The non-expiring bot token of an install without token rotation.
    pub fn bot_token(&self) -> &'static str {
        DEFAULT_BOT_TOKEN
    }

    /// Revokes the bot token (the app was uninstalled): it answers `token_revoked` from now on.
    pub fn revoke_bot_token(&self) {
        self.bot_token_revoked.store(true, Ordering::SeqCst);
    }

    pub(crate) fn bot_token_revoked(&self) -> bool {
        self.bot_token_revoked.load(Ordering::SeqCst)
    }

    pub fn team_id(&self) -> String {
        self.workspace().team_id.clone()
    }

    /// Every record a full backup of `stream` holds, as the connector records them.
    ///
    /// # Panics
    /// When `stream` is not one of [`STREAMS`]; so do the other test helpers given an unknown
    /// channel (the HTTP surface answers those with Slack's errors).
    pub fn records(&self, stream: &str) -> Vec<Value> {
        let ws = self.workspace();
        let readable = ws.channels.iter().filter(|c| c.member);
        match known_stream(stream) {
            "channels" => ws
                .channels
                .iter()
                .filter(|c| Workspace::listed(c))
                .map(|c| ws.render_channel(c))
                .collect(),
            "members" => ws.users().to_vec(),
            "messages" => readable
                .flat_map(|c| {
                    c.messages
                        .iter()
                        .map(|m| with_channel(ws.render_message(m), &c.id))
                })
                .collect(),
            "threads" => readable
                .flat_map(|c| {
                    c.messages.iter().flat_map(|m| {
                        m.replies
                            .iter()
                            .map(|r| with_channel(r.json.clone(), &c.id))
                    })
                })
                .collect(),
            _ => ws.visible_files().map(|f| ws.render_file(f)).collect(),
        }
    }

    /// Every conversation id, listed or not, in creation order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.workspace()
            .channels
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    /// The conversations whose history the bot can read.
    pub fn readable_channel_ids(&self) -> Vec<String> {
        self.workspace()
            .channels
            .iter()
            .filter(|c| c.member)
            .map(|c| c.id.clone())
            .collect()
    }

    /// The `ts` of every top-level message of `channel`, oldest first.
    pub fn message_ts(&self, channel: &str) -> Vec<String> {
        let ws = self.workspace();
        ws.channels[Self::index(&ws, channel)]
            .messages
            .iter()
            .map(|m| time::format(m.ts))
            .collect()
    }

    /// The `ts` of every message of `channel` with thread replies, oldest first.
    pub fn thread_ts(&self, channel: &str) -> Vec<String> {
        let ws = self.workspace();
        ws.channels[Self::index(&ws, channel)]
            .messages
            .iter()
            .filter(|m| !m.replies.is_empty())
            .map(|m| time::format(m.ts))
            .collect()
    }

    /// The `ts` of every reply in the thread of `channel`'s message `ts`.
    pub fn reply_ts(&self, channel: &str, ts: &str) -> Vec<String> {
        let ws = self.workspace();
        let ts = time::parse(ts);
        ws.channels[Self::index(&ws, channel)]
            .messages
            .iter()
            .filter(|m| Some(m.ts) == ts)
            .flat_map(|m| m.replies.iter().map(|r| time::format(r.ts)))
            .collect()
    }

    /// The bytes a file downloads as; `None` for external files and unknown ids.
    pub fn file_contents(&self, file_id: &str) -> Option<Vec<u8>> {
        self.workspace()
            .files
            .iter()
            .find(|f| f.id == file_id)
            .and_then(|f| f.contents.clone())
    }

    /// Posts a message in `channel`, after everything else; returns its `ts`.
    pub fn post(&self, channel: &str) -> String {
        let mut ws = self.workspace();
        let index = Self::index(&ws, channel);
        ws.post(index)
    }

    /// Edits message `ts` of `channel` (its text and `edited`); `false` when there is none.
    pub fn edit(&self, channel: &str, ts: &str) -> bool {
        let mut ws = self.workspace();
        let index = Self::index(&ws, channel);
        time::parse(ts).is_some_and(|ts| ws.edit(index, ts))
    }

    /// Replies in the thread of message `ts` of `channel` (starting one if there is none);
    /// returns the reply's `ts`.
    pub fn reply(&self, channel: &str, ts: &str) -> Option<String> {
        let mut ws = self.workspace();
        let index = Self::index(&ws, channel);
        ws.reply(index, time::parse(ts)?)
    }

    /// Shares a new file in `channel`; returns its id.
    pub fn upload(&self, channel: &str) -> String {
        let mut ws = self.workspace();
        let index = Self::index(&ws, channel);
        ws.upload(index)
    }

    /// Deletes a file; `false` when there is none with that id.
    pub fn delete_file(&self, file_id: &str) -> bool {
        self.workspace().delete_file(file_id)
    }

    /// Removes the bot from `channel`: its history answers `not_in_channel` (public) or
    /// `channel_not_found` (private) from now on.
    pub fn remove_bot(&self, channel: &str) {
        let mut ws = self.workspace();
        let index = Self::index(&ws, channel);
        ws.channels[index].member = false;
    }

    /// The next `times` calls of `method` answer `{"ok": false, "error": error}` (after
    /// authentication, as Slack checks scopes and arguments).
    pub fn fail_next(&self, method: &str, error: &str, times: usize) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        failures
            .entry(method.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(error.to_owned(), times));
    }

    pub(crate) fn take_failure(&self, method: &str) -> Option<String> {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(method)?
            .pop_front()
    }

    /// Enforces Slack's per-method tier budgets per `window` instead of per minute (`None`,
    /// the default: not at all), so a test sees Slack's throttling in seconds.
    pub fn set_rate_window(&self, window: Option<Duration>) {
        self.limits.set_window(window);
    }

    /// Treats the app as distributed outside the Slack Marketplace: history and replies get 1
    /// request per window and at most 15 messages per page.
    pub fn set_non_marketplace(&self, on: bool) {
        self.limits.set_non_marketplace(on);
    }

    /// What `auth.test` answers.
    pub(crate) fn identity(&self) -> Value {
        let ws = self.workspace();
        json!({
            "url": "https://sandbox.slack.com/",
            "team": "Sandbox",
            "user": "listbackup",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": format!("B{}", &ws.bot_user_id[1..]),
            "is_enterprise_install": false,
        })
    }

    fn index(ws: &Workspace, channel: &str) -> usize {
        ws.channel_index(channel)
            .unwrap_or_else(|| panic!("no Slack conversation `{channel}` in the sandbox"))
    }
}
