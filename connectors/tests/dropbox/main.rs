//! Dropbox's traps, against the Dropbox fake and the sandbox's authorization server over HTTP:
//! a cursor reset mid-backup and mid-sync, an access token expiring mid-run, a revoked grant,
//! throttling with `Retry-After`, non-ASCII paths in the `Dropbox-API-Arg` header,
//! case-insensitive paths, and downloads that do not match `content_hash`.

use connectors::{
    Connector, ConnectorError, ErrorKind, FileRef, PageRequest,
    dropbox::{ContentHasher, header_arg},
    http::{HttpClient, RetrySettings},
    oauth::{MemoryTokenStore, TokenSet, TokenStore},
};
use futures::StreamExt;
use sandbox::{
    FaultPlan, RunningSandbox, Sandbox, SandboxConfig,
    dropbox::TOKEN_POLICY,
    oauth::{CLIENT_ID, CLIENT_SECRET},
};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

struct Env {
    sandbox: Sandbox,
    running: RunningSandbox,
}

async fn env(files: u64) -> Env {
    let sandbox = Sandbox::new(
        SandboxConfig::new(23)
            .with_records("dropbox.files", files)
            .unwrap(),
    )
    .unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    Env { sandbox, running }
}

impl Env {
    fn config(&self) -> Value {
        let base = self.running.base_url();
        json!({
            "base_url": base,
            "content_url": base,
            "page_size": 10,
            "requests_per_second": 200,
            "oauth_app": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "authorize_url": format!("{base}/oauth/dropbox/authorize"),
                "token_url": format!("{base}/oauth/dropbox/token"),
            },
        })
    }

    fn tokens(&self) -> TokenSet {
        let issued = self.sandbox.oauth().issue("dropbox");
        TokenSet {
            access_token: issued.access_token,
            refresh_token: Some(issued.refresh_token),
            expires_at: Some(issued.expires_at),
            obtained_at: None,
        }
    }

    /// A connector whose refreshes go through `store`.
    fn connector_with(&self, store: Arc<dyn TokenStore>) -> Arc<dyn Connector> {
        let http = HttpClient::new(RetrySettings {
            min_delay: Duration::from_millis(10),
            ..RetrySettings::default()
        })
        .allowing_private_networks(true);
        connectors::build_with_tokens("dropbox", &Value::Null, &self.config(), &http, Some(store))
            .unwrap()
    }

    fn connector(&self) -> Arc<dyn Connector> {
        self.connector_with(Arc::new(MemoryTokenStore::new(self.tokens())))
    }

    /// The live entries, by `path_lower`.
    fn dataset(&self) -> BTreeMap<String, Value> {
        self.sandbox
            .dropbox()
            .entries()
            .into_iter()
            .map(|e| (path_of(&e), e))
            .collect()
    }
}

fn path_of(entry: &Value) -> String {
    entry["path_lower"].as_str().unwrap().to_owned()
}

/// One walk of the `files` stream, page by page; `between` runs after each page.
struct Walk {
    /// Every record in order, as `(id, json, file)`.
    records: Vec<(String, Value, Option<FileRef>)>,
    cursor: Option<Value>,
}

async fn walk(
    c: &dyn Connector,
    since: Option<Value>,
    mut between: impl FnMut(usize),
) -> Result<Walk, ConnectorError> {
    let mut request = PageRequest {
        stream: "files".into(),
        since,
        ..Default::default()
    };
    let mut records = Vec::new();
    for page_number in 0.. {
        let page = c.read_page(&request).await?;
        for r in page.records {
            let json: Value = serde_json::from_str(r.json.get()).unwrap();
            records.push((r.id, json, r.file));
        }
        request.cursor = page.cursor;
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
        between(page_number);
    }
    Ok(Walk {
        records,
        cursor: request.cursor,
    })
}

impl Walk {
    /// The records applied in order, as a restore would: a later record of a path replaces
    /// an earlier one, a tombstone removes it.
    fn applied(&self) -> BTreeMap<String, Value> {
        let mut state = BTreeMap::new();
        for (id, json, _) in &self.records {
            if json[".tag"] == "deleted" {
                state.remove(id);
            } else {
                state.insert(id.clone(), json.clone());
            }
        }
        state
    }

