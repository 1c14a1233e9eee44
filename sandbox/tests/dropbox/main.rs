//! The Dropbox fake over real HTTP, as a client sees it: bearer auth and its error shapes, RPC
//! bodies and content-download headers, listing and continuing, cursor resets, downloads by
//! revision, id and path, and injected faults in Dropbox's shapes.

use reqwest::StatusCode;
use sandbox::{FaultPlan, RunningSandbox, Sandbox, SandboxConfig, dropbox::content_hash};
use serde_json::{Value, json};

struct Harness {
    sandbox: Sandbox,
    running: RunningSandbox,
    token: String,
}

impl Harness {
    async fn start(files: u64) -> Self {
        let sandbox = Sandbox::new(
            SandboxConfig::new(9)
                .with_records("dropbox.files", files)
                .unwrap(),
        )
        .unwrap();
        let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let token = sandbox.oauth().issue("dropbox").access_token;
        Self {
            sandbox,
            running,
            token,
        }
    }

    fn url(&self, route: &str) -> String {
        format!("{}/2/{route}", self.running.base_url())
    }

    /// A `POST` to `route` with the harness's token.
    fn post(&self, route: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .post(self.url(route))
            .bearer_auth(&self.token)
    }

    /// An RPC call with a JSON body; the answer's status and body (JSON, or the text as a
    /// JSON string).
    async fn rpc(&self, route: &str, arg: Value) -> (StatusCode, Value) {
        call(self.post(route).json(&arg)).await
    }

    async fn download(&self, arg_header: &str) -> reqwest::Response {
        self.post("files/download")
            .header("Dropbox-API-Arg", arg_header)
            .send()
            .await
            .unwrap()
    }

