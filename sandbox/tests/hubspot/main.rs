//! The HubSpot fake over real HTTP, as a connector sees it.

use reqwest::StatusCode;
use sandbox::hubspot::DEFAULT_ACCESS_TOKEN;
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::{Value, json};

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let sandbox = Sandbox::new(
            SandboxConfig::new(31)
                .with_records("hubspot.contacts", 250)
                .unwrap(),
        )
        .unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        Self {
            sandbox,
            running,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/crm/v3{path}", self.running.base_url())
    }

    async fn answer(
        request: reqwest::RequestBuilder,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let response = request.send().await.expect("request reaches the sandbox");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.expect("JSON body");
        (status, headers, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        Self::answer(
            self.client
                .get(self.url(path))
                .bearer_auth(DEFAULT_ACCESS_TOKEN),
        )
        .await
    }

    async fn search(&self, object: &str, body: &Value) -> (StatusCode, Value) {
        let request = self
            .client
            .post(self.url(&format!("/objects/{object}/search")))
            .bearer_auth(DEFAULT_ACCESS_TOKEN)
            .json(body);
        let (status, _, body) = Self::answer(request).await;
        (status, body)
    }
}

fn assert_hubspot_error(status: StatusCode, body: &Value, expected: StatusCode, category: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["category"], category, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn lists_page_with_after_and_refuse_large_limits() {
    let h = Harness::start().await;
    let mut ids = Vec::new();
    let mut path = "/objects/contacts?limit=100".to_owned();
    loop {
        let (status, headers, body) = h.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["x-hubspot-ratelimit-max"], "190");
        assert!(headers.contains_key("x-hubspot-ratelimit-remaining"));
        for record in body["results"].as_array().unwrap() {
            ids.push(record["id"].as_str().unwrap().to_owned());
            assert_eq!(record["properties"]["hs_object_id"], record["id"]);
        }
        match body["paging"]["next"]["after"].as_str() {
            Some(after) => path = format!("/objects/contacts?limit=100&after={after}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..250)
        .map(|i| h.sandbox.hubspot().id_of("contacts", i))
        .collect();
    assert_eq!(ids, expected);
    let (status, _, body) = h.get("/objects/contacts?limit=101").await;
    assert_hubspot_error(status, &body, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (status, _, body) = h.get("/objects/widgets").await;
    assert_hubspot_error(status, &body, StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn owners_and_pipelines_are_served() {
    let h = Harness::start().await;
    let (status, _, owners) = h.get("/owners?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(owners["results"].as_array().unwrap().len(), 3);
    assert!(owners["paging"]["next"]["after"].is_string());
    let (_, _, deals) = h.get("/pipelines/deals").await;
    let (_, _, tickets) = h.get("/pipelines/tickets").await;
    assert_eq!(deals["results"][0]["id"], "default");
    assert_eq!(tickets["results"][0]["id"], "0");
    assert_eq!(
        deals["results"].as_array().unwrap().len() + tickets["results"].as_array().unwrap().len(),
        4
    );
    assert!(deals.get("paging").is_none());
}

#[tokio::test]
async fn search_sees_touched_and_new_records_with_a_total() {
    let h = Harness::start().await;
    let hubspot = h.sandbox.hubspot();
    let since = hubspot.now_ms() + 1;
    hubspot.touch("deals", [7, 3]);
    hubspot.grow("deals", 2);
    let body = json!({"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since.to_string()}]}],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 3});
    let (status, page) = h.search("deals", &body).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 4);
    let ids: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["8", "4", "51"], "oldest change first");
    assert_eq!(page["paging"]["next"]["after"], "3");
    let (_, rest) = h
        .search(
            "deals",
            &json!({"filterGroups": body["filterGroups"], "after": "3"}),
        )
        .await;
    assert_eq!(rest["results"][0]["id"], "52");
    assert!(rest.get("paging").is_none());
    let wrong = json!({"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "0"}]}]});
    let (status, body) = h.search("contacts", &wrong).await;
    assert_hubspot_error(status, &body, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    let (status, body) = h.search("deals", &json!({"limit": 201})).await;
    assert_hubspot_error(status, &body, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
}

#[tokio::test]
async fn bad_tokens_get_hubspot_401s_and_faults_hubspot_429s() {
    let h = Harness::start().await;
    let (status, _, body) = Harness::answer(h.client.get(h.url("/objects/contacts"))).await;
    assert_hubspot_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
    );
    let wrong = h
        .client
        .get(h.url("/objects/contacts"))
        .bearer_auth("pat-na1-wrong");
    let (status, _, body) = Harness::answer(wrong).await;
    assert_hubspot_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
    );
    assert!(!body.to_string().contains("pat-na1-wrong"));
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, headers, body) = h.get("/objects/contacts").await;
    assert_hubspot_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITS");
    assert_eq!(headers["retry-after"], "1");
    h.sandbox.set_faults(FaultPlan::default());
    h.sandbox.hubspot().revoke_token();
    let (status, _, body) = h.get("/owners").await;
    assert_hubspot_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "INVALID_AUTHENTICATION",
    );
    let stats = h.sandbox.stats();
    assert_eq!(
        (stats.unauthorized, stats.rate_limited),
        (3, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn answers_carry_default_properties_unless_named() {
    let h = Harness::start().await;
    let (status, _, definitions) = h.get("/properties/contacts").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = definitions["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"lifecyclestage") && names.contains(&"lastmodifieddate"));
    let full = h.sandbox.hubspot().record("contacts", 0);
    let (_, _, default) = h.get("/objects/contacts?limit=1").await;
    assert!(
        default["results"][0]["properties"]
            .get("lifecyclestage")
            .is_none()
    );
    assert_eq!(
        default["results"][0]["properties"]["email"],
        full["properties"]["email"]
    );
    let (_, _, named) = h
        .get(&format!(
            "/objects/contacts?limit=1&properties={}",
            names.join(",")
        ))
        .await;
    assert_eq!(named["results"][0], full);
    let (_, searched) = h
        .search("contacts", &json!({"limit": 1, "properties": names}))
        .await;
    assert_eq!(searched["results"][0], full);
}
