//! The Slack fake over real HTTP, as a connector sees it.

use reqwest::StatusCode;
use sandbox::{
    FaultPlan, RunningSandbox, Sandbox, SandboxConfig,
    oauth::{CLIENT_ID, CLIENT_SECRET},
    slack::TOKEN_POLICY,
};
use serde_json::Value;
use std::time::Duration;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let config = SandboxConfig::new(5)
            .with_records("slack.members", 30)
            .unwrap();
        let sandbox = Sandbox::new(config).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self {
            sandbox,
            running,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/slack/api/{method}", self.running.base_url())
    }

    /// GET `method` with `query` and `token`: the status, `Retry-After`, and the body.
    async fn get(
        &self,
        method: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut request = self.client.get(self.url(method)).query(query);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, retry_after, response.json().await.unwrap())
    }

    fn bot(&self) -> &'static str {
        self.sandbox.slack().bot_token()
    }

    async fn refresh(&self, refresh_token: &str, secret: &str) -> Value {
        self.client
            .post(self.url("oauth.v2.access"))
            .basic_auth(CLIENT_ID, Some(secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn errors_are_200_answers_with_ok_false() {
    let h = Harness::start().await;
    let code = |answer: (StatusCode, Option<String>, Value)| {
        assert_eq!(answer.0, StatusCode::OK);
        assert_eq!(answer.2["ok"], false, "{}", answer.2);
        answer.2["error"].as_str().unwrap().to_owned()
    };
    assert_eq!(code(h.get("users.list", &[], None).await), "not_authed");
    assert_eq!(
        code(h.get("users.list", &[], Some("xoxb-nope")).await),
        "invalid_auth"
    );
    assert_eq!(
        code(h.get("auth.teach", &[], Some(h.bot())).await),
        "unknown_method"
    );
    let issued = h.sandbox.oauth().issue("slack");
    let (_, _, ok) = h.get("auth.test", &[], Some(&issued.access_token)).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["team_id"], h.sandbox.slack().team_id());
    h.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
    assert_eq!(
        code(h.get("auth.test", &[], Some(&issued.access_token)).await),
        "token_expired"
    );
    h.sandbox.slack().revoke_bot_token();
    assert_eq!(
        code(h.get("auth.test", &[], Some(h.bot())).await),
        "token_revoked"
    );
}

#[tokio::test]
async fn missing_scopes_name_the_scope_and_post_forms_work_like_queries() {
    let h = Harness::start().await;
    h.sandbox
        .slack()
        .fail_next("users.list", "missing_scope", 1);
    let (_, _, refused) = h.get("users.list", &[], Some(h.bot())).await;
    assert_eq!(refused["error"], "missing_scope");
    assert!(refused["needed"].is_string() && refused["provided"].is_string());
    let posted: Value = h
        .client
        .post(h.url("users.list"))
        .bearer_auth(h.bot())
        .form(&[("limit", "7")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted["members"].as_array().unwrap().len(), 7);
    let cursor = posted["response_metadata"]["next_cursor"].as_str().unwrap();
    let (_, _, rest) = h
        .get(
            "users.list",
            &[("cursor", cursor), ("limit", "100")],
            Some(h.bot()),
        )
        .await;
    assert_eq!(rest["members"].as_array().unwrap().len(), 23);
    assert_eq!(rest["response_metadata"]["next_cursor"], "");
}

#[tokio::test]
async fn tier_budgets_are_per_method_and_answer_429_with_retry_after() {
    let h = Harness::start().await;
    h.sandbox
        .slack()
        .set_rate_window(Some(Duration::from_secs(60)));
    for _ in 0..20 {
        let (status, _, _) = h.get("users.list", &[("limit", "1")], Some(h.bot())).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, retry_after, body) = h.get("users.list", &[], Some(h.bot())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "ratelimited");
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    let (status, _, _) = h.get("conversations.list", &[], Some(h.bot())).await;
    assert_eq!(status, StatusCode::OK, "another method has its own budget");

    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        retry_after_secs: 7,
        ..FaultPlan::default()
    });
    let (status, retry_after, body) = h.get("auth.test", &[], Some(h.bot())).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        (retry_after.as_deref(), &body["error"]),
        (Some("7"), &Value::from("ratelimited"))
    );
}

#[tokio::test]
async fn non_marketplace_apps_get_pages_of_15_messages() {
    let h = Harness::start().await;
    let channel = h.sandbox.slack().readable_channel_ids()[0].clone();
    let query = [("channel", channel.as_str()), ("limit", "200")];
    let (_, _, full) = h.get("conversations.history", &query, Some(h.bot())).await;
    assert_eq!(full["messages"].as_array().unwrap().len(), 30);
    assert_eq!(full["has_more"], false);
    h.sandbox.slack().set_non_marketplace(true);
    let (_, _, capped) = h.get("conversations.history", &query, Some(h.bot())).await;
    assert_eq!(capped["messages"].as_array().unwrap().len(), 15);
    assert_eq!(capped["has_more"], true);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_is_refused_with_a_200() {
    let h = Harness::start().await;
    let issued = h.sandbox.oauth().issue("slack");
    let first = h.refresh(&issued.refresh_token, CLIENT_SECRET).await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["expires_in"], TOKEN_POLICY.access_ttl_secs);
    assert_ne!(first["refresh_token"], issued.refresh_token.as_str());
    let reused = h.refresh(&issued.refresh_token, CLIENT_SECRET).await;
    assert_eq!(
        (reused["ok"].clone(), reused["error"].clone()),
        (false.into(), "invalid_refresh_token".into())
    );
    let wrong = h.refresh("rt_whatever", "not-the-secret").await;
    assert_eq!(wrong["error"], "bad_client_secret");
}

#[tokio::test]
async fn files_download_with_a_token_and_show_a_sign_in_page_without() {
    let h = Harness::start().await;
    let files = h.sandbox.slack().records("files");
    let file = files
        .iter()
        .find(|f| f.get("url_private_download").is_some())
        .unwrap();
    let url = file["url_private_download"].as_str().unwrap();
    assert!(url.starts_with(&h.running.base_url()), "{url}");
    let response = h.client.get(url).bearer_auth(h.bot()).send().await.unwrap();
    assert_eq!(
        response.headers()["content-type"],
        file["mimetype"].as_str().unwrap()
    );
    let expected = h
        .sandbox
        .slack()
        .file_contents(file["id"].as_str().unwrap())
        .unwrap();
    assert_eq!(response.bytes().await.unwrap().to_vec(), expected);
    let anonymous = h.client.get(url).send().await.unwrap();
    assert_eq!(
        anonymous.status(),
        StatusCode::OK,
        "Slack's sign-in page comes with a 200"
    );
    assert!(
        anonymous.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let missing = url.replace(file["id"].as_str().unwrap(), "F0NOPE");
    let response = h
        .client
        .get(missing)
        .bearer_auth(h.bot())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        files
            .iter()
            .any(|f| f.get("url_private_download").is_none()),
        "external files have nothing to download"
    );
}
