//! Generating the workspace from the seed: users, conversations of every shape, messages with
//! threads and reactions, and files shared in messages (a few external, a couple large).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::{
    BASE_SECS, Channel, Counts, File, Kind, LARGE_FILE_BYTES, Message, Workspace, add_reply, shape,
};
use crate::generate::{self, fake};
use crate::slack::time;

/// Seconds between consecutive generated messages (across all channels).
const MESSAGE_STEP_SECS: i64 = 60;
/// Seconds between a thread's generated replies.
const REPLY_STEP_SECS: i64 = 5;

/// An id in Slack's style: a type letter and upper-case letters and digits, unique by `index`.
fn slack_id(prefix: &str, rng: &mut ChaCha8Rng, index: u64) -> String {
    format!(
        "{prefix}0{}{}",
        fake::upper_alphanumeric(rng, 6),
        base36(index)
    )
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = vec![b'0'; 3];
    let mut i = out.len();
    while n > 0 || i == out.len() {
        if i == 0 {
            out.insert(0, DIGITS[(n % 36) as usize]);
        } else {
            i -= 1;
            out[i] = DIGITS[(n % 36) as usize];
        }
        n /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

const WORDS: &[&str] = &[
    "launch", "roadmap", "billing", "design", "support", "infra", "hiring", "sales", "growth",
    "security", "data", "mobile",
];
pub(super) const LINES: &[&str] = &[
    "Can someone take a look at this today?",
    "Shipped! Thanks everyone for the reviews.",
    "The numbers for last week are in the sheet.",
    "Reminder: planning at 10:00 tomorrow.",
    "I'll follow up with the customer after lunch.",
    "Does anyone know who owns the staging database?",
    "Moving this to next sprint, it needs more design work.",
    "Great catch, fixed in the latest build.",
];
const REACTIONS: &[&str] = &["thumbsup", "eyes", "tada", "white_check_mark", "heart"];
const FILE_KINDS: &[(&str, &str, &str, &str)] = &[
    ("txt", "text/plain", "Plain Text", "notes"),
    ("csv", "text/csv", "CSV", "export"),
    ("pdf", "application/pdf", "PDF", "report"),
    ("png", "image/png", "PNG", "screenshot"),
    ("json", "application/json", "JSON", "payload"),
];

impl Workspace {
    pub(crate) fn generate(seed: u64, counts: Counts) -> Self {
        let key = generate::namespace_key(seed, "slack.workspace");
        let mut rng = generate::record_rng(key, 0);
        let team_id = slack_id("T", &mut rng, 0);
        let bot_user_id = slack_id("U", &mut rng, 0);
        let mut ws = Self {
            team_id,
            bot_user_id,
            users: Vec::new(),
            channels: Vec::new(),
            files: Vec::new(),
            clock: BASE_SECS * 1_000_000,
            origin: "https://files.slack.com".into(),
            mutation_key: generate::namespace_key(seed, "slack.mutations"),
            mutations: 0,
        };
        let users_key = generate::namespace_key(seed, "slack.members");
        ws.users = (0..counts.members)
            .map(|i| ws.user(&mut generate::record_rng(users_key, i), i))
            .collect();
        let channels_key = generate::namespace_key(seed, "slack.channels");
        ws.channels = (0..counts.channels)
            .map(|i| ws.channel(&mut generate::record_rng(channels_key, i), i))
            .collect();
        ws.generate_messages(generate::namespace_key(seed, "slack.messages"), counts);
        ws.generate_files(generate::namespace_key(seed, "slack.files"), counts.files);
        ws
    }

    fn user(&self, rng: &mut ChaCha8Rng, index: u64) -> Value {
        let updated = BASE_SECS - 86_400 + index as i64 * 60;
        if index == 0 {
            return json!({
                "id": self.bot_user_id, "team_id": self.team_id, "name": "listbackup",
                "deleted": false, "real_name": "ListBackup", "is_bot": true, "is_app_user": false,
                "profile": {"real_name": "ListBackup", "display_name": "", "bot_id": format!("B{}", &self.bot_user_id[1..]), "team": self.team_id},
                "updated": updated,
            });
        }
        let person = fake::person(rng);
        let id = slack_id("U", rng, index);
        let handle = format!("{}.{}", person.first_name, person.last_name).to_ascii_lowercase();
        json!({
            "id": id,
            "team_id": self.team_id,
            "name": handle,
            "deleted": index % 9 == 8,
            "color": format!("{:06x}", rng.gen_range(0..0x00ff_ffff)),
            "real_name": person.name(),
            "tz": "America/Los_Angeles",
            "tz_label": "Pacific Standard Time",
            "tz_offset": -28_800,
            "profile": {
                "title": "",
                "phone": person.phone,
                "real_name": person.name(),
                "display_name": handle,
                "email": person.email,
                "team": self.team_id,
            },
            "is_admin": index == 1,
            "is_owner": index == 1,
            "is_primary_owner": index == 1,
            "is_restricted": false,
            "is_ultra_restricted": false,
            "is_bot": false,
            "is_app_user": false,
            "updated": updated,
        })
    }

    /// A user id for generated content: one of the people (or the bot when there are none).
    pub(super) fn someone(&self, rng: &mut ChaCha8Rng) -> String {
        match self.users.len() {
            0 | 1 => self.bot_user_id.clone(),
            n => self.users[rng.gen_range(1..n)]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn channel(&self, rng: &mut ChaCha8Rng, index: u64) -> Channel {
        let (kind, member) = shape(index);
        let id = slack_id(kind.prefix(), rng, index);
        let created = BASE_SECS - 30 * 86_400 + index as i64 * 3_600;
        let creator = self.someone(rng);
        let json = match kind {
            Kind::Im => json!({
                "id": id, "created": created, "is_archived": false, "is_im": true,
                "is_org_shared": false, "context_team_id": self.team_id,
                "updated": created * 1000, "user": self.someone(rng),
                "is_user_deleted": false, "priority": 0,
            }),
            _ => {
                let name = match (kind, index) {
                    (Kind::Public, 0) => "general".to_owned(),
                    (Kind::Mpim, _) => {
                        format!("mpdm-{}--{}-1", creator, self.someone(rng)).to_ascii_lowercase()
                    }
                    _ => format!("{}-{}", fake::pick(rng, WORDS), index),
                };
                json!({
                    "id": id, "name": name, "is_channel": kind == Kind::Public,
                    "is_group": kind == Kind::Private, "is_im": false,
                    "is_mpim": kind == Kind::Mpim, "is_private": kind != Kind::Public,
                    "created": created, "is_archived": index % 7 == 6,
                    "is_general": index == 0, "unlinked": 0, "name_normalized": name,
                    "is_shared": false, "is_org_shared": false, "is_pending_ext_shared": false,
                    "pending_shared": [], "context_team_id": self.team_id,
                    "updated": created * 1000, "parent_conversation": null,
                    "creator": creator, "is_ext_shared": false,
                    "shared_team_ids": [self.team_id], "pending_connected_team_ids": [],
                    "topic": {"value": "", "creator": "", "last_set": 0},
                    "purpose": {"value": format!("All about {name}"), "creator": creator, "last_set": created},
                    "previous_names": [],
                    "num_members": rng.gen_range(2..40),
                })
            }
        };
        Channel {
            id,
            kind,
            member,
            json,
            messages: Vec::new(),
        }
    }

    fn generate_messages(&mut self, key: u64, counts: Counts) {
        let stride = match counts.threads {
            0 => u64::MAX,
            t => (counts.messages / t).max(1),
        };
        for i in 0..counts.messages {
            for c in 0..self.channels.len() {
                let mut rng = generate::record_rng(key, i * self.channels.len() as u64 + c as u64);
                self.clock += MESSAGE_STEP_SECS * 1_000_000 + rng.gen_range(0..1_000_000);
                let ts = self.clock;
                let mut message = self.new_message(&mut rng, ts);
                if i % stride == 0 && i / stride < counts.threads {
                    for k in 0..rng.gen_range(1..=3_i64) {
                        let reply_ts = ts + (k + 1) * REPLY_STEP_SECS * 1_000_000 + k;
                        let user = self.someone(&mut rng);
                        add_reply(&mut message, reply_ts, &user, fake::pick(&mut rng, LINES));
                    }
                }
                self.channels[c].messages.push(message);
            }
        }
        let newest_reply = self
            .channels
            .iter()
            .flat_map(|c| c.messages.iter().flat_map(|m| m.replies.iter()))
            .map(|r| r.ts)
            .max()
            .unwrap_or(0);
        self.clock = self.clock.max(newest_reply);
    }

    pub(super) fn new_message(&self, rng: &mut ChaCha8Rng, ts: i64) -> Message {
        let mut json = json!({
            "type": "message",
            "user": self.someone(rng),
            "text": fake::pick(rng, LINES),
            "ts": time::format(ts),
            "team": self.team_id,
            "client_msg_id": format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                rng.r#gen::<u32>(), rng.r#gen::<u16>(), rng.gen_range(0..0xfff),
                rng.gen_range(0..0xfff), rng.gen_range(0..0xffff_ffff_ffff_u64)),
        });
        if rng.gen_bool(0.25) {
            json["reactions"] = json!([{
                "name": fake::pick(rng, REACTIONS),
                "users": [self.someone(rng)],
                "count": 1,
            }]);
        }
        Message {
            ts,
            json,
            file: None,
            replies: Vec::new(),
        }
    }

    fn generate_files(&mut self, key: u64, count: u64) {
        let readable: Vec<usize> = (0..self.channels.len())
            .filter(|&c| self.channels[c].member && !self.channels[c].messages.is_empty())
            .collect();
        if readable.is_empty() {
            return;
        }
        for k in 0..count {
            let mut rng = generate::record_rng(key, k);
            let channel = readable[(k % readable.len() as u64) as usize];
            let messages = self.channels[channel].messages.len();
            let start = (2 + 3 * (k / readable.len() as u64) as usize) % messages;
            let Some(at) = (0..messages)
                .map(|step| (start + step) % messages)
                .find(|&m| self.channels[channel].messages[m].file.is_none())
            else {
                continue;
            };
            let message_ts = self.channels[channel].messages[at].ts;
            let file = self.new_file(&mut rng, k, channel, message_ts);
            self.files.push(file);
            let message = &mut self.channels[channel].messages[at];
            message.file = Some(self.files.len() - 1);
            message.json["upload"] = json!(true);
            message.json["user"] = self.files[self.files.len() - 1].json["user"].clone();
        }
    }

    pub(super) fn new_file(
        &self,
        rng: &mut ChaCha8Rng,
        index: u64,
        channel: usize,
        ts: i64,
    ) -> File {
        let id = slack_id("F", rng, index);
        let created = ts.div_euclid(1_000_000);
        let user = self.someone(rng);
        let channel_ref = &self.channels[channel];
        let shared_in = match channel_ref.kind {
            Kind::Public => json!({"channels": [channel_ref.id], "groups": [], "ims": []}),
            Kind::Private | Kind::Mpim => {
                json!({"channels": [], "groups": [channel_ref.id], "ims": []})
            }
            Kind::Im => json!({"channels": [], "groups": [], "ims": [channel_ref.id]}),
        };
        let (mut json, contents) = if index % 5 == 4 {
            let doc = fake::alphanumeric(rng, 24);
            let title = format!("Plan {index}");
            (
                json!({
                    "id": id, "created": created, "timestamp": created, "name": title,
                    "title": title, "mimetype": "application/vnd.google-apps.document",
                    "filetype": "gdoc", "pretty_type": "Google Docs", "user": user,
                    "user_team": self.team_id, "editable": false, "size": 0, "mode": "external",
                    "is_external": true, "external_type": "gdrive", "is_public": false,
                    "public_url_shared": false, "display_as_bot": false, "username": "",
                    "url_private": format!("https://docs.google.com/document/d/{doc}/edit"),
                    "permalink": format!("https://sandbox.slack.com/files/{user}/{id}/plan"),
                    "comments_count": 0, "has_rich_preview": false, "file_access": "visible",
                }),
                None,
            )
        } else {
            let (ext, mime, pretty, stem) = FILE_KINDS[rng.gen_range(0..FILE_KINDS.len())];
            let size = if index % 7 == 1 {
                LARGE_FILE_BYTES
            } else {
                rng.gen_range(1..4_096)
            };
            let contents: Vec<u8> = (0..size).map(|_| rng.r#gen::<u8>()).collect();
            let name = format!("{stem}-{index}.{ext}");
            (
                json!({
                    "id": id, "created": created, "timestamp": created, "name": name,
                    "title": format!("{stem} {index}"), "mimetype": mime, "filetype": ext,
                    "pretty_type": pretty, "user": user, "user_team": self.team_id,
                    "editable": false, "size": size, "mode": "hosted", "is_external": false,
                    "external_type": "", "is_public": channel_ref.kind == Kind::Public,
                    "public_url_shared": false, "display_as_bot": false, "username": "",
                    "permalink": format!("https://sandbox.slack.com/files/{user}/{id}/{name}"),
                    "comments_count": 0, "has_rich_preview": false, "file_access": "visible",
                }),
                Some(contents),
            )
        };
        if let (Some(target), Some(shared)) = (json.as_object_mut(), shared_in.as_object()) {
            target.extend(shared.clone());
        }
        File {
            id,
            created,
            channel,
            json,
            contents,
            deleted: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::base36;

    #[test]
    fn ids_end_in_their_index_in_base_36() {
        assert_eq!(base36(0), "000");
        assert_eq!(base36(35), "00Z");
        assert_eq!(base36(36 * 36 * 36), "1000");
    }
}
