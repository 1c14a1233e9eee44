//! The Mailchimp fake over real HTTP, as a connector sees it.

use reqwest::StatusCode;
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    client: reqwest::Client,
}

async fn harness() -> Harness {
    let sandbox = Sandbox::new(SandboxConfig::new(3)).unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Harness {
        sandbox,
        running,
        client: reqwest::Client::new(),
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("{}/3.0{path}", self.running.base_url())
    }

    async fn answer(&self, request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.json().await.unwrap())
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> (StatusCode, String, Value) {
        let key = self.sandbox.mailchimp().api_key();
        self.answer(
            self.client
                .get(self.url(path))
                .basic_auth("anystring", Some(key))
                .query(query),
        )
        .await
    }
}

#[tokio::test]
async fn basic_with_any_user_or_bearer_authenticates_and_everything_else_is_a_problem() {
    let h = harness().await;
    let mc = h.sandbox.mailchimp();
    let (status, _, root) = h.get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["dc"], "us21");
    assert!(root["login"]["login_id"].is_string());
    let (status, _, _) = h
        .answer(h.client.get(h.url("/lists")).bearer_auth(mc.oauth_token()))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, content_type, missing) = h.answer(h.client.get(h.url("/lists"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        content_type.starts_with("application/problem+json"),
        "{content_type}"
    );
    assert_eq!(missing["title"], "API Key Missing");
    // The key as user name (Stripe's habit) is not Mailchimp's scheme.
    let (status, _, wrong) = h
        .answer(
            h.client
                .get(h.url("/lists"))
                .basic_auth(mc.api_key(), None::<&str>),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong["title"], "API Key Invalid");
    for field in ["type", "detail", "instance"] {
        assert!(wrong[field].is_string(), "{field}: {wrong}");
    }
    mc.revoke_key();
    let (status, _, revoked) = h.get("/", &[]).await;
    assert_eq!(
        (status, revoked["status"].as_u64()),
        (StatusCode::UNAUTHORIZED, Some(401))
    );
}

#[tokio::test]
async fn collections_page_with_count_offset_and_total_items() {
    let h = harness().await;
    let list = h.sandbox.mailchimp().list_id(2);
    let path = format!("/lists/{list}/members");
    let (_, _, first) = h
        .get(
            &path,
            &[
                ("count", "40"),
                ("offset", "0"),
                ("sort_field", "timestamp_signup"),
                ("sort_dir", "ASC"),
            ],
        )
        .await;
    let (_, _, rest) = h
        .get(
            &path,
            &[
                ("count", "1000"),
                ("offset", "40"),
                ("sort_field", "timestamp_signup"),
                ("sort_dir", "ASC"),
            ],
        )
        .await;
    assert_eq!(first["total_items"], 100);
    assert_eq!(first["list_id"], list.as_str());
    let mut walked: Vec<Value> = first["members"].as_array().unwrap().clone();
    walked.extend(rest["members"].as_array().unwrap().iter().cloned());
    assert_eq!(walked, h.sandbox.mailchimp().members(2));
    let (_, _, default) = h.get(&path, &[]).await;
    assert_eq!(
        default["members"].as_array().map(Vec::len),
        Some(10),
        "count defaults to 10"
    );

    for (stream, total) in [
        ("lists", 3),
        ("campaigns", 20),
        ("reports", 20),
        ("templates", 10),
    ] {
        let (status, _, page) = h.get(&format!("/{stream}"), &[("count", "1000")]).await;
        assert_eq!(status, StatusCode::OK, "{stream}");
        assert_eq!(page["total_items"], total, "{stream}");
        assert_eq!(
            page[stream].as_array().unwrap(),
            &h.sandbox.mailchimp().records(stream),
            "{stream}"
        );
    }
}

#[tokio::test]
async fn since_last_changed_is_strictly_after_and_bad_parameters_are_400() {
    let h = harness().await;
    let mc = h.sandbox.mailchimp();
    let at = mc.touch(0, 7);
    let path = format!("/lists/{}/members", mc.list_id(0));
    let since = sandbox::mailchimp::time::format(at - 1);
    let (_, _, changed) = h.get(&path, &[("since_last_changed", &since)]).await;
    assert_eq!(changed["total_items"], 1);
    assert_eq!(changed["members"][0], mc.member(0, 7));
    let exact = sandbox::mailchimp::time::format(at);
    let (_, _, none) = h.get(&path, &[("since_last_changed", &exact)]).await;
    assert_eq!(none["total_items"], 0);

    for bad in [
        ("count", "1001"),
        ("since_last_changed", "last tuesday"),
        ("sort_field", "email_address"),
        ("page", "2"),
    ] {
        let (status, _, problem) = h.get(&path, &[bad]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(problem["title"], "Invalid Resource", "{bad:?}");
    }
    let (status, _, missing) = h.get("/lists/nope/members", &[]).await;
    assert_eq!(
        (status, missing["title"].as_str()),
        (StatusCode::NOT_FOUND, Some("Resource Not Found"))
    );
}

#[tokio::test]
async fn injected_faults_use_the_problem_shape() {
    let h = harness().await;
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, content_type, problem) = h.get("/lists", &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(content_type.starts_with("application/problem+json"));
    assert_eq!(problem["title"], "Too Many Requests");
    assert_eq!(h.sandbox.stats().rate_limited, 1);
}
