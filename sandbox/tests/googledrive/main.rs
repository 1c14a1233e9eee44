//! The Google Drive fake over real HTTP, as a client sees it: OAuth bearer auth, partial
//! responses, shared drive flags, downloads and exports with their refusals, the changes feed,
//! and Google's error shape.

use reqwest::StatusCode;
use sandbox::googledrive::{DOCUMENT, FOLDER, PLATFORM};
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    token: String,
}

impl Harness {
    async fn start() -> Self {
        let sandbox = Sandbox::new(SandboxConfig::new(5)).unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let token = sandbox.oauth().issue(PLATFORM).access_token;
        Self {
            sandbox,
            running,
            token,
        }
    }

    async fn raw(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let url = format!("{}/drive/v3{path}", self.running.base_url());
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.raw(path, Some(&self.token)).await;
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn index_of(&self, mime: &str, shared: bool) -> u64 {
        let drive = self.sandbox.googledrive();
        (0..drive.count())
            .find(|&i| {
                drive
                    .file(i)
                    .is_some_and(|f| f["mimeType"] == mime && f.get("driveId").is_some() == shared)
            })
            .unwrap()
    }
}

fn reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn only_live_drive_tokens_pass() {
    let h = Harness::start().await;
    let response = h.raw("/files", None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&response.json().await.unwrap()), "required");
    let other = h.sandbox.oauth().issue("dropbox").access_token;
    let response = h.raw("/files", Some(&other)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reason(&response.json().await.unwrap()), "authError");
    assert_eq!(h.get("/files").await.0, StatusCode::OK);
}

#[tokio::test]
async fn without_fields_a_file_has_four_and_shared_drives_need_the_flags() {
    let h = Harness::start().await;
    let (_, page) = h.get("/files?pageSize=1000").await;
    let first = page["files"][0].as_object().unwrap();
    let keys: Vec<&str> = first.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    let mine = page["files"].as_array().unwrap().len();

    let (status, body) = h.get("/files?corpora=allDrives").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, all) = h
        .get("/files?corpora=allDrives&includeItemsFromAllDrives=true&pageSize=1000&fields=files(id,driveId)")
        .await;
    assert!(all["files"].as_array().unwrap().len() > mine);

    let shared = h.sandbox.googledrive().file_id(h.index_of(FOLDER, true));
    let (status, body) = h.get(&format!("/files/{shared}")).await;
    assert_eq!((status, reason(&body)), (StatusCode::NOT_FOUND, "notFound"));
    let (status, body) = h
        .get(&format!(
            "/files/{shared}?supportsAllDrives=true&fields=id,driveId"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["driveId"].is_string());
}

#[tokio::test]
async fn documents_export_and_do_not_download() {
    let h = Harness::start().await;
    let doc = h.sandbox.googledrive().file_id(h.index_of(DOCUMENT, false));
    let (status, body) = h.get(&format!("/files/{doc}?alt=media")).await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::FORBIDDEN, "fileNotDownloadable")
    );
    let (status, body) = h
        .get(&format!("/files/{doc}/export?mimeType=image/png"))
        .await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::BAD_REQUEST, "badRequest")
    );
    let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    let response = h
        .raw(
            &format!("/files/{doc}/export?mimeType={docx}"),
            Some(&h.token),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        Some(bytes.to_vec()),
        h.sandbox.googledrive().export_of(&doc, docx)
    );
    let folder = h.sandbox.googledrive().file_id(h.index_of(FOLDER, false));
    let (status, body) = h
        .get(&format!("/files/{folder}/export?mimeType={docx}"))
        .await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::FORBIDDEN, "fileNotExportable")
    );
}

#[tokio::test]
async fn the_changes_feed_pages_to_a_new_start_token() {
    let h = Harness::start().await;
    let (_, start) = h.get("/changes/startPageToken").await;
    let token = start["startPageToken"].as_str().unwrap().to_owned();
    let drive = h.sandbox.googledrive();
    drive.edit(1);
    drive.delete(2);
    drive.create(1);
    let (_, first) = h
        .get(&format!("/changes?pageToken={token}&pageSize=2&fields=*"))
        .await;
    assert_eq!(first["changes"].as_array().unwrap().len(), 2);
    assert_eq!(first["changes"][1]["removed"], true);
    let next = first["nextPageToken"].as_str().unwrap();
    let (_, last) = h.get(&format!("/changes?pageToken={next}&fields=*")).await;
    assert_eq!(last["changes"].as_array().unwrap().len(), 1);
    let new_start = last["newStartPageToken"].as_str().unwrap();
    let (_, empty) = h.get(&format!("/changes?pageToken={new_start}")).await;
    assert_eq!(empty["changes"].as_array().unwrap().len(), 0);

    let (status, body) = h.get("/changes?pageToken=xyz").await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::BAD_REQUEST, "invalid")
    );
    drive.expire_change_history();
    let (status, _) = h.get(&format!("/changes?pageToken={token}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn faults_answer_in_googles_shape() {
    let h = Harness::start().await;
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, body) = h.get("/files").await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "rateLimitExceeded")
    );
    h.sandbox.set_faults(FaultPlan::default());
    h.sandbox.googledrive().set_user_quota(2);
    assert_eq!(h.get("/files").await.0, StatusCode::OK);
    assert_eq!(h.get("/files").await.0, StatusCode::OK);
    let (status, body) = h.get("/files").await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::FORBIDDEN, "userRateLimitExceeded")
    );
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
}
