//! The workspace the Slack fake serves — users, conversations with their messages and thread
//! replies, and files — generated once from the seed, then changed by tests through
//! [`super::SlackFake`]'s mutations. Everything is held in memory: Slack datasets in tests are
//! small, and edits, replies and removals are then plain updates.

use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

mod generation;

use super::time;
use crate::generate::{self, fake};
use generation::LINES;

/// The first generated message was posted at this time (2023-11-14).
pub(crate) const BASE_SECS: i64 = 1_700_000_000;
/// Files of this size exist too (the rest are bytes to a few KB).
pub(crate) const LARGE_FILE_BYTES: usize = 100_000;

/// The record counts a workspace is generated with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) channels: u64,
    pub(crate) members: u64,
    /// Top-level messages per channel.
    pub(crate) messages: u64,
    /// Threaded messages per channel (each with 1-3 replies).
    pub(crate) threads: u64,
    /// Files in the whole workspace.
    pub(crate) files: u64,
}

/// A conversation type, as `conversations.list`'s `types` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Public,
    Private,
    Mpim,
    Im,
}

impl Kind {
    pub(crate) fn from_type(name: &str) -> Option<Self> {
        match name.trim() {
            "public_channel" => Some(Kind::Public),
            "private_channel" => Some(Kind::Private),
            "mpim" => Some(Kind::Mpim),
            "im" => Some(Kind::Im),
            _ => None,
        }
    }

    /// The id prefix Slack uses for this kind.
    fn prefix(self) -> &'static str {
        match self {
            Kind::Im => "D",
            Kind::Private | Kind::Mpim => "G",
            Kind::Public => "C",
        }
    }
}

/// The shape of channel `index`: every sixth channel is public without the bot in it, so
/// its history cannot be read.
fn shape(index: u64) -> (Kind, bool) {
    match index % 6 {
        0 | 1 => (Kind::Public, true),
        2 => (Kind::Private, true),
        3 => (Kind::Public, false),
        4 => (Kind::Mpim, true),
        _ => (Kind::Im, true),
    }
}

#[derive(Debug)]
pub(crate) struct Channel {
    pub(crate) id: String,
    pub(crate) kind: Kind,
    /// Whether the bot is in the conversation (and so may read it).
    pub(crate) member: bool,
    json: Value,
    /// Top-level messages, oldest first.
    pub(crate) messages: Vec<Message>,
}

#[derive(Debug)]
pub(crate) struct Message {
    pub(crate) ts: i64,
    json: Value,
    /// The file shared with this message (an index into [`Workspace::files`]).
    file: Option<usize>,
    /// Thread replies, oldest first.
    pub(crate) replies: Vec<Reply>,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) ts: i64,
    pub(crate) json: Value,
}

#[derive(Debug)]
pub(crate) struct File {
    pub(crate) id: String,
    /// Unix seconds.
    pub(crate) created: i64,
    pub(crate) channel: usize,
    json: Value,
    /// `None` for external files (a Google Doc linked into Slack): nothing to download.
    pub(crate) contents: Option<Vec<u8>>,
    pub(crate) deleted: bool,
}

impl File {
    pub(crate) fn mime_type(&self) -> &str {
        self.json["mimetype"]
            .as_str()
            .unwrap_or("application/octet-stream")
    }
}

#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) team_id: String,
    pub(crate) bot_user_id: String,
    users: Vec<Value>,
    pub(crate) channels: Vec<Channel>,
    pub(crate) files: Vec<File>,
    /// The newest timestamp handed out (µs): every change happens after it.
    clock: i64,
    /// Where file URLs point: the address the sandbox serves on.
    origin: String,
    mutation_key: u64,
    mutations: u64,
}

impl Workspace {
    /// Points file URLs at `origin` (the address the sandbox serves on).
    pub(crate) fn set_origin(&mut self, origin: &str) {
        origin.trim_end_matches('/').clone_into(&mut self.origin);
    }

