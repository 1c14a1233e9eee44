//! The Zendesk fake over real HTTP, as a connector sees it.

use reqwest::StatusCode;
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;
use std::time::Duration;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    client: reqwest::Client,
}

impl Harness {
    async fn start(counts: &[(&str, u64)]) -> Self {
        let mut config = SandboxConfig::new(3);
        for (stream, n) in counts {
            config = config
                .with_records(&format!("zendesk.{stream}"), *n)
                .unwrap();
        }
        let sandbox = Sandbox::new(config).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self {
            sandbox,
            running,
            client: reqwest::Client::new(),
        }
    }

    fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.running.base_url()))
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let zendesk = self.sandbox.zendesk();
        send(self.request(path).basic_auth(
            format!("{}/token", zendesk.email()),
            Some(zendesk.api_token()),
        ))
        .await
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

fn ids(items: &Value) -> Vec<u64> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn auth_takes_api_tokens_and_oauth_and_refuses_the_rest() {
    let h = Harness::start(&[]).await;
    let zendesk = h.sandbox.zendesk();
    let path = "/api/v2/groups.json";
    assert_eq!(h.get(path).await.0, StatusCode::OK);
    let (status, _, _) = send(h.request(path).bearer_auth(zendesk.oauth_token())).await;
    assert_eq!(status, StatusCode::OK);
    for request in [
        h.request(path),
        h.request(path).bearer_auth("nope"),
        h.request(path)
            .basic_auth(zendesk.email(), Some(zendesk.api_token())),
        h.request(path)
            .basic_auth(format!("{}/token", zendesk.email()), Some("wrong")),
    ] {
        let (status, _, body) = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            serde_json::json!({"error": "Couldn't authenticate you"})
        );
    }
    zendesk.revoke_token();
    assert_eq!(h.get(path).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cursor_pages_walk_everything_and_refuse_big_pages() {
    let h = Harness::start(&[("organizations", 25)]).await;
    let mut seen = Vec::new();
    let mut path = "/api/v2/organizations.json?page[size]=10".to_owned();
    loop {
        let (status, _, body) = h.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(ids(&body["organizations"]));
        if body["meta"]["has_more"] != true {
            break;
        }
        let after = body["meta"]["after_cursor"].as_str().unwrap();
        path = format!("/api/v2/organizations.json?page[size]=10&page[after]={after}");
    }
    assert_eq!(
        seen,
        ids(&Value::from(h.sandbox.zendesk().records("organizations")))
    );
    let (status, _, body) = h.get("/api/v2/organizations.json?page[size]=101").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "InvalidPaginationParameter");
}

#[tokio::test]
async fn offset_pages_stop_at_ten_thousand_records() {
    let h = Harness::start(&[("users", 10_001)]).await;
    let (status, _, body) = h.get("/api/v2/users.json?page=100&per_page=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"].as_array().unwrap().len(), 100);
    let (status, _, body) = h.get("/api/v2/users.json?page=101&per_page=100").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn exports_leave_out_the_last_minute_and_keep_their_cursor() {
    let h = Harness::start(&[("tickets", 5)]).await;
    let zendesk = h.sandbox.zendesk();
    let (_, _, first) = h
        .get("/api/v2/incremental/tickets/cursor.json?start_time=0")
        .await;
    assert_eq!(ids(&first["tickets"]).len(), 5);
    assert_eq!(first["end_of_stream"], true);
    let cursor = first["after_cursor"].as_str().unwrap().to_owned();

    zendesk.touch("tickets", 2);
    let next = format!("/api/v2/incremental/tickets/cursor.json?cursor={cursor}");
    let (_, _, held) = h.get(&next).await;
    assert_eq!(
        ids(&held["tickets"]),
        Vec::<u64>::new(),
        "changed in the last minute"
    );
    zendesk.advance(61);
    let (_, _, later) = h.get(&next).await;
    assert_eq!(ids(&later["tickets"]), vec![zendesk.id_of("tickets", 2)]);

    let too_recent = format!(
        "/api/v2/incremental/tickets/cursor.json?start_time={}",
        zendesk.now() - 10
    );
    assert_eq!(h.get(&too_recent).await.0, StatusCode::BAD_REQUEST);
    let (status, _, _) = h
        .get("/api/v2/incremental/tickets/cursor.json?cursor=junk")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn exports_have_their_own_budget_with_retry_after() {
    let h = Harness::start(&[("users", 3)]).await;
    h.sandbox
        .zendesk()
        .set_export_limit(2, Duration::from_secs(30));
    let path = "/api/v2/incremental/users/cursor.json?start_time=0";
    assert_eq!(h.get(path).await.0, StatusCode::OK);
    assert_eq!(h.get(path).await.0, StatusCode::OK);
    let (status, headers, body) = h.get(path).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(body["error"], "APIRateLimitExceeded");
    // Lists are not exports.
    assert_eq!(h.get("/api/v2/users.json").await.0, StatusCode::OK);
}

#[tokio::test]
async fn comments_and_faults_answer_in_zendesk_shape() {
    let h = Harness::start(&[("tickets", 2)]).await;
    let (status, _, body) = h
        .get("/api/v2/tickets/1/comments.json?page[size]=100")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["comments"],
        Value::from(h.sandbox.zendesk().comments(0))
    );
    assert_eq!(
        h.get("/api/v2/tickets/99/comments.json").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.get("/api/v2/macros.json").await.0, StatusCode::NOT_FOUND);

    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        retry_after_secs: 7,
        ..FaultPlan::default()
    });
    let (status, headers, body) = h.get("/api/v2/groups.json").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body["error"], "APIRateLimitExceeded");
}
