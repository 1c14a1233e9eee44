//! GoHighLevel's traps, against the sandbox fake over HTTP: the `Version` header, `searchAfter`
//! paging while contacts are created, location isolation, and a token expiring mid-run.

use connectors::{Connector, ErrorKind, PageRequest, http::HttpClient, oauth::TokenSet};
use sandbox::{
    RunningSandbox, Sandbox, SandboxConfig,
    oauth::{CLIENT_ID, CLIENT_SECRET, TokenPolicy},
};
use serde_json::{Value, json};
use std::{collections::BTreeSet, sync::Arc};

struct Env {
    sandbox: Sandbox,
    running: RunningSandbox,
}

async fn env() -> Env {
    let config = SandboxConfig::new(7)
        .with_records("gohighlevel.contacts", 95)
        .unwrap()
        .with_records("gohighlevel.opportunities", 30)
        .unwrap()
        .with_records("gohighlevel.appointments", 12)
        .unwrap();
    let sandbox = Sandbox::new(config).unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env { sandbox, running }
}

impl Env {
    fn api(&self) -> String {
        format!("{}/gohighlevel", self.running.base_url())
    }

    fn location(&self, n: usize) -> String {
        self.sandbox.gohighlevel().location_ids()[n].clone()
    }

    fn connector(&self, location: &str) -> Arc<dyn Connector> {
        let base = self.running.base_url();
        let issued = self.sandbox.oauth().issue("gohighlevel");
        let credentials = TokenSet {
            access_token: issued.access_token,
            refresh_token: Some(issued.refresh_token),
            expires_at: Some(issued.expires_at),
            obtained_at: None,
        }
        .to_credentials();
        let config = json!({
            "base_url": self.api(),
            "location_id": location,
            "oauth_app": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": format!("{base}/oauth/gohighlevel/authorize"),
                "token_url": format!("{base}/oauth/gohighlevel/token"),
            },
            "page_size": 20,
            "requests_per_second": 100,
            "appointments_from": 1_701_388_800_000_i64,
            "appointments_window_days": 366,
        });
        let http = HttpClient::default().allowing_private_networks(true);
        connectors::build("gohighlevel", &credentials, &config, &http).expect("builds")
    }
}

async fn read_all(c: &dyn Connector, stream: &str) -> Vec<Value> {
    let mut request = PageRequest {
        stream: stream.into(),
        ..Default::default()
    };
    let mut records = Vec::new();
    loop {
        let page = c.read_page(&request).await.expect("page");
        records.extend(
            page.records
                .iter()
                .map(|r| serde_json::from_str(r.json.get()).unwrap()),
        );
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => return records,
        }
    }
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_version_header_is_required_by_the_fake_and_always_sent_by_the_connector() {
    let env = env().await;
    let token = env.sandbox.oauth().issue("gohighlevel").access_token;
    let http = reqwest::Client::new();
    let url = format!("{}/contacts/search", env.api());
    let body = json!({"locationId": env.location(0), "pageLimit": 10});
    let without = http
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 400);
    let error: Value = without.json().await.unwrap();
    assert_eq!(error["statusCode"], 400, "GHL's error shape: {error}");
    let with = http
        .post(&url)
        .bearer_auth(&token)
        .header("Version", "2021-07-28")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
    assert!(with.headers().contains_key("x-ratelimit-remaining"));
    let too_big = json!({"locationId": env.location(0), "pageLimit": 101});
    let refused = http
        .post(&url)
        .bearer_auth(&token)
        .header("Version", "2021-07-28")
        .json(&too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "pageLimit is at most 100");
    let foreign = http
        .post(&url)
        .bearer_auth("not-a-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 401);

    env.sandbox.reset_stats();
    let c = env.connector(&env.location(0));
    for stream in ["contacts", "opportunities", "calendars", "appointments"] {
        assert!(!read_all(c.as_ref(), stream).await.is_empty(), "{stream}");
    }
    let stats = env.sandbox.stats();
    assert_eq!(stats.bad_requests + stats.unauthorized, 0, "{stats:?}");
}

#[tokio::test]
async fn search_after_returns_every_contact_once_with_contacts_created_mid_walk() {
    let env = env().await;
    let loc = env.location(0);
    let c = env.connector(&loc);
    let mut request = PageRequest {
        stream: "contacts".into(),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.read_page(&request).await.unwrap();
        pages += 1;
        seen.extend(page.records.iter().map(|r| r.id.clone()));
        if pages == 2 {
            // Sign-ups while the backup runs: new contacts sort after everything seen.
            env.sandbox.gohighlevel().grow(&loc, "contacts", 7);
        }
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no contact twice");
    let expected: BTreeSet<String> = ids(&env.sandbox.gohighlevel().records(&loc, "contacts"))
        .into_iter()
        .collect();
    assert_eq!(expected.len(), 102);
    assert_eq!(
        unique,
        expected.iter().collect(),
        "every contact, new ones included"
    );
}

#[tokio::test]
async fn each_connection_sees_only_its_own_location() {
    let env = env().await;
    let (a, b) = (env.location(0), env.location(1));
    let (ca, cb) = (env.connector(&a), env.connector(&b));
    for stream in ["contacts", "opportunities", "calendars", "appointments"] {
        let (ra, rb) = (
            read_all(ca.as_ref(), stream).await,
            read_all(cb.as_ref(), stream).await,
        );
        assert!(ra.iter().all(|r| r["locationId"] == a.as_str()), "{stream}");
        assert!(rb.iter().all(|r| r["locationId"] == b.as_str()), "{stream}");
        let (ia, ib): (BTreeSet<_>, BTreeSet<_>) = (
            ids(&ra).into_iter().collect(),
            ids(&rb).into_iter().collect(),
        );
        assert!(ia.is_disjoint(&ib), "{stream}");
        let expected: BTreeSet<_> = ids(&env.sandbox.gohighlevel().records(&a, stream))
            .into_iter()
            .collect();
        assert_eq!(ia, expected, "{stream}");
    }
    let stranger = env.connector("ZZZZZZZZZZZZZZZZZZZZ");
    let err = stranger
        .read_page(&PageRequest {
            stream: "contacts".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Forbidden, "{err}");
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once_and_the_walk_completes() {
    let env = env().await;
    // GHL access tokens last a day and refresh tokens are single use.
    env.sandbox.oauth().set_policy(
        "gohighlevel",
        TokenPolicy {
            access_ttl_secs: 86_400,
            rotate_refresh_tokens: true,
        },
    );
    let loc = env.location(0);
    let c = env.connector(&loc);
    let mut request = PageRequest {
        stream: "contacts".into(),
        ..Default::default()
    };
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = c
            .read_page(&request)
            .await
            .expect("the walk survives the expiry");
        pages += 1;
        seen.extend(page.records.iter().map(|r| r.id.clone()));
        if pages == 2 {
            env.sandbox.oauth().advance(2 * 86_400);
        }
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(seen.len(), 95);
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "one refresh for one expiry"
    );
    assert_eq!(env.sandbox.stats().unauthorized, 1, "one refused request");
}
