//! Slack in the conformance suite: a rotating OAuth install on the Slack fake, with every
//! stream spanning several pages (10 items a page).

use crate::harness::{Changes, Fixture, oauth_credentials, sandbox_oauth_app};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;

pub struct Slack;

/// A message's or reply's record id: `{channel}:{ts}`.
fn message_id(channel: &str, ts: &str) -> String {
    format!("{channel}:{ts}")
}

impl Fixture for Slack {
    const PLATFORM: &'static str = "slack";

    fn sandbox(seed: u64) -> SandboxConfig {
        let counts = [
            ("channels", 6),
            ("members", 25),
            ("messages", 25),
            ("threads", 4),
            ("files", 12),
        ];
        counts
            .iter()
            .fold(SandboxConfig::new(seed), |config, (stream, n)| {
                config.with_records(&format!("slack.{stream}"), *n).unwrap()
            })
    }

    fn credentials(sandbox: &Sandbox) -> Value {
        oauth_credentials(sandbox, Self::PLATFORM)
    }

    fn config(_: &Sandbox, base_url: &str, extra: &Value) -> Value {
        // Slack's token endpoint is a Web API method of the fake, in Slack's envelope.
        let mut oauth_app = sandbox_oauth_app(base_url, Self::PLATFORM);
        oauth_app["token_url"] = json!(format!("{base_url}/slack/api/oauth.v2.access"));
        let mut config = json!({
            "base_url": format!("{base_url}/slack"),
            "page_size": 10,
            "requests_per_second": 50,
            "oauth_app": oauth_app,
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    fn dataset(sandbox: &Sandbox, stream: &str) -> Vec<Value> {
        sandbox.slack().records(stream)
    }

    fn id(record: &Value) -> String {
        match (record["channel"].as_str(), record["ts"].as_str()) {
            (Some(channel), Some(ts)) => message_id(channel, ts),
            _ => record["id"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// A new message, an edit of an old one, a reply in an old thread (the parent comes back
    /// with its new `latest_reply`) and an upload. The files of the newest second already
    /// seen may come back (`ts_from` is inclusive).
    fn mutate(sandbox: &Sandbox) -> Changes {
        let slack = sandbox.slack();
        let newest_file_second = slack
            .records("files")
            .iter()
            .filter_map(|f| f["created"].as_i64())
            .max()
            .unwrap();
        let boundary: BTreeSet<String> = slack
            .records("files")
            .iter()
            .filter(|f| f["created"] == newest_file_second)
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        let readable = slack.readable_channel_ids();
        let (a, b) = (&readable[0], &readable[1]);
        let posted = slack.post(a);
        let edited = slack.message_ts(b)[3].clone();
        assert!(slack.edit(b, &edited));
        let parent = slack.thread_ts(a)[0].clone();
        let reply = slack.reply(a, &parent).unwrap();
        let file = slack.upload(b);
        let upload_ts = slack.message_ts(b).last().unwrap().clone();

        let mut changes = Changes::default();
        changes.must.insert(
            "messages".into(),
            [
                message_id(a, &posted),
                message_id(b, &edited),
                message_id(a, &parent),
                message_id(b, &upload_ts),
            ]
            .into(),
        );
        changes
            .must
            .insert("threads".into(), [message_id(a, &reply)].into());
        changes.must.insert("files".into(), [file].into());
        changes.may.insert("files".into(), boundary);
        changes
    }

    fn revoke(sandbox: &Sandbox) {
        sandbox.oauth().revoke_all("slack");
    }

    fn file_contents(sandbox: &Sandbox, stream: &str, record: &Value) -> Option<Vec<u8>> {
        if stream != "files" || record.get("url_private_download").is_none() {
            return None;
        }
        sandbox.slack().file_contents(record["id"].as_str()?)
    }
}

crate::conformance!(Slack);
