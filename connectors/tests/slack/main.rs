//! Slack's traps, against the Slack fake and the sandbox's authorization server over HTTP:
//! errors in 200 answers, per-method tier limits and `Retry-After`, edits and thread replies
//! after the parent was backed up, a conversation the bot leaves mid-run, rotating refresh
//! tokens, installs without rotation, and downloads that answer with a sign-in page.

mod auth;
mod files;
mod history;
mod limits;

use connectors::{
    Connector, ConnectorError, Page, PageRequest,
    http::{HttpClient, RetrySettings},
    oauth::{MemoryTokenStore, TokenSet, TokenStore},
};
use sandbox::{
    RunningSandbox, Sandbox, SandboxConfig,
    oauth::{CLIENT_ID, CLIENT_SECRET, IssuedTokens},
};
use serde_json::{Value, json};
use std::{collections::BTreeSet, sync::Arc, time::Duration};

pub struct Env {
    pub sandbox: Sandbox,
    pub running: RunningSandbox,
}

/// A fake with `counts` of `(stream, n)` over the defaults.
pub async fn env(counts: &[(&str, u64)]) -> Env {
    let config = counts
        .iter()
        .fold(SandboxConfig::new(23), |config, (stream, n)| {
            config.with_records(&format!("slack.{stream}"), *n).unwrap()
        });
    let sandbox = Sandbox::new(config).unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env { sandbox, running }
}

impl Env {
    /// Settings pointing at the fake (with its OAuth app), `extra` merged in.
    pub fn config(&self, extra: Value) -> Value {
        let base = self.running.base_url();
        let mut config = json!({
            "base_url": format!("{base}/slack"),
            "page_size": 10,
            "requests_per_second": 200,
            "oauth_app": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": format!("{base}/oauth/slack/authorize"),
                "token_url": format!("{base}/slack/api/oauth.v2.access"),
            },
        });
        if let Some(extra) = extra.as_object() {
            config.as_object_mut().unwrap().extend(extra.clone());
        }
        config
    }

    /// A connector of an install without token rotation (the fake's bot token).
    pub fn bot(&self, extra: Value) -> Arc<dyn Connector> {
        let credentials = json!({"access_token": self.sandbox.slack().bot_token()});
        connectors::build("slack", &credentials, &self.config(extra), &http()).unwrap()
    }

    /// A connector of a rotating install whose refreshes go through `store`.
    pub fn rotating(&self, store: Arc<dyn TokenStore>) -> Arc<dyn Connector> {
        connectors::build_with_tokens(
            "slack",
            &Value::Null,
            &self.config(json!({})),
            &http(),
            Some(store),
        )
        .unwrap()
    }
}

pub fn http() -> HttpClient {
    HttpClient::new(RetrySettings {
        min_delay: Duration::from_millis(10),
        ..RetrySettings::default()
    })
    .allowing_private_networks(true)
}

pub fn token_set(issued: &IssuedTokens) -> TokenSet {
    TokenSet {
        access_token: issued.access_token.clone(),
        refresh_token: Some(issued.refresh_token.clone()),
        expires_at: Some(issued.expires_at),
        obtained_at: None,
    }
}

pub fn store(tokens: TokenSet) -> Arc<MemoryTokenStore> {
    Arc::new(MemoryTokenStore::new(tokens))
}

pub fn first(stream: &str) -> PageRequest {
    PageRequest {
        stream: stream.into(),
        ..Default::default()
    }
}

/// The request after `page`.
pub fn after(request: &PageRequest, page: &Page) -> Option<PageRequest> {
    let token = page.next_page_token.clone()?;
    Some(PageRequest {
        page_token: Some(token),
        cursor: page.cursor.clone(),
        ..request.clone()
    })
}

/// Reads a whole stream from `since`; returns the record ids and the cursor reached.
pub async fn read_all(
    c: &dyn Connector,
    stream: &str,
    since: Option<Value>,
) -> Result<(Vec<String>, Option<Value>), ConnectorError> {
    let mut request = PageRequest {
        since,
        ..first(stream)
    };
    let mut ids = Vec::new();
    loop {
        let page = c.read_page(&request).await?;
        ids.extend(page.records.iter().map(|r| r.id.clone()));
        match after(&request, &page) {
            Some(next) => request = next,
            None => return Ok((ids, page.cursor)),
        }
    }
}

/// Record ids of a message or reply.
pub fn message_id(channel: &str, ts: &str) -> String {
    format!("{channel}:{ts}")
}

/// The ids of the fake's dataset for `stream`, as the connector keys them.
pub fn dataset_ids(sandbox: &Sandbox, stream: &str) -> BTreeSet<String> {
    sandbox
        .slack()
        .records(stream)
        .iter()
        .map(|r| match (r["channel"].as_str(), r["ts"].as_str()) {
            (Some(channel), Some(ts)) => message_id(channel, ts),
            _ => r["id"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Ids as a set, checking that none came twice.
pub fn unique(ids: Vec<String>) -> BTreeSet<String> {
    let count = ids.len();
    let set: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(set.len(), count, "no record twice");
    set
}
