//! Google Drive's traps, against the Drive fake and the sandbox's authorization server over
//! HTTP: 403s that are rate limits and 403s that are refusals, a changes token Drive no longer
//! accepts, empty pages before the end of a listing, an export over 10 MB, tombstones, content
//! fingerprints, and an access token expiring mid-run.

use connectors::{
    Connector, ErrorKind, FileRef, PageRequest,
    http::{HttpClient, RetrySettings},
    oauth::{MemoryTokenStore, TokenSet, TokenStore},
};
use futures::StreamExt;
use sandbox::{
    RunningSandbox, Sandbox, SandboxConfig,
    googledrive::{self, PLATFORM, Refusal, TOKEN_POLICY},
    oauth::{CLIENT_ID, CLIENT_SECRET, IssuedTokens},
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, sync::Arc, time::Duration};

struct Env {
    sandbox: Sandbox,
    running: RunningSandbox,
    issued: IssuedTokens,
}

async fn env(files: u64) -> Env {
    let sandbox = Sandbox::new(
        SandboxConfig::new(21)
            .with_records("googledrive.files", files)
            .unwrap(),
    )
    .unwrap();
    let running = sandbox.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let issued = sandbox.oauth().issue(PLATFORM);
    Env {
        sandbox,
        running,
        issued,
    }
}

fn tokens(issued: &IssuedTokens) -> TokenSet {
    TokenSet {
        access_token: issued.access_token.clone(),
        refresh_token: Some(issued.refresh_token.clone()),
        expires_at: Some(issued.expires_at),
        obtained_at: None,
    }
}

fn config(env: &Env, extra: Value) -> Value {
    let base = env.running.base_url();
    let mut config = json!({
        "base_url": format!("{base}/drive/v3"),
        "page_size": 10,
        "requests_per_second": 500,
        "oauth_app": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorize_url": format!("{base}/oauth/{PLATFORM}/authorize"),
            "token_url": format!("{base}/oauth/{PLATFORM}/token"),
        },
    });
    config
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    config
}

fn http() -> HttpClient {
    HttpClient::new(RetrySettings {
        min_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        ..RetrySettings::default()
    })
    .allowing_private_networks(true)
}

fn connector(env: &Env, extra: Value) -> Arc<dyn Connector> {
    connectors::build(
        PLATFORM,
        &tokens(&env.issued).to_credentials(),
        &config(env, extra),
        &http(),
    )
    .unwrap()
}

/// One record as read: its id, JSON and file reference.
struct Read {
    id: String,
    json: Value,
    file: Option<FileRef>,
}

/// Every record of a stream, the cursor reached, and how many pages were empty.
async fn read_all(
    c: &dyn Connector,
    stream: &str,
    since: Option<Value>,
) -> (Vec<Read>, Option<Value>, usize) {
    let mut request = PageRequest {
        stream: stream.into(),
        since,
        ..Default::default()
    };
    let (mut records, mut empty) = (Vec::new(), 0);
    loop {
        let page = c.read_page(&request).await.expect("page");
        empty += usize::from(page.records.is_empty() && page.next_page_token.is_some());
        for r in page.records {
            records.push(Read {
                json: serde_json::from_str(r.json.get()).unwrap(),
                id: r.id,
                file: r.file,
            });
        }
        request.cursor = page.cursor.or(request.cursor);
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => return (records, request.cursor, empty),
        }
    }
}

fn listed(sandbox: &Sandbox) -> BTreeMap<String, Value> {
    sandbox
        .googledrive()
        .files()
        .iter()
        .map(|f| {
            let f = googledrive::select(f, connectors::googledrive::FILE_FIELDS);
            (f["id"].as_str().unwrap().to_owned(), f)
        })
        .collect()
}

fn by_id(records: &[Read]) -> BTreeMap<String, Value> {
    records
        .iter()
        .map(|r| (r.id.clone(), r.json.clone()))
        .collect()
}