    fn tombstones(&self) -> BTreeSet<String> {
        self.records
            .iter()
            .filter(|(_, json, _)| json[".tag"] == "deleted")
            .map(|(id, _, _)| id.clone())
            .collect()
    }
}

async fn download_all(c: &dyn Connector, file: &FileRef) -> Result<Vec<u8>, ConnectorError> {
    let mut body = c.download(file).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn a_cursor_reset_mid_backup_lists_again_and_the_snapshot_ends_current() {
    let env = env(50).await;
    let c = env.connector();
    let dropbox = env.sandbox.dropbox();
    let doomed = dropbox
        .entries()
        .into_iter()
        .find(|e| e[".tag"] == "file")
        .unwrap();
    let full = walk(c.as_ref(), None, |page| {
        if page == 1 {
            // Deleted after the backup saw it, then the cursor is invalidated.
            dropbox.delete(doomed["path_display"].as_str().unwrap());
            dropbox.write_file("/Reports/late.txt");
            dropbox.reset_cursors();
        }
    })
    .await
    .expect("the backup recovers from the reset");
    assert_eq!(
        full.applied(),
        env.dataset(),
        "applied in order, the snapshot equals the Dropbox after the changes"
    );
    assert!(
        full.tombstones().contains(&path_of(&doomed)),
        "the file deleted after it was read is reported deleted"
    );

    // The cursor of the relisting works for the next sync, which finds nothing new.
    let sync = walk(c.as_ref(), full.cursor.clone(), |_| {}).await.unwrap();
    assert!(sync.records.is_empty(), "{:?}", sync.records);
}

#[tokio::test]
async fn a_cursor_reset_during_a_sync_lists_again_with_deletions_and_loses_no_change() {
    let env = env(30).await;
    let c = env.connector();
    let dropbox = env.sandbox.dropbox();
    let full = walk(c.as_ref(), None, |_| {}).await.unwrap();
    assert_eq!(full.applied(), env.dataset());

    let files: Vec<Value> = dropbox
        .entries()
        .into_iter()
        .filter(|e| e[".tag"] == "file")
        .collect();
    dropbox.delete(files[0]["path_display"].as_str().unwrap());
    dropbox.rename(
        files[1]["path_display"].as_str().unwrap(),
        "/Archive/renamed.md",
    );
    dropbox.write_file("/Projects/Atlas/new.csv");
    dropbox.reset_cursors();
    let before = env.sandbox.stats();
    let sync = walk(c.as_ref(), full.cursor.clone(), |_| {})
        .await
        .expect("the sync recovers from the reset");
    let after = env.sandbox.stats();
    assert_eq!(
        after.bad_requests - before.bad_requests,
        1,
        "one 409 reset, then a new listing"
    );

    // The saved snapshot plus this sync, applied in order, equals the Dropbox now.
    let mut chained = full.records;
    chained.extend(sync.records.iter().cloned());
    let chain = Walk {
        records: chained,
        cursor: None,
    };
    assert_eq!(chain.applied(), env.dataset());
    let tombstones = sync.tombstones();
    for gone in [&files[0], &files[1]] {
        assert!(tombstones.contains(&path_of(gone)), "{}", path_of(gone));
    }
    assert_ne!(sync.cursor, full.cursor);
}

#[tokio::test]
async fn an_access_token_expiring_mid_run_is_refreshed_once_and_the_refresh_token_kept() {
    let env = env(40).await;
    let tokens = env.tokens();
    let store = Arc::new(MemoryTokenStore::new(tokens.clone()));
    let c = env.connector_with(store.clone());
    let oauth = env.sandbox.oauth();
    let full = walk(c.as_ref(), None, |page| {
        if page == 1 {
            // Dropbox's clock passes the 4-hour expiry; ours does not notice.
            oauth.advance(TOKEN_POLICY.access_ttl_secs);
        }
    })
    .await
    .expect("the walk goes on");
    assert_eq!(full.applied(), env.dataset());
    assert_eq!(oauth.refresh_count(), 1, "exactly one refresh");
    let stored = store.load().await.unwrap();
    assert_ne!(stored.access_token, tokens.access_token);
    assert_eq!(
        stored.refresh_token, tokens.refresh_token,
        "Dropbox's refresh tokens do not rotate"
    );

    // Downloads refresh the same way.
    oauth.advance(TOKEN_POLICY.access_ttl_secs);
    let file = full.records.iter().find_map(|(_, _, f)| f.clone()).unwrap();
    download_all(c.as_ref(), &file).await.expect("download");
    assert_eq!(oauth.refresh_count(), 2);
}

#[tokio::test]
async fn a_revoked_grant_fails_at_once_without_a_refresh() {
    let env = env(5).await;
    let c = env.connector();
    env.sandbox.oauth().revoke_all("dropbox");
    let err = c
        .read_page(&PageRequest {
            stream: "files".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(err.kind, ErrorKind::Unauthorized, "{err}");
    assert!(err.message.contains("invalid_access_token"), "{err}");
    assert!(err.message.contains("reconnect"), "{err}");
    assert_eq!(env.sandbox.oauth().refresh_count(), 0);
    assert_eq!(env.sandbox.stats().requests, 1);
}

#[tokio::test]
async fn throttling_waits_as_long_as_retry_after_says() {
    let env = env(20).await;
    let c = env.connector();
    env.sandbox.set_faults(FaultPlan {
        rate_limit_every: Some(2),
        retry_after_secs: 1,
        ..FaultPlan::default()
    });
    let started = Instant::now();
    let full = walk(c.as_ref(), None, |_| {}).await.expect("read");
    let elapsed = started.elapsed();
    env.sandbox.set_faults(FaultPlan::default());
    assert_eq!(full.applied(), env.dataset());
    let stats = env.sandbox.stats();
    assert!(stats.rate_limited >= 2, "{stats:?}");
    assert_eq!(stats.requests, stats.ok + stats.rate_limited, "{stats:?}");
    // The test's own backoff starts at 10 ms: only `Retry-After` explains whole seconds.
    let waited = Duration::from_secs(stats.rate_limited).mul_f64(0.9);
    assert!(elapsed >= waited, "{elapsed:?} for {stats:?}");
}

#[tokio::test]
async fn non_ascii_paths_travel_escaped_in_the_dropbox_api_arg_header() {
    let env = env(3).await;
    let c = env.connector();
    let path = "/Überweisungen/Roadmap 📈 naïve.txt";
    let written = env.sandbox.dropbox().write_file(path);
    let expected = env.sandbox.dropbox().contents(path).unwrap();

    // Sent raw, as UTF-8, the header is refused like Dropbox refuses it.
    let token = env.sandbox.oauth().issue("dropbox").access_token;
    let raw =
        reqwest::header::HeaderValue::from_bytes(json!({ "path": path }).to_string().as_bytes())
            .unwrap();
    let refused = reqwest::Client::new()
        .post(format!("{}/2/files/download", env.running.base_url()))
        .bearer_auth(&token)
        .header("Dropbox-API-Arg", raw)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(
        refused.text().await.unwrap().contains("Dropbox-API-Arg"),
        "the answer names the header"
    );
    assert!(header_arg(&json!({ "path": path })).is_ascii());

    // The connector escapes it; paths are case-insensitive, so any spelling finds the file.
    for locator in [path.to_owned(), path.to_uppercase()] {
        let file = FileRef {
            locator,
            fingerprint: written["content_hash"].as_str().map(str::to_owned),
            size: written["size"].as_u64(),
            name: path.into(),
            mime_type: None,
        };
        assert_eq!(download_all(c.as_ref(), &file).await.unwrap(), expected);
    }
}

#[tokio::test]
async fn a_change_of_case_is_the_same_record_with_a_new_spelling() {
    let env = env(12).await;
    let c = env.connector();
    let full = walk(c.as_ref(), None, |_| {}).await.unwrap();
    let file = env
        .sandbox
        .dropbox()
        .entries()
        .into_iter()
        .find(|e| e[".tag"] == "file")
        .unwrap();
    let display = file["path_display"].as_str().unwrap();
    let (parent, name) = display.rsplit_once('/').unwrap();
    let recased = format!("{parent}/{}", name.to_uppercase());
    env.sandbox.dropbox().rename(display, &recased);

    let sync = walk(c.as_ref(), full.cursor, |_| {}).await.unwrap();
    assert_eq!(sync.records.len(), 1, "{:?}", sync.records);
    let (id, json, file_ref) = &sync.records[0];
    assert_eq!(*id, path_of(&file), "the same record");
    assert_eq!(json["path_display"], recased.as_str());
    assert!(sync.tombstones().is_empty(), "nothing was deleted");
    assert_eq!(file_ref.as_ref().unwrap().name, recased);
}

#[tokio::test]
async fn downloads_that_do_not_match_the_content_hash_are_errors() {
    let env = env(30).await;
    let c = env.connector();
    let full = walk(c.as_ref(), None, |_| {}).await.unwrap();
    let file = full
        .records
        .iter()
        .filter_map(|(_, _, f)| f.clone())
        .max_by_key(|f| f.size)
        .unwrap();
    assert!(file.size.unwrap() > 64 * 1024, "a file of many chunks");
    assert!(
        file.locator.starts_with("rev:"),
        "pinned to the listed revision"
    );

    env.sandbox.dropbox().set_corrupt_downloads(true);
    let mut body = c.download(&file).await.expect("the transfer starts");
    let mut received = 0;
    let err = loop {
        match body.next().await {
            Some(Ok(chunk)) => received += chunk.len(),
            Some(Err(e)) => break e,
            None => panic!("a corrupted download ended without an error"),
        }
    };
    assert_eq!(received as u64, file.size.unwrap(), "every byte arrived");
    assert_eq!(err.kind, ErrorKind::Decode, "{err}");
    assert!(err.message.contains("content_hash"), "{err}");
    assert!(body.next().await.is_none(), "the error ends the stream");
    env.sandbox.dropbox().set_corrupt_downloads(false);

    // A listed hash that is not the one of the revision served is caught up front.
    let stale = FileRef {
        fingerprint: Some("0".repeat(64)),
        ..file.clone()
    };
    let err = match c.download(&stale).await {
        Ok(_) => panic!("a different version is not downloaded as this one"),
        Err(e) => e,
    };
    assert!(err.message.contains("another version"), "{err}");

    let intact = download_all(c.as_ref(), &file).await.unwrap();
    let mut hasher = ContentHasher::new();
    hasher.update(&intact);
    assert_eq!(Some(hasher.finish()), file.fingerprint);
}

#[test]
fn the_content_hash_agrees_with_the_fakes_over_several_blocks() {
    // Two independent implementations of Dropbox's documented algorithm, across the 4 MiB
    // block boundary and fed in uneven chunks.
    let data: Vec<u8> = (0..sandbox::dropbox::BLOCK_SIZE * 2 + 999)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let mut hasher = ContentHasher::new();
    for chunk in data.chunks(1_000_003) {
        hasher.update(chunk);
    }
    assert_eq!(hasher.finish(), sandbox::dropbox::content_hash(&data));
}

#[tokio::test]
async fn a_garbled_saved_cursor_is_a_permanent_error_not_a_retry_loop() {
    let env = env(5).await;
    let c = env.connector();
    let err = walk(c.as_ref(), Some(json!("not-a-dropbox-cursor")), |_| {})
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{err}");
    assert!(!err.is_temporary());
    assert_eq!(env.sandbox.stats().requests, 1);
    let err = walk(c.as_ref(), Some(json!(42)), |_| {})
        .await
        .err()
        .expect("refused");
    assert_eq!(err.kind, ErrorKind::Config, "{err}");
}

#[tokio::test]
async fn the_account_is_one_record() {
    let env = env(1).await;
    let c = env.connector();
    c.check().await.expect("check");
    let page = c
        .read_page(&PageRequest {
            stream: "account".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.records.len(), 1);
    assert!(page.next_page_token.is_none());
    let json: Value = serde_json::from_str(page.records[0].json.get()).unwrap();
    assert_eq!(&json, env.sandbox.dropbox().account());
    assert_eq!(page.records[0].id, json["account_id"].as_str().unwrap());
}
