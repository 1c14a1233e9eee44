//! The GoHighLevel fake over real HTTP, as a connector sees it.

use reqwest::{Method, StatusCode};
use sandbox::{
    FaultPlan, RunningSandbox, Sandbox, SandboxConfig,
    gohighlevel::{API_VERSION, APPOINTMENT_BASE_MS},
};
use serde_json::{Value, json};
use std::collections::BTreeSet;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    token: String,
    client: reqwest::Client,
}

impl Harness {
    async fn start() -> Self {
        let config = SandboxConfig::new(11)
            .with_records("gohighlevel.contacts", 45)
            .unwrap()
            .with_records("gohighlevel.opportunities", 25)
            .unwrap()
            .with_records("gohighlevel.appointments", 20)
            .unwrap();
        let sandbox = Sandbox::new(config).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let token = sandbox.oauth().issue("gohighlevel").access_token;
        Self {
            sandbox,
            running,
            token,
            client: reqwest::Client::new(),
        }
    }

    fn location(&self, n: usize) -> String {
        self.sandbox.gohighlevel().location_ids()[n].clone()
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}/gohighlevel{path}", self.running.base_url());
        let mut request = self
            .client
            .request(method, url)
            .bearer_auth(&self.token)
            .header("Version", API_VERSION);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn search(&self, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/contacts/search", Some(body))
            .await
    }
}

fn ids(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn opportunities_page_with_start_after_and_start_after_id() {
    let h = Harness::start().await;
    let loc = h.location(0);
    let mut path = format!("/opportunities/search?location_id={loc}&limit=10");
    let mut seen = Vec::new();
    loop {
        let (status, body) = h.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        seen.extend(ids(&body["opportunities"]));
        let meta = &body["meta"];
        assert_eq!(meta["total"], 25);
        if meta["nextPage"].is_null() {
            break;
        }
        path = format!(
            "/opportunities/search?location_id={loc}&limit=10&startAfter={}&startAfterId={}",
            meta["startAfter"],
            meta["startAfterId"].as_str().unwrap()
        );
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 25);
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/opportunities/search?location_id={loc}&limit=101"),
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/opportunities/search?location_id={loc}&startAfterId=nope"),
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn contact_search_filters_on_date_updated_and_walks_every_sort() {
    let h = Harness::start().await;
    let loc = h.location(0);
    let ghl = h.sandbox.gohighlevel();
    let newest = ghl.records(&loc, "contacts").last().unwrap()["searchAfter"][0].clone();
    let edited = ghl.touch(&loc, 4).unwrap();
    let (status, body) = h
        .search(json!({"locationId": loc, "pageLimit": 100, "filters": [
            {"field": "dateUpdated", "operator": "range", "value": {"gt": newest}}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body["contacts"]), vec![edited.clone()]);
    assert_eq!(body["total"], 1);
    let (_, body) = h
        .search(json!({"locationId": loc, "filters": [
            {"field": "dateUpdated", "operator": "gte", "value": newest}]}))
        .await;
    assert_eq!(body["total"], 2, "the boundary contact and the edited one");

    for sort in [
        json!({"field": "dateUpdated", "direction": "desc"}),
        json!({"field": "id"}),
    ] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let mut query = json!({"locationId": loc, "pageLimit": 7, "sort": [sort]});
            if !after.is_null() {
                query["searchAfter"] = after.clone();
            }
            let (status, body) = h.search(query).await;
            assert_eq!(status, 200, "{body}");
            let page = body["contacts"].as_array().unwrap();
            let Some(last) = page.last() else { break };
            after = last["searchAfter"].clone();
            seen.extend(ids(&body["contacts"]));
        }
        assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 45, "{sort}");
        assert_eq!(seen.len(), 45, "{sort}");
    }

    let (status, _) = h
        .search(json!({"locationId": loc, "searchAfter": ["x"]}))
        .await;
    assert_eq!(status, 400);
    let (status, _) = h.search(json!({"pageLimit": 5})).await;
    assert_eq!(status, 422);
    let (status, body) = h
        .search(json!({"locationId": "AAAAAAAAAAAAAAAAAAAA"}))
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn events_are_per_calendar_within_an_inclusive_range() {
    let h = Harness::start().await;
    let loc = h.location(0);
    let (_, body) = h
        .call(Method::GET, &format!("/calendars/?locationId={loc}"), None)
        .await;
    let calendars = ids(&body["calendars"]);
    assert_eq!(calendars.len(), 2);
    let all = h.sandbox.gohighlevel().records(&loc, "appointments");
    assert_eq!(all[0]["startTime"], "2024-01-01T09:00:00.000Z");
    let start = APPOINTMENT_BASE_MS;
    let mut seen = 0;
    for calendar in &calendars {
        let path = format!(
            "/calendars/events?locationId={loc}&calendarId={calendar}&startTime={start}&endTime={}",
            start + 19 * 7 * 3_600_000
        );
        let (status, body) = h.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{body}");
        let events = body["events"].as_array().unwrap();
        assert!(events.iter().all(|e| e["calendarId"] == calendar.as_str()));
        seen += events.len();
    }
    assert_eq!(seen, 20, "both ends of the range are inclusive");
    let (status, _) = h
        .call(
            Method::GET,
            &format!("/calendars/events?locationId={loc}&startTime=0&endTime=1"),
            None,
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_burst_budget_is_per_location_and_throttling_says_when_to_retry() {
    let h = Harness::start().await;
    h.sandbox.gohighlevel().set_interval_limit(Some(3));
    let (a, b) = (h.location(0), h.location(1));
    for _ in 0..3 {
        assert_eq!(h.search(json!({"locationId": a})).await.0, 200);
    }
    let url = format!("{}/gohighlevel/contacts/search", h.running.base_url());
    let refused = h
        .client
        .post(&url)
        .bearer_auth(&h.token)
        .header("Version", API_VERSION)
        .json(&json!({"locationId": a}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let headers = refused.headers();
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["x-ratelimit-interval-milliseconds"], "10000");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(
        h.search(json!({"locationId": b})).await.0,
        200,
        "own budget"
    );

    h.sandbox.gohighlevel().set_interval_limit(None);
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, body) = h.search(json!({"locationId": b})).await;
    assert_eq!(status, 429);
    assert_eq!(body["statusCode"], 429);
}

#[tokio::test]
async fn expired_and_foreign_tokens_get_401() {
    let h = Harness::start().await;
    let loc = h.location(0);
    h.sandbox.oauth().advance(7_200);
    let (status, body) = h.search(json!({"locationId": loc})).await;
    assert_eq!(status, 401);
    assert_eq!(body["statusCode"], 401);
    let mut other = Harness::start().await;
    other.token = other.sandbox.oauth().issue("keap").access_token;
    let loc = other.location(0);
    assert_eq!(other.search(json!({"locationId": loc})).await.0, 401);
}