async fn download(
    c: &dyn Connector,
    file: &FileRef,
) -> Result<Vec<u8>, connectors::ConnectorError> {
    let mut body = c.download(file).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

fn first_index_of(sandbox: &Sandbox, mime: &str) -> u64 {
    let drive = sandbox.googledrive();
    (0..drive.count())
        .find(|&i| {
            drive
                .file(i)
                .is_some_and(|f| f["mimeType"] == mime && f.get("driveId").is_none())
        })
        .unwrap()
}

fn first_binary(sandbox: &Sandbox) -> u64 {
    let drive = sandbox.googledrive();
    (0..drive.count())
        .find(|&i| {
            drive
                .file(i)
                .is_some_and(|f| f.get("md5Checksum").is_some())
        })
        .unwrap()
}

#[tokio::test]
async fn a_403_rate_limit_is_backed_off_and_the_listing_completes() {
    let env = env(60).await;
    let c = connector(&env, Value::Null);
    env.sandbox.googledrive().set_throttle_every(Some(3));
    let (records, _, _) = read_all(c.as_ref(), "files", None).await;
    assert_eq!(by_id(&records), listed(&env.sandbox));
    assert!(
        env.sandbox.googledrive().throttled() >= 2,
        "both 403 rate-limit reasons were answered"
    );
}

#[tokio::test]
async fn other_403s_are_permanent_and_fail_at_once() {
    for refusal in [Refusal::DomainPolicy, Refusal::InsufficientPermissions] {
        let env = env(10).await;
        let c = connector(&env, Value::Null);
        env.sandbox.googledrive().set_refusal(Some(refusal));
        let err = c
            .read_page(&PageRequest {
                stream: "files".into(),
                ..Default::default()
            })
            .await
            .expect_err("refused");
        assert_eq!(err.kind, ErrorKind::Forbidden, "{refusal:?}: {err}");
        assert!(!err.is_temporary());
        assert_eq!(env.sandbox.stats().requests, 1, "{refusal:?}: not retried");
    }
}

#[tokio::test]
async fn an_expired_changes_token_restarts_as_a_full_listing_in_the_same_run() {
    let env = env(40).await;
    let c = connector(&env, Value::Null);
    let (_, cursor, _) = read_all(c.as_ref(), "files", None).await;
    let drive = env.sandbox.googledrive();
    drive.edit(1);
    drive.delete(3);
    drive.create(2);
    drive.expire_change_history();

    let (records, restarted, _) = read_all(c.as_ref(), "files", cursor.clone()).await;
    assert_eq!(
        by_id(&records),
        listed(&env.sandbox),
        "the sync is the complete current listing"
    );
    assert_ne!(restarted, cursor);

    // The new cursor is a live changes token: the next sync returns exactly the next change.
    drive.edit(2);
    let (records, _, _) = read_all(c.as_ref(), "files", restarted).await;
    let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [drive.file_id(2)]);

    // A token Drive never issued is refused with a 400 and handled the same way.
    let (records, _, _) = read_all(c.as_ref(), "files", Some(json!("not-a-token"))).await;
    assert_eq!(by_id(&records), listed(&env.sandbox));
}

#[tokio::test]
async fn empty_pages_before_the_end_do_not_end_the_listing() {
    let env = env(60).await;
    let c = connector(&env, json!({"page_size": 5}));
    let (records, _, empty) = read_all(c.as_ref(), "files", None).await;
    assert!(empty > 0, "Drive answered at least one empty page");
    assert_eq!(by_id(&records), listed(&env.sandbox));
    // The fields a restore needs were asked for (Drive sends four by default).
    let binary = records.iter().find(|r| r.json.get("md5Checksum").is_some());
    let binary = binary.expect("binary files carry their checksum");
    for field in [
        "parents",
        "modifiedTime",
        "size",
        "version",
        "sha256Checksum",
    ] {
        assert!(binary.json.get(field).is_some(), "{field}");
    }
}

#[tokio::test]
async fn a_rejected_listing_token_restarts_the_listing() {
    let env = env(15).await;
    let c = connector(&env, Value::Null);
    let page = c
        .read_page(&PageRequest {
            stream: "files".into(),
            page_token: Some("files:~!!~forged".into()),
            cursor: Some(json!("1021")),
            ..Default::default()
        })
        .await
        .expect("listed again from the first page");
    let first = env.sandbox.googledrive().file_id(0);
    assert_eq!(page.records[0].id, first);
    assert_eq!(page.cursor, Some(json!("1021")));
}

#[tokio::test]
async fn deletions_and_trash_are_tombstones_and_drive_changes_are_skipped() {
    let env = env(30).await;
    let c = connector(&env, Value::Null);
    let (_, cursor, _) = read_all(c.as_ref(), "files", None).await;
    let drive = env.sandbox.googledrive();
    let binary = first_binary(&env.sandbox);
    drive.trash(0);
    drive.delete(2);
    drive.edit(binary);
    drive.rename_drive(1, "Renamed");
    let (records, _, _) = read_all(c.as_ref(), "files", cursor).await;
    let records: BTreeMap<String, Read> = records.into_iter().map(|r| (r.id.clone(), r)).collect();
    assert_eq!(
        records.len(),
        3,
        "one record per changed file, none for the drive"
    );

    let trashed = &records[&drive.file_id(0)];
    assert_eq!(trashed.json["kind"], "drive#change");
    assert_eq!(trashed.json["file"]["trashed"], true);
    assert!(trashed.file.is_none());
    let deleted = &records[&drive.file_id(2)];
    assert_eq!(deleted.json["removed"], true);
    assert!(deleted.json.get("file").is_none());
    assert!(deleted.file.is_none());
    let edited = &records[&drive.file_id(binary)];
    assert_eq!(edited.json["kind"], "drive#file");
    assert!(edited.file.is_some());
}