    /// The path under the fake's root that serves a file's contents.
    pub(crate) fn download_path(&self, file: &File) -> String {
        format!(
            "/slack/files-pri/{}-{}/download/{}",
            self.team_id,
            file.id,
            file.json["name"].as_str().unwrap_or("file")
        )
    }

    pub(crate) fn file_by_key(&self, key: &str) -> Option<&File> {
        let id = key.strip_prefix(&self.team_id)?.strip_prefix('-')?;
        self.files.iter().find(|f| f.id == id && !f.deleted)
    }

    /// A file as `files.list` and messages show it.
    pub(crate) fn render_file(&self, file: &File) -> Value {
        let mut json = file.json.clone();
        if file.contents.is_some() {
            let download = format!("{}{}", self.origin, self.download_path(file));
            json["url_private"] = json!(download.replacen("/download/", "/", 1));
            json["url_private_download"] = json!(download);
        }
        json
    }

    pub(crate) fn render_message(&self, message: &Message) -> Value {
        let mut json = message.json.clone();
        if let Some(file) = message.file.and_then(|f| self.files.get(f)) {
            json["files"] = if file.deleted {
                json!([{"id": file.id, "mode": "tombstone"}])
            } else {
                json!([self.render_file(file)])
            };
        }
        json
    }

    /// A conversation as `conversations.list` shows it to the bot.
    pub(crate) fn render_channel(&self, channel: &Channel) -> Value {
        let mut json = channel.json.clone();
        if channel.kind != Kind::Im {
            json["is_member"] = json!(channel.member);
        }
        json
    }

    /// Whether the bot sees the conversation in `conversations.list`: every public channel,
    /// and the private ones it is in.
    pub(crate) fn listed(channel: &Channel) -> bool {
        channel.kind == Kind::Public || channel.member
    }

    pub(crate) fn users(&self) -> &[Value] {
        &self.users
    }

    pub(crate) fn channel_index(&self, id: &str) -> Option<usize> {
        self.channels.iter().position(|c| c.id == id)
    }

    /// Files `files.list` shows: not deleted, shared where the bot can see them.
    pub(crate) fn visible_files(&self) -> impl Iterator<Item = &File> {
        self.files
            .iter()
            .filter(|f| !f.deleted && self.channels[f.channel].member)
    }

    fn tick(&mut self) -> (i64, ChaCha8Rng) {
        self.clock += 1_000_000;
        self.mutations += 1;
        (
            self.clock,
            generate::record_rng(self.mutation_key, self.mutations),
        )
    }

    /// Posts a new message; returns its `ts`.
    pub(crate) fn post(&mut self, channel: usize) -> String {
        let (ts, mut rng) = self.tick();
        let message = self.new_message(&mut rng, ts);
        self.channels[channel].messages.push(message);
        time::format(ts)
    }

    /// Edits a message's text, as a user would; `false` when there is no such message.
    pub(crate) fn edit(&mut self, channel: usize, ts: i64) -> bool {
        let (now, mut rng) = self.tick();
        let editor = self.someone(&mut rng);
        let Some(message) = self.channels[channel]
            .messages
            .iter_mut()
            .find(|m| m.ts == ts)
        else {
            return false;
        };
        let text = message.json["text"].as_str().unwrap_or_default().to_owned();
        message.json["text"] = json!(format!("{text} (updated)"));
        message.json["edited"] = json!({"user": editor, "ts": time::format(now)});
        true
    }

    /// Replies in the thread of message `ts`; returns the reply's `ts`.
    pub(crate) fn reply(&mut self, channel: usize, ts: i64) -> Option<String> {
        let (now, mut rng) = self.tick();
        let user = self.someone(&mut rng);
        let text = fake::pick(&mut rng, LINES);
        let message = self.channels[channel]
            .messages
            .iter_mut()
            .find(|m| m.ts == ts)?;
        add_reply(message, now, &user, text);
        Some(time::format(now))
    }

