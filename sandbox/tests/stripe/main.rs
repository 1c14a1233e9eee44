//! The Stripe fake over real HTTP, as a connector sees it.

mod auth;
mod control;
mod determinism;
mod faults;
mod filters;
mod pagination;
mod payments;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;

pub const KEY: &str = "sk_test_sandbox";

/// A sandbox serving on a free port plus a client for it.
pub struct Harness {
    pub sandbox: Sandbox,
    pub running: RunningSandbox,
    pub client: reqwest::Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Harness {
    pub async fn start(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::new(config).expect("valid config");
        let running = sandbox
            .serve("127.0.0.1:0".parse().unwrap())
            .await
            .expect("bind a free port");
        Self {
            sandbox,
            running,
            client: reqwest::Client::new(),
        }
    }

    pub async fn with_seed(seed: u64) -> Self {
        Self::start(SandboxConfig::new(seed)).await
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.running.base_url())
    }

    /// GET with the right key.
    pub async fn get(&self, path_and_query: &str) -> Answer {
        self.send(self.client.get(self.url(path_and_query)).bearer_auth(KEY))
            .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("request reaches the sandbox");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|err| panic!("JSON body ({err}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Lists a stream to the end with `starting_after`, like a connector's full backup.
    /// `extra` is appended to the query, e.g. `"&status=all"`.
    pub async fn walk(&self, stream: &str, limit: u64, extra: &str) -> Vec<Value> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/{stream}?limit={limit}{extra}");
            if let Some(cursor) = &cursor {
                path.push_str(&format!("&starting_after={cursor}"));
            }
            let page = self.get(&path).await;
            assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
            let data = page.body["data"].as_array().expect("data array");
            records.extend(data.iter().cloned());
            if !page.body["has_more"].as_bool().expect("has_more") {
                return records;
            }
            cursor = Some(last_id(data));
        }
    }
}

pub fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|record| record["id"].as_str().expect("id").to_owned())
        .collect()
}

pub fn last_id(data: &[Value]) -> String {
    data.last().expect("non-empty page")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

pub fn assert_stripe_error(answer: &Answer, status: StatusCode, kind: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["error"]["type"], kind, "{}", answer.body);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        answer.body
    );
}