    /// A whole listing from the root: every entry and the final cursor.
    async fn list_all(&self, limit: u64, include_deleted: bool) -> (Vec<Value>, String) {
        let (status, mut page) = self
            .rpc(
                "files/list_folder",
                json!({"path": "", "recursive": true, "limit": limit, "include_deleted": include_deleted}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let mut entries = Vec::new();
        loop {
            entries.extend(page["entries"].as_array().unwrap().iter().cloned());
            let cursor = page["cursor"].as_str().unwrap().to_owned();
            if page["has_more"] != true {
                return (entries, cursor);
            }
            let (status, next) = self
                .rpc("files/list_folder/continue", json!({ "cursor": cursor }))
                .await;
            assert_eq!(status, StatusCode::OK, "{next}");
            page = next;
        }
    }
}

/// Sends `request`; the answer's status and body.
async fn call(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    answer(request.send().await.unwrap()).await
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

#[tokio::test]
async fn auth_errors_come_in_dropbox_shapes() {
    let h = Harness::start(3).await;
    let client = reqwest::Client::new();
    let (status, body) = call(client.post(h.url("users/get_current_account"))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a missing header is bad input"
    );
    assert!(
        body.as_str().unwrap().contains("\"Authorization\""),
        "{body}"
    );

    let (status, body) = call(
        client
            .post(h.url("users/get_current_account"))
            .bearer_auth("at_made_up"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "invalid_access_token");
    assert!(
        body["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("invalid_access_token/")
    );

    h.sandbox
        .oauth()
        .advance(sandbox::dropbox::TOKEN_POLICY.access_ttl_secs);
    let (status, body) = h.rpc("files/list_folder", json!({"path": ""})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "expired_access_token");

    // A token of another platform is unknown here.
    let keap = h.sandbox.oauth().issue("keap").access_token;
    let (status, body) = call(
        client
            .post(h.url("users/get_current_account"))
            .bearer_auth(keap),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"][".tag"], "invalid_access_token");
    assert_eq!(h.sandbox.stats().unauthorized, 3);
}

#[tokio::test]
async fn the_account_takes_no_argument_or_null() {
    let h = Harness::start(1).await;
    let bare = h.post("users/get_current_account");
    let (status, account) = call(bare).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&account, h.sandbox.dropbox().account());
    assert!(account["account_id"].as_str().unwrap().starts_with("dbid:"));
    let (status, _) = h.rpc("users/get_current_account", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    // JSON declared but no body is not JSON.
    let empty = h
        .post("users/get_current_account")
        .header("content-type", "application/json");
    let (status, body) = call(empty).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str()
            .unwrap()
            .contains("could not decode input as JSON"),
        "{body}"
    );
}

#[tokio::test]
async fn listings_page_by_limit_and_equal_the_dataset() {
    let h = Harness::start(25).await;
    let (entries, _) = h.list_all(7, false).await;
    assert_eq!(entries, h.sandbox.dropbox().entries());
    assert_eq!(entries.len(), sandbox::dropbox::FOLDERS.len() + 25);
    // Parents come before their children.
    let mut seen = std::collections::BTreeSet::new();
    for entry in &entries {
        let path = entry["path_lower"].as_str().unwrap();
        let parent = path.rsplit_once('/').unwrap().0;
        assert!(
            parent.is_empty() || seen.contains(parent),
            "{path} before {parent}"
        );
        seen.insert(path.to_owned());
    }
    // A folder can be listed by any spelling; without `recursive`, only its children.
    let (status, page) = h.rpc("files/list_folder", json!({"path": "/PHOTOS"})).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let children: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path_lower"].as_str().unwrap())
        .collect();
    assert!(children.contains(&"/photos/2024 trip"), "{children:?}");
    assert!(
        children.iter().all(|p| p.matches('/').count() == 2),
        "{children:?}"
    );
}

#[tokio::test]
async fn bad_input_is_plain_text_and_lookup_failures_are_409() {
    let h = Harness::start(3).await;
    for (arg, needle) in [
        (json!({"path": "/"}), "empty string"),
        (json!({"path": "", "limit": 0}), "limit"),
        (json!({"path": "", "limit": 2001}), "limit"),
        (json!({"recursive": true}), "could not decode"),
    ] {
        let (status, body) = h.rpc("files/list_folder", arg.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{arg}");
        let text = body.as_str().unwrap_or_default();
        assert!(
            text.starts_with("Error in call to API function \"files/list_folder\""),
            "{text}"
        );
        assert!(text.contains(needle), "{arg}: {text}");
    }
    let (status, body) = h
        .rpc("files/list_folder", json!({"path": "/No Such Folder"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body["error"],
        json!({".tag": "path", "path": {".tag": "not_found"}})
    );
    assert_eq!(body["error_summary"], "path/not_found/..");

    // RPC routes want JSON bodies.
    let text = h
        .post("files/list_folder")
        .header("content-type", "text/plain")
        .body(r#"{"path": ""}"#);
    let (status, body) = call(text).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.as_str().unwrap().contains("Content-Type"), "{body}");

    let (status, _) = h
        .rpc("files/list_folder/continue", json!({"cursor": "nope"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.rpc("files/no_such_route", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_cursor_returns_only_later_changes_until_cursors_are_reset() {
    let h = Harness::start(10).await;
    let dropbox = h.sandbox.dropbox();
    dropbox.write_file("/Old/gone.txt");
    dropbox.delete("/Old/gone.txt");
    let (entries, cursor) = h.list_all(4, false).await;
    assert!(
        entries.iter().all(|e| e[".tag"] != "deleted"),
        "no history without include_deleted"
    );

    let (status, page) = h
        .rpc("files/list_folder/continue", json!({ "cursor": cursor }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["entries"], json!([]), "nothing changed");
    assert_eq!(page["has_more"], false);

    let first = entries.iter().find(|e| e[".tag"] == "file").unwrap();
    dropbox.delete(first["path_display"].as_str().unwrap());
    let added = dropbox.write_file("/Reports/added.txt");
    let (status, page) = h
        .rpc("files/list_folder/continue", json!({ "cursor": cursor }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let changed = page["entries"].as_array().unwrap();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert_eq!(changed[0][".tag"], "deleted");
    assert_eq!(changed[0]["path_lower"], first["path_lower"]);
    assert_eq!(changed[1], added);

    // With include_deleted, a fresh listing reports deletions from before it too.
    let (history, _) = h.list_all(100, true).await;
    let deleted: Vec<&Value> = history.iter().filter(|e| e[".tag"] == "deleted").collect();
    assert_eq!(deleted.len(), 2, "{deleted:?}");

    dropbox.reset_cursors();
    let (status, body) = h
        .rpc("files/list_folder/continue", json!({ "cursor": cursor }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!({".tag": "reset"}));
}

#[tokio::test]
async fn downloads_serve_the_listed_bytes_by_revision_id_or_path() {
    let h = Harness::start(30).await;
    let dropbox = h.sandbox.dropbox();
    let files: Vec<Value> = dropbox
        .entries()
        .into_iter()
        .filter(|e| e[".tag"] == "file")
        .collect();
    for file in &files {
        let by_rev = format!("rev:{}", file["rev"].as_str().unwrap());
        let response = h.download(&json!({ "path": by_rev }).to_string()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        let result = response.headers()["dropbox-api-result"].to_str().unwrap();
        let metadata: Value = serde_json::from_str(result).unwrap();
        assert_eq!(&metadata, file, "the header is the file's metadata");
        let bytes = response.bytes().await.unwrap();
        assert_eq!(bytes.len() as u64, file["size"].as_u64().unwrap());
        assert_eq!(file["content_hash"], content_hash(&bytes));
    }
    assert!(files.iter().any(|f| f["size"] == 0), "an empty file");
    assert!(
        files.iter().any(|f| f["size"].as_u64().unwrap() > 90_000),
        "a large file"
    );

    // After an edit, the old revision still downloads as it was; id and path give the new one.
    let file = &files[2];
    let old = dropbox
        .contents(&format!("rev:{}", file["rev"].as_str().unwrap()))
        .unwrap();
    let edited = dropbox.write_file(file["path_display"].as_str().unwrap());
    let by_id = h
        .download(&json!({ "path": file["id"] }).to_string())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        content_hash(&by_id),
        edited["content_hash"].as_str().unwrap()
    );
    let by_rev = h
        .download(&json!({ "path": format!("rev:{}", file["rev"].as_str().unwrap()) }).to_string())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(by_rev.as_ref(), old.as_slice());

    let (status, body) = answer(h.download(r#"{"path": "/nowhere.txt"}"#).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error_summary"], "path/not_found/..");
    let (status, body) = answer(h.download(r#"{"path": "/Photos"}"#).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["path"][".tag"], "not_file");
    assert_eq!(dropbox.downloads(), files.len() as u64 + 2);
}

#[tokio::test]
async fn download_arguments_must_be_ascii_json_in_the_header() {
    let h = Harness::start(1).await;
    let path = "/日本語のメモ/Überblick.txt";
    let file = h.sandbox.dropbox().write_file(path);
    let escaped = r#"{"path": "/\u65e5\u672c\u8a9e\u306e\u30e1\u30e2/\u00dcberblick.txt"}"#;
    let response = h.download(escaped).await;
    assert_eq!(response.status(), StatusCode::OK);
    let result = response.headers()["dropbox-api-result"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        result.is_ascii(),
        "the answer header is escaped too: {result}"
    );
    let metadata: Value = serde_json::from_str(&result).unwrap();
    assert_eq!(metadata["path_display"], path);
    assert_eq!(
        content_hash(&response.bytes().await.unwrap()),
        file["content_hash"].as_str().unwrap()
    );

    let raw =
        reqwest::header::HeaderValue::from_bytes(json!({ "path": path }).to_string().as_bytes())
            .unwrap();
    let refused = h.post("files/download").header("Dropbox-API-Arg", raw);
    let (status, body) = call(refused).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.as_str().unwrap().contains("Dropbox-API-Arg"), "{body}");

    let missing = h.post("files/download").send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    let as_json = h
        .post("files/download")
        .header("Dropbox-API-Arg", escaped)
        .header("content-type", "application/json");
    let (status, body) = call(as_json).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "content routes refuse JSON bodies"
    );
    assert!(body.as_str().unwrap().contains("Content-Type"), "{body}");
}

#[tokio::test]
async fn injected_faults_answer_in_dropbox_shapes() {
    let h = Harness::start(1).await;
    h.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(1),
        retry_after_secs: 4,
        ..FaultPlan::default()
    });
    let response = h.post("users/get_current_account").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "4");
    let (_, body) = answer(response).await;
    assert_eq!(body["error"]["reason"][".tag"], "too_many_requests");
    assert_eq!(body["error"]["retry_after"], 4);

    h.sandbox.set_faults(FaultPlan {
        server_error_every: Some(1),
        ..FaultPlan::default()
    });
    let (status, _) = h.rpc("files/list_folder", json!({"path": ""})).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let stats = h.sandbox.stats();
    assert_eq!((stats.rate_limited, stats.server_errors), (1, 1));
}

#[tokio::test]
async fn the_same_seed_serves_the_same_dropbox() {
    let a = Harness::start(15).await;
    let b = Harness::start(15).await;
    assert_eq!(
        a.list_all(2000, false).await.0,
        b.list_all(2000, false).await.0
    );
    assert_eq!(a.sandbox.dropbox().account(), b.sandbox.dropbox().account());
}