#[tokio::test]
async fn binaries_are_fingerprinted_by_checksum_and_documents_by_version() {
    let env = env(30).await;
    let c = connector(&env, Value::Null);
    let drive = env.sandbox.googledrive();
    let binary = drive.file_id(first_binary(&env.sandbox));
    let doc = drive.file_id(first_index_of(&env.sandbox, googledrive::DOCUMENT));
    let refs = |records: Vec<Read>| -> BTreeMap<String, FileRef> {
        records
            .into_iter()
            .filter_map(|r| Some((r.id, r.file?)))
            .collect()
    };
    let before = refs(read_all(c.as_ref(), "files", None).await.0);
    assert!(before[&doc].size.is_none(), "exports have no size");
    assert!(before[&doc].name.ends_with(".docx"));

    // Renaming keeps a binary's bytes (and fingerprint) but moves a document's version.
    drive.rename(first_binary(&env.sandbox), "renamed.txt");
    drive.rename(drive.index_of(&doc).unwrap(), "Renamed doc");
    let renamed = refs(read_all(c.as_ref(), "files", None).await.0);
    assert_eq!(renamed[&binary].fingerprint, before[&binary].fingerprint);
    assert_ne!(renamed[&doc].fingerprint, before[&doc].fingerprint);

    drive.edit(first_binary(&env.sandbox));
    let edited = refs(read_all(c.as_ref(), "files", None).await.0);
    assert_ne!(edited[&binary].fingerprint, before[&binary].fingerprint);
    assert_eq!(
        download(c.as_ref(), &edited[&binary]).await.unwrap(),
        drive.media_of(&binary).unwrap()
    );
}

#[tokio::test]
async fn an_export_over_10_mb_fails_for_that_file_only() {
    let env = env(30).await;
    let c = connector(&env, Value::Null);
    let drive = env.sandbox.googledrive();
    let index = first_index_of(&env.sandbox, googledrive::SPREADSHEET);
    drive.set_export_too_large(index);
    let (records, _, _) = read_all(c.as_ref(), "files", None).await;
    let big = records
        .iter()
        .find(|r| r.id == drive.file_id(index))
        .expect("the document's metadata is listed");
    let before = env.sandbox.stats().requests;
    let err = download(c.as_ref(), big.file.as_ref().unwrap())
        .await
        .expect_err("too large to export");
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{err}");
    assert!(!err.is_temporary());
    assert!(err.message.contains("exportSizeLimitExceeded"), "{err}");
    assert_eq!(env.sandbox.stats().requests - before, 1, "not retried");
    // Every other file still downloads.
    for r in records.iter().filter(|r| r.id != big.id) {
        if let Some(file) = &r.file {
            download(c.as_ref(), file)
                .await
                .expect("other files download");
        }
    }
}

#[tokio::test]
async fn documents_export_to_opendocument_when_asked() {
    let env = env(30).await;
    let c = connector(&env, json!({"export_format": "opendocument"}));
    let drive = env.sandbox.googledrive();
    let doc = drive.file_id(first_index_of(&env.sandbox, googledrive::DOCUMENT));
    let (records, _, _) = read_all(c.as_ref(), "files", None).await;
    let file = records
        .into_iter()
        .find(|r| r.id == doc)
        .and_then(|r| r.file)
        .unwrap();
    let odt = "application/vnd.oasis.opendocument.text";
    assert_eq!(file.mime_type.as_deref(), Some(odt));
    assert!(file.name.ends_with(".odt"));
    assert_eq!(
        download(c.as_ref(), &file).await.unwrap(),
        drive.export_of(&doc, odt).unwrap()
    );
}

#[tokio::test]
async fn a_token_expiring_mid_run_is_refreshed_once_and_the_refresh_token_kept() {
    let env = env(50).await;
    let store = Arc::new(MemoryTokenStore::new(tokens(&env.issued)));
    let c = connectors::build_with_tokens(
        PLATFORM,
        &Value::Null,
        &config(&env, Value::Null),
        &http(),
        Some(store.clone()),
    )
    .unwrap();
    let mut request = PageRequest {
        stream: "files".into(),
        ..Default::default()
    };
    let mut records = 0;
    for page_number in 0.. {
        if page_number == 2 {
            env.sandbox.oauth().advance(TOKEN_POLICY.access_ttl_secs);
        }
        let page = c.read_page(&request).await.expect("the walk goes on");
        records += page.records.len();
        request.cursor = page.cursor.or(request.cursor);
        match page.next_page_token {
            Some(t) => request.page_token = Some(t),
            None => break,
        }
    }
    assert_eq!(records, env.sandbox.googledrive().files().len());
    assert_eq!(
        env.sandbox.oauth().refresh_count(),
        1,
        "exactly one refresh"
    );
    let stored = store.load().await.unwrap();
    assert_ne!(stored.access_token, env.issued.access_token);
    assert_eq!(
        stored.refresh_token.as_deref(),
        Some(env.issued.refresh_token.as_str()),
        "Google's refresh tokens do not rotate"
    );
}