    /// Shares a new file in a new message; returns the file's id.
    pub(crate) fn upload(&mut self, channel: usize) -> String {
        let (ts, mut rng) = self.tick();
        let index = self.files.len() as u64;
        let mut message = self.new_message(&mut rng, ts);
        let file = self.new_file(&mut rng, index, channel, ts);
        let id = file.id.clone();
        message.json["upload"] = json!(true);
        message.json["user"] = file.json["user"].clone();
        self.files.push(file);
        message.file = Some(self.files.len() - 1);
        self.channels[channel].messages.push(message);
        id
    }

    pub(crate) fn delete_file(&mut self, id: &str) -> bool {
        match self.files.iter_mut().find(|f| f.id == id && !f.deleted) {
            Some(file) => {
                file.deleted = true;
                true
            }
            None => false,
        }
    }
}

/// Adds a reply to `message`'s thread and updates the thread fields Slack keeps on the parent.
fn add_reply(message: &mut Message, ts: i64, user: &str, text: &str) {
    let parent_ts = time::format(message.ts);
    let parent_user = message.json["user"].clone();
    message.replies.push(Reply {
        ts,
        json: json!({
            "type": "message", "user": user, "text": text, "ts": time::format(ts),
            "thread_ts": parent_ts, "parent_user_id": parent_user,
        }),
    });
    let mut users: Vec<String> = Vec::new();
    for reply in &message.replies {
        if let Some(u) = reply.json["user"].as_str()
            && !users.iter().any(|seen| seen == u)
        {
            users.push(u.to_owned());
        }
    }
    let parent = &mut message.json;
    parent["thread_ts"] = json!(parent_ts);
    parent["reply_count"] = json!(message.replies.len());
    parent["reply_users_count"] = json!(users.len());
    parent["reply_users"] = json!(users);
    parent["latest_reply"] = json!(time::format(ts));
    parent["is_locked"] = json!(false);
    parent["subscribed"] = json!(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Counts {
        Counts {
            channels: 12,
            members: 10,
            messages: 20,
            threads: 4,
            files: 15,
        }
    }

    #[test]
    fn generation_is_deterministic_and_ids_are_unique() {
        let a = Workspace::generate(3, counts());
        let b = Workspace::generate(3, counts());
        assert_eq!(a.users, b.users);
        assert_eq!(
            a.channels.iter().map(|c| &c.json).collect::<Vec<_>>(),
            b.channels.iter().map(|c| &c.json).collect::<Vec<_>>()
        );
        let mut ids: Vec<&str> = a.channels.iter().map(|c| c.id.as_str()).collect();
        ids.extend(a.files.iter().map(|f| f.id.as_str()));
        ids.extend(a.users.iter().filter_map(|u| u["id"].as_str()));
        let before = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), before, "ids are unique");
        assert_eq!(a.files.len(), 15);
        assert!(
            a.files
                .iter()
                .any(|f| f.contents.as_ref().map(Vec::len) == Some(LARGE_FILE_BYTES))
        );
        assert!(
            a.files.iter().any(|f| f.contents.is_none()),
            "external files"
        );
        assert!(a.channels.iter().any(|c| !c.member));
    }

    #[test]
    fn threads_replies_and_edits_update_the_parent() {
        let mut ws = Workspace::generate(3, counts());
        let threaded = ws.channels[0]
            .messages
            .iter()
            .filter(|m| !m.replies.is_empty())
            .count();
        assert_eq!(threaded, 4);
        let parent = ws.channels[0].messages[5].ts;
        let reply = ws.reply(0, parent).unwrap();
        let json = ws.render_message(&ws.channels[0].messages[5]);
        assert_eq!(json["latest_reply"], reply.as_str());
        assert!(time::parse(&reply).unwrap() > parent);
        assert!(ws.edit(0, parent));
        let json = ws.render_message(&ws.channels[0].messages[5]);
        assert!(time::parse(json["edited"]["ts"].as_str().unwrap()).unwrap() > parent);
        assert!(!ws.edit(0, 1));
    }
}
