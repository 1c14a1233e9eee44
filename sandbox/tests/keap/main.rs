//! The Keap fake over real HTTP, as a connector sees it: gateway auth and throttling, v1 and
//! v2 paging, the contacts update-time filter, error shapes and determinism.

use reqwest::StatusCode;
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    token: String,
}

impl Harness {
    async fn start(seed: u64) -> Self {
        let sandbox = Sandbox::new(SandboxConfig::new(seed)).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let token = sandbox.oauth().issue("keap").access_token;
        Self {
            sandbox,
            running,
            token,
        }
    }

    async fn get_with(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.running.base_url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            status,
            retry_after,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (status, _, body) = self.get_with(path, Some(&self.token)).await;
        (status, body)
    }
}

fn errorcode(body: &Value) -> &str {
    body["fault"]["detail"]["errorcode"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn only_live_keap_tokens_pass_the_gateway() {
    let h = Harness::start(1).await;
    let path = "/crm/rest/v2/contacts?page_size=1";
    assert_eq!(h.get(path).await.0, StatusCode::OK);

    let (status, _, body) = h.get_with(path, None).await;
    assert_eq!(
        (status, errorcode(&body)),
        (StatusCode::UNAUTHORIZED, "oauth.v2.InvalidAccessToken")
    );
    let other = h.sandbox.oauth().issue("dropbox").access_token;
    let (status, _, body) = h.get_with(path, Some(&other)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        errorcode(&body),
        "keymanagement.service.invalid_access_token"
    );

    h.sandbox
        .oauth()
        .advance(sandbox::keap::TOKEN_POLICY.access_ttl_secs);
    let (status, body) = h.get(path).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        errorcode(&body),
        "keymanagement.service.access_token_expired"
    );

    let fresh = h.sandbox.oauth().issue("keap").access_token;
    h.sandbox.oauth().revoke_all("keap");
    let (status, _, body) = h.get_with(path, Some(&fresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        errorcode(&body),
        "keymanagement.service.invalid_access_token"
    );
}

#[tokio::test]
async fn a_burst_over_25_per_second_is_arrested_with_retry_after() {
    let h = Harness::start(2).await;
    let answers = burst(&h, 40).await;
    let arrested: Vec<_> = answers
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !arrested.is_empty() && arrested.len() <= 15,
        "{}",
        arrested.len()
    );
    for (_, retry_after, body) in arrested {
        assert_eq!(retry_after.as_deref(), Some("1"));
        assert_eq!(errorcode(body), "policies.ratelimit.SpikeArrestViolation");
    }
    assert!(h.sandbox.stats().rate_limited > 0);
}

/// Sends `n` requests at once.
async fn burst(h: &Harness, n: usize) -> Vec<(StatusCode, Option<String>, Value)> {
    let url = format!("{}/crm/rest/v2/tags?page_size=1", h.running.base_url());
    let client = reqwest::Client::new();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = client.get(&url).bearer_auth(&h.token);
        requests.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (
                status,
                retry_after,
                response.json().await.unwrap_or(Value::Null),
            )
        });
    }
    requests.join_all().await
}

#[tokio::test]
async fn v2_pages_end_with_an_empty_token_and_contacts_filter_on_update_time() {
    let h = Harness::start(3).await;
    let mut token = String::new();
    let mut ids = Vec::new();
    loop {
        let (status, body) = h
            .get(&format!(
                "/crm/rest/v2/contacts?page_size=15&page_token={token}"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.extend(
            body["contacts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].clone()),
        );
        token = body["next_page_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(ids.len() as u64, h.sandbox.keap().count("contacts"));

    let touched = h.sandbox.keap().touch("contacts", 4);
    let since = h.sandbox.keap().record("contacts", 4)["update_time"].clone();
    assert!(touched > h.sandbox.keap().updated_of("contacts", 49));
    let (_, body) = h
        .get(&format!(
            "/crm/rest/v2/contacts?filter=start_update_time=={}",
            since.as_str().unwrap()
        ))
        .await;
    let got: Vec<&Value> = body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(got, [&Value::from(5)]);

    let (status, body) = h.get("/crm/rest/v2/contacts?page_size=1001").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    let (status, _) = h
        .get("/crm/rest/v2/tags?filter=start_update_time==2020-01-01T00:00:00Z")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v1_lists_always_carry_next_and_versions_are_not_interchangeable() {
    let h = Harness::start(4).await;
    let (status, body) = h.get("/crm/rest/v1/orders?limit=15&offset=15").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["orders"].as_array().unwrap().len(), 5);
    assert_eq!(body["count"], 20);
    assert!(
        body["next"]
            .as_str()
            .unwrap()
            .ends_with("/crm/rest/v1/orders/?limit=15&offset=30")
    );
    let (status, body) = h.get("/crm/rest/v1/orders?limit=abc").await;
    assert_eq!(
        (status, body["message"].is_string()),
        (StatusCode::BAD_REQUEST, true)
    );
    assert_eq!(
        h.get("/crm/rest/v1/contacts").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(h.get("/crm/rest/v2/orders").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_render_as_gateway_errors() {
    let h = Harness::start(5).await;
    h.sandbox.set_faults(FaultPlan {
        server_error_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, body) = h.get("/crm/rest/v2/tags").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["fault"]["faultstring"].is_string());
}

#[tokio::test]
async fn the_same_seed_serves_the_same_records() {
    let config = |seed| Sandbox::new(SandboxConfig::new(seed)).unwrap();
    let (one, two, other) = (config(9), config(9), config(10));
    for stream in sandbox::keap::STREAMS {
        let a: Vec<Value> = one.keap().records(stream).collect();
        assert_eq!(
            a,
            two.keap().records(stream).collect::<Vec<_>>(),
            "{stream}"
        );
        assert_ne!(
            a,
            other.keap().records(stream).collect::<Vec<_>>(),
            "{stream}"
        );
    }
}

#[tokio::test]
async fn the_control_endpoint_sets_a_quota_that_resets_within_its_window() {
    let h = Harness::start(4).await;
    let control = |query: &str| {
        reqwest::Client::new()
            .post(format!(
                "{}/_sandbox/keap/quota?{query}",
                h.running.base_url()
            ))
            .send()
    };
    let bad = control("requests=x").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let set = control("requests=2&window_secs=30").await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(
        h.get("/crm/rest/v2/tags?page_size=1").await.0,
        StatusCode::OK
    );
    assert_eq!(
        h.get("/crm/rest/v2/tags?page_size=1").await.0,
        StatusCode::OK
    );
    let (status, retry_after, body) = h
        .get_with("/crm/rest/v2/tags?page_size=1", Some(&h.token))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(errorcode(&body), "policies.ratelimit.QuotaViolation");
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!(
        (1..=30).contains(&wait),
        "the quota resets within its window: {wait}"
    );
}
