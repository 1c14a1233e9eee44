//! Service status endpoints that need no credentials.

use crate::harness::*;

#[tokio::test]
async fn ready_and_version_answer_without_credentials() {
    let app = App::spawn().await;
    let ready = app.call("GET", "/v1/ready", None, None).await;
    assert_eq!(ready.ok(200)["ready"], true);
    let version = app.call("GET", "/v1/version", None, None).await;
    let body = version.ok(200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["api_version"], api::API_VERSION);
    app.shutdown().await;
}

/// The value of the sample `name{labels}` in Prometheus text (labels in any order).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|line| {
            let Some(rest) = line.strip_prefix(name) else {
                return false;
            };
            rest.starts_with('{')
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_jobs_by_status() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    for _ in 0..3 {
        app.get(&format!("/v1/jobs/job_nope_{}", rand_suffix()), &ada.access)
            .await
            .error(404, "not_found");
    }
    app.get(&format!("/v1/accounts/{}", ada.account_id), &ada.access)
        .await
        .ok(200);
    let conn = entities::repo::create_connection(
        &app.db,
        &ada.account_id,
        "stripe",
        "Stripe",
        "sealed".into(),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let source = entities::repo::create_source(&app.db, &conn, "all", &[])
        .await
        .unwrap();
    entities::repo::create_job(&app.db, &source, entities::JobKind::Backup)
        .await
        .unwrap();

    let (status, headers, body) = app.get_raw("/metrics", None).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{headers:?}"
    );
    let text = String::from_utf8(body).unwrap();
    let not_found = [
        ("method", "GET"),
        ("route", "/v1/jobs/{job_id}"),
        ("status", "404"),
    ];
    // Other tests in this binary may count too: at least ours.
    assert!(
        sample(&text, "http_requests_total", &not_found).unwrap_or(0.0) >= 3.0,
        "{text}"
    );
    assert!(
        sample(&text, "http_request_duration_seconds_count", &not_found).unwrap_or(0.0) >= 3.0,
        "{text}"
    );
    let ok = [("route", "/v1/accounts/{account_id}"), ("status", "200")];
    assert!(sample(&text, "http_requests_total", &ok).unwrap_or(0.0) >= 1.0);
    assert!(!text.contains("job_nope_"), "raw paths are never labels");
    assert_eq!(
        sample(&text, "listbackup_jobs", &[("status", "queued")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "listbackup_jobs", &[("status", "failed")]),
        Some(0.0)
    );
    assert!(!app.get_raw("/v1/openapi.json", None).await.2.is_empty());
    let spec: serde_json::Value =
        serde_json::from_slice(&app.get_raw("/v1/openapi.json", None).await.2).unwrap();
    assert!(spec["paths"].get("/metrics").is_none(), "not in the spec");
    app.shutdown().await;
}

fn rand_suffix() -> String {
    entities::new_id()
}

#[tokio::test]
async fn metrics_ask_for_the_token_when_one_is_set() {
    let app = App::spawn_with(|auth| App::generous(auth).with_metrics_token("scrape-secret")).await;
    app.call("GET", "/metrics", None, None)
        .await
        .error(401, "unauthorized");
    app.call_with("GET", "/metrics", Some("wrong"), None, &[])
        .await
        .error(401, "unauthorized");
    let (status, _, body) = app.get_raw("/metrics", Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("listbackup_jobs"));
    app.shutdown().await;
}

/// A NUL character cannot be stored or compared as text (Postgres refuses it): a parameter
/// holding one is a 400 with the envelope, never a 500.
#[tokio::test]
async fn a_nul_character_in_a_parameter_is_refused() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    for path in [
        format!("/v1/accounts/{}/jobs?source_id=a%00b", ada.account_id),
        "/v1/jobs/x%00y".to_owned(),
        format!("/v1/accounts/{}/sources?cursor=%00", ada.account_id),
    ] {
        let r = app.get(&path, &ada.access).await;
        r.error(400, "invalid_request");
    }
    app.get(
        &format!("/v1/accounts/{}/jobs", ada.account_id),
        &ada.access,
    )
    .await
    .ok(200);
    app.shutdown().await;
}
