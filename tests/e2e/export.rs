//! Exports through the worker's export queue: snapshots with files become one `.tar.zst`
//! downloaded through its pre-signed link and unpacked with Debian's `tar` and `zstd`, equal to
//! what the API serves stream by stream; CSV has a row per record; deleting removes the archive.
//! A million records export with the worker's peak memory no higher than for ten thousand.

use crate::harness::*;
use crate::synthetic;
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use std::{
    io::Write,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

async fn call(
    stack: &Stack,
    tenant: &Tenant,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http()
        .request(method, format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("the API answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Starts an export and waits for it to finish; returns it as `GET /v1/exports/{id}` says.
async fn export(stack: &Stack, tenant: &Tenant, request: Value, patience: Duration) -> Value {
    let path = format!("/v1/accounts/{}/exports", tenant.account_id);
    let (status, started) = call(stack, tenant, reqwest::Method::POST, &path, Some(request)).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["status"], "running");
    let id = started["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + patience;
    loop {
        let (status, row) = call(
            stack,
            tenant,
            reqwest::Method::GET,
            &format!("/v1/exports/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{row}");
        if row["status"] != "running" {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "export {id} still running: {row}\n{}",
            stack.worker_log(0)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Downloads the archive through its link, without credentials, and unpacks it with `tar` and
/// `zstd` into `dir`.
async fn download_and_unpack(row: &Value, dir: &Path) {
    let url = row["download_url"].as_str().expect("a download link");
    let body = http().get(url).send().await.unwrap();
    assert_eq!(body.status(), 200);
    let archive = dir.join("export.tar.zst");
    std::fs::write(&archive, body.bytes().await.unwrap()).unwrap();
    assert_eq!(
        std::fs::metadata(&archive).unwrap().len(),
        row["size_bytes"].as_u64().unwrap()
    );
    let out = Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(dir)
        .output()
        .expect("tar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn stream_download(stack: &Stack, tenant: &Tenant, snapshot: &str, stream: &str) -> Vec<u8> {
    let r = http()
        .get(format!(
            "{}/v1/snapshots/{snapshot}/streams/{stream}/download",
            stack.api_base
        ))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.bytes().await.unwrap().to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_unpacks_with_standard_tools_into_the_snapshots_and_their_files() {
    let config = SandboxConfig::new(64)
        .with_records("stripe.customers", 700)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let dropbox_source = add_dropbox_source(&stack, &tenant).await.unwrap();
    stack.spawn_worker().expect("worker");
    let job = start_backup(&stack, &tenant).await.unwrap();
    let stripe = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let stripe = stripe["snapshot_id"].as_str().unwrap().to_owned();
    let job = start_backup_of(&stack, &tenant, &dropbox_source)
        .await
        .unwrap();
    let dropbox = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let dropbox = dropbox["snapshot_id"].as_str().unwrap().to_owned();

    let row = export(
        &stack,
        &tenant,
        json!({"snapshot_ids": [stripe, dropbox]}),
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(row["format"], "jsonl");
    let dir = tempfile::tempdir().unwrap();
    download_and_unpack(&row, dir.path()).await;

    // Every stream of both snapshots, equal to the API's own download of it.
    let mut records = 0;
    let mut referenced = std::collections::BTreeSet::new();
    for snapshot in [&stripe, &dropbox] {
        let (_, streams) = call(
            &stack,
            &tenant,
            reqwest::Method::GET,
            &format!("/v1/snapshots/{snapshot}/streams?limit=200"),
            None,
        )
        .await;
        for stream in streams["items"].as_array().unwrap() {
            let name = stream["name"].as_str().unwrap();
            let unpacked = std::fs::read(dir.path().join(snapshot).join(format!("{name}.jsonl")))
                .unwrap_or_else(|e| panic!("{snapshot}/{name}.jsonl: {e}"));
            assert!(
                unpacked == stream_download(&stack, &tenant, snapshot, name).await,
                "{snapshot}/{name}.jsonl is the stream"
            );
            records += stream["records"].as_u64().unwrap();
            for line in unpacked.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let record: Value = serde_json::from_slice(line).unwrap();
                if let Some(sha) = record["_listbackup_file"]["sha256"].as_str() {
                    referenced.insert(sha.to_owned());
                }
            }
        }
    }
    assert_eq!(row["records"], records);
    // Every file a record refers to, as it was.
    assert!(!referenced.is_empty());
    assert_eq!(row["files"], referenced.len());
    for sha in &referenced {
        let contents = std::fs::read(dir.path().join("files").join(sha)).unwrap();
        assert_eq!(&sha256_hex(&contents), sha);
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("export.json")).unwrap()).unwrap();
    assert_eq!(index["snapshots"][0]["snapshot_id"], stripe.as_str());

    // CSV of one stream: a header and a row per record, `id` first.
    let row = export(
        &stack,
        &tenant,
        json!({"snapshot_ids": [stripe], "streams": ["customers"], "format": "csv", "include_files": false}),
        Duration::from_secs(180),
    )
    .await;
    assert_eq!(row["status"], "succeeded", "{row}");
    let csv_dir = tempfile::tempdir().unwrap();
    download_and_unpack(&row, csv_dir.path()).await;
    let unpacked: Vec<String> = std::fs::read_dir(csv_dir.path().join(&stripe))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(unpacked, vec!["customers.csv"]);
    let mut csv =
        csv::Reader::from_path(csv_dir.path().join(&stripe).join("customers.csv")).unwrap();
    assert_eq!(&csv.headers().unwrap()[0], "id");
    assert_eq!(csv.records().count(), 700);
    assert_eq!(row["records"], 700);

    // Deleting removes the archive; the export stays listed.
    let id = row["id"].as_str().unwrap();
    let key = format!("accounts/{}/exports/{id}.tar.zst", tenant.account_id);
    assert!(stack.store.get_opt(&key).await.unwrap().is_some());
    let (status, _) = call(
        &stack,
        &tenant,
        reqwest::Method::DELETE,
        &format!("/v1/exports/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(stack.store.get_opt(&key).await.unwrap(), None);
    let (_, gone) = call(
        &stack,
        &tenant,
        reqwest::Method::GET,
        &format!("/v1/exports/{id}"),
        None,
    )
    .await;
    assert_eq!(gone["status"], "deleted");
    assert!(gone.get("download_url").is_none());

    // Refused requests start nothing.
    let path = format!("/v1/accounts/{}/exports", tenant.account_id);
    for (body, field) in [
        (json!({"snapshot_ids": []}), "snapshot_ids"),
        (json!({"snapshot_ids": ["nope"]}), "snapshot_ids"),
        (json!({"snapshot_ids": [stripe, stripe]}), "snapshot_ids"),
        (
            json!({"snapshot_ids": [stripe], "streams": ["tickets"]}),
            "streams",
        ),
        (
            json!({"snapshot_ids": [stripe], "keep_days": 0}),
            "keep_days",
        ),
    ] {
        let (status, error) = call(&stack, &tenant, reqwest::Method::POST, &path, Some(body)).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["details"]["field"], field);
    }
    let (_, listed) = call(&stack, &tenant, reqwest::Method::GET, &path, None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    stack.shutdown().await;
}

/// The worker's peak resident memory so far (`VmHWM`), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporting_a_million_records_keeps_the_worker_flat() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(65))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    let small = synthetic::store_snapshot(&stack, &tenant, 10_000, 20_000).await;
    let large = synthetic::store_snapshot(&stack, &tenant, 1_000_000, 20_000).await;
    let pid = stack.spawn_worker().expect("worker");

    let row = export(
        &stack,
        &tenant,
        json!({"snapshot_ids": [small]}),
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(row["status"], "succeeded", "{row}");
    let after_small = peak_rss_mib(pid);

    let started = Instant::now();
    let row = export(
        &stack,
        &tenant,
        json!({"snapshot_ids": [large]}),
        Duration::from_secs(1200),
    )
    .await;
    assert_eq!(row["status"], "succeeded", "{row}");
    assert_eq!(row["records"], 1_000_000);
    let after_large = peak_rss_mib(pid);
    // Straight to stderr, past the test harness's capture, so every run's output shows it.
    let _ = writeln!(
        std::io::stderr(),
        "export of 1,000,000 records ({} MiB compressed) in {:.1} s: worker peak RSS {after_large} MiB \
         (after a 10,000-record export: {after_small} MiB)",
        row["size_bytes"].as_u64().unwrap() / (1024 * 1024),
        started.elapsed().as_secs_f64()
    );
    assert!(
        after_large <= after_small + 64,
        "peak RSS grew from {after_small} MiB to {after_large} MiB"
    );

    // The archive holds every record, in order.
    let key = format!(
        "accounts/{}/exports/{}.tar.zst",
        tenant.account_id,
        row["id"].as_str().unwrap()
    );
    let archive = stack.store.get(&key).await.unwrap();
    let tarball = zstd::decode_all(&archive[..]).unwrap();
    let mut tar = tar::Archive::new(&tarball[..]);
    let mut found = false;
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().ends_with("customers.jsonl") {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut body).unwrap();
            let lines: Vec<&[u8]> = body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(lines.len(), 1_000_000);
            assert_eq!(lines[0], synthetic::customer(0).as_slice());
            assert_eq!(lines[999_999], synthetic::customer(999_999).as_slice());
            found = true;
        }
    }
    assert!(found);
    stack.shutdown().await;
}

/// Whether `needle` is anywhere in `value`: in a string, or in a string's base64-decoded bytes
/// (how Temporal's JSON history carries payloads).
fn mentions(value: &Value, needle: &str) -> bool {
    use base64::Engine;
    match value {
        Value::String(s) => {
            s.contains(needle)
                || base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
        }
        Value::Array(items) => items.iter().any(|v| mentions(v, needle)),
        Value::Object(map) => map.values().any(|v| mentions(v, needle)),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holding_its_own_key_exports_with_it_and_the_key_is_kept_nowhere() {
    let config = SandboxConfig::new(73)
        .with_records("stripe.customers", 300)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    stack.serve_key_holder();

    // The account takes its key: the service keeps only the recipient from now on.
    let customer = storage::keys::AccountKey::generate();
    let secret = customer.to_secret_string();
    let (status, body) = call(
        &stack,
        &tenant,
        reqwest::Method::PUT,
        &format!("/v1/accounts/{}/encryption-key", tenant.account_id),
        Some(json!({"recipient": customer.recipient(), "discard_service_key": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let job = start_backup(&stack, &tenant).await.unwrap();
    let job = expect_success(&stack, &tenant, &job, Duration::from_secs(240), 0).await;
    let snapshot = job["snapshot_id"].as_str().unwrap().to_owned();

    // Without the key, with another account's or with something else: refused, nothing started.
    let path = format!("/v1/accounts/{}/exports", tenant.account_id);
    let request = json!({"snapshot_ids": [snapshot], "include_files": false});
    let post = |key: Option<String>| {
        let mut r = http()
            .post(format!("{}{path}", stack.api_base))
            .bearer_auth(&tenant.api_key)
            .json(&request);
        if let Some(key) = key {
            r = r.header("X-Listbackup-Identity", key);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, error) = post(None).await;
    assert_eq!(
        (status, &error["error"]["code"]),
        (409, &json!("key_not_held"))
    );
    let other = storage::keys::AccountKey::generate().to_secret_string();
    for bad in [other, "AGE-SECRET-KEY-1NOTAKEY".to_owned()] {
        let (status, error) = post(Some(bad)).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["error"]["details"]["field"], "X-Listbackup-Identity");
    }
    let (_, listed) = call(&stack, &tenant, reqwest::Method::GET, &path, None).await;
    assert_eq!(listed["items"], json!([]), "nothing was started");

    // With it, the export is built where the key is held, encrypted to the account's key.
    let (status, started) = post(Some(secret.clone())).await;
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(240);
    let row = loop {
        let (_, row) = call(
            &stack,
            &tenant,
            reqwest::Method::GET,
            &format!("/v1/exports/{id}"),
            None,
        )
        .await;
        if row["status"] != "running" {
            break row;
        }
        assert!(Instant::now() < deadline, "still running: {row}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(row["status"], "succeeded", "{row}\n{}", stack.worker_log(0));
    let url = row["download_url"].as_str().unwrap();
    assert!(url.contains(".tar.zst.age"), "{url}");
    let dir = tempfile::tempdir().unwrap();
    let sealed = dir.path().join("export.tar.zst.age");
    std::fs::write(
        &sealed,
        http().get(url).send().await.unwrap().bytes().await.unwrap(),
    )
    .unwrap();
    assert!(
        Command::new("tar")
            .arg("--zstd")
            .arg("-tf")
            .arg(&sealed)
            .output()
            .unwrap()
            .status
            .code()
            != Some(0),
        "the stored archive is not readable without the key"
    );
    let key_file = dir.path().join("key.txt");
    std::fs::write(&key_file, &secret).unwrap();
    let opened = dir.path().join("export.tar.zst");
    let out = Command::new("age")
        .args(["-d", "-i"])
        .arg(&key_file)
        .arg("-o")
        .arg(&opened)
        .arg(&sealed)
        .output()
        .expect("age runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("tar")
        .arg("--zstd")
        .arg("-xf")
        .arg(&opened)
        .arg("-C")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = std::fs::read(dir.path().join(&snapshot).join("customers.jsonl")).unwrap();
    let served = http()
        .get(format!(
            "{}/v1/snapshots/{snapshot}/streams/customers/download",
            stack.api_base
        ))
        .bearer_auth(&tenant.api_key)
        .header("X-Listbackup-Identity", &secret)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(exported, served.bytes().await.unwrap().to_vec());
    assert_eq!(exported.iter().filter(|b| **b == b'\n').count(), 300);

    // The key was let go, and is in no workflow history, database row or worker log.
    assert!(
        stack.key_holder.held.get(&id).is_none(),
        "the holder let the key go"
    );
    let history =
        temporal::backup_history_json(&stack.client, row["workflow_id"].as_str().unwrap())
            .await
            .unwrap();
    let history: Value = serde_json::from_slice(&history).unwrap();
    assert!(
        mentions(&history, &tenant.account_id),
        "the history was read"
    );
    assert!(
        !mentions(&history, &secret),
        "the key is in the workflow's history"
    );
    let dump = Command::new("pg_dump")
        .arg(&stack.db_url)
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let dump = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.contains(&snapshot), "the dump has the data");
    assert!(!dump.contains(&secret), "the key is in the database");
    assert!(
        !stack.worker_log(0).contains(&secret),
        "the key is in the log"
    );
    stack.shutdown().await;
}
