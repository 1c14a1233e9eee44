//! One source of every registered platform, backed up in one run through the worker, each
//! snapshot compared with its sandbox fake's dataset.

use crate::harness::*;
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::{collections::BTreeMap, time::Duration};

/// How to connect to one platform's fake, and what a full backup of it must contain.
struct Case {
    platform: &'static str,
    credentials: Value,
    config: Value,
    /// Records per stream, as the platform returns them.
    expected: BTreeMap<String, Vec<Value>>,
    /// The contents a record's file must be stored with; `None` for records without contents.
    file_contents: fn(&Sandbox, &Value) -> Option<Vec<u8>>,
}

/// The member the pipeline adds to a record whose file contents it stored.
const FILE_MEMBER: &str = "_listbackup_file";

fn no_files(_: &Sandbox, _: &Value) -> Option<Vec<u8>> {
    None
}

fn dropbox_file(sb: &Sandbox, record: &Value) -> Option<Vec<u8>> {
    let rev = record["rev"]
        .as_str()
        .filter(|_| record[".tag"] == "file")?;
    sb.dropbox().contents(&format!("rev:{rev}"))
}

fn slack_file(sb: &Sandbox, record: &Value) -> Option<Vec<u8>> {
    record.get("url_private_download")?;
    sb.slack().file_contents(record["id"].as_str()?)
}

fn expected(platform: &str, records: impl Fn(&str) -> Vec<Value>) -> BTreeMap<String, Vec<Value>> {
    connectors::platform(platform)
        .unwrap()
        .streams
        .iter()
        .map(|s| (s.name.to_owned(), records(s.name)))
        .collect()
}

/// Every registered platform must have a case here: a platform that cannot be backed up end to
/// end is not one we list.
fn case(platform: &'static str, sb: &Sandbox, base: &str) -> Case {
    let (credentials, config, expected) = match platform {
        "stripe" => (
            json!({"api_key": sb.stripe().api_key()}),
            json!({"base_url": base}),
            expected(platform, |s| sb.stripe().records(s).collect()),
        ),
        "mailchimp" => (
            json!({"api_key": sb.mailchimp().api_key()}),
            json!({"base_url": format!("{base}/3.0")}),
            expected(platform, |s| sb.mailchimp().records(s)),
        ),
        "activecampaign" => (
            json!({"api_key": sb.activecampaign().api_key()}),
            json!({"base_url": base, "requests_per_second": 50}),
            expected(platform, |s| sb.activecampaign().records(s).collect()),
        ),
        "zendesk" => (
            json!({"email": sb.zendesk().email(), "api_token": sb.zendesk().api_token()}),
            json!({"base_url": base, "export_requests_per_minute": 600}),
            expected(platform, |s| sb.zendesk().records(s)),
        ),
        "hubspot" => (
            json!({"access_token": sb.hubspot().access_token()}),
            json!({"base_url": base}),
            expected(platform, |s| sb.hubspot().records(s).collect()),
        ),
        "keap" => {
            let issued = sb.oauth().issue("keap");
            (
                json!({
                    "access_token": issued.access_token,
                    "refresh_token": issued.refresh_token,
                    "expires_at": issued.expires_at,
                }),
                json!({
                    "base_url": base,
                    "requests_per_second": 20,
                    "oauth_app": {
                        "client_id": sandbox::oauth::CLIENT_ID,
                        "client_secret": sandbox::oauth::CLIENT_SECRET,
                        "authorize_url": format!("{base}/oauth/keap/authorize"),
                        "token_url": format!("{base}/oauth/keap/token"),
                    },
                }),
                expected(platform, |s| sb.keap().records(s).collect()),
            )
        }
        "gohighlevel" => {
            let location = sb.gohighlevel().location_ids()[0].clone();
            let issued = sb.oauth().issue("gohighlevel");
            (
                json!({"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_at": issued.expires_at}),
                json!({
                    "base_url": format!("{base}/gohighlevel"),
                    "location_id": location,
                    "requests_per_second": 50,
                    "appointments_from": 1_701_388_800_000_i64,
                    "appointments_window_days": 366,
                    "oauth_app": {
                        "client_id": sandbox::oauth::CLIENT_ID,
                        "client_secret": sandbox::oauth::CLIENT_SECRET,
                        "authorize_url": format!("{base}/oauth/gohighlevel/authorize"),
                        "token_url": format!("{base}/oauth/gohighlevel/token"),
                    },
                }),
                expected(platform, |s| sb.gohighlevel().records(&location, s)),
            )
        }
        "dropbox" => {
            let issued = sb.oauth().issue("dropbox");
            (
                json!({"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_at": issued.expires_at}),
                json!({
                    "base_url": base,
                    "content_url": base,
                    "requests_per_second": 50,
                    "oauth_app": {
                        "client_id": sandbox::oauth::CLIENT_ID,
                        "client_secret": sandbox::oauth::CLIENT_SECRET,
                        "authorize_url": format!("{base}/oauth/dropbox/authorize"),
                        "token_url": format!("{base}/oauth/dropbox/token"),
                    },
                }),
                expected(platform, |s| match s {
                    "files" => sb.dropbox().entries(),
                    _ => vec![sb.dropbox().account().clone()],
                }),
            )
        }
        "slack" => {
            // A rotating install: the worker refreshes through the connection's row.
            let issued = sb.oauth().issue("slack");
            (
                json!({"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_at": issued.expires_at}),
                json!({
                    "base_url": format!("{base}/slack"),
                    "requests_per_second": 50,
                    "oauth_app": {
                        "client_id": sandbox::oauth::CLIENT_ID,
                        "client_secret": sandbox::oauth::CLIENT_SECRET,
                        "authorize_url": format!("{base}/oauth/slack/authorize"),
                        "token_url": format!("{base}/slack/api/oauth.v2.access"),
                    },
                }),
                expected(platform, |s| sb.slack().records(s)),
            )
        }
        other => {
            panic!("no whole-system case for platform `{other}`: add one to tests/e2e/platforms.rs")
        }
    };
    Case {
        platform,
        credentials,
        config,
        expected,
        file_contents: match platform {
            "dropbox" => dropbox_file,
            "slack" => slack_file,
            _ => no_files,
        },
    }
}

/// Records compared as a multiset, whatever order the platform listed them in.
fn canonical(records: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_of_every_platform_is_backed_up_in_one_run() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(77))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let base = stack.sandbox_url();

    let mut runs = Vec::new();
    for info in connectors::platforms() {
        let case = case(info.id, &stack.sandbox, &base);
        let source_id = if case.platform == "stripe" {
            tenant.source_id.clone()
        } else {
            stack
                .add_source(
                    &tenant,
                    case.platform,
                    case.credentials.clone(),
                    case.config.clone(),
                )
                .await
                .unwrap()
        };
        let job_id = start_backup_of(&stack, &tenant, &source_id)
            .await
            .expect("start");
        runs.push((case, source_id, job_id));
    }
    for (case, source_id, job_id) in &runs {
        let job = expect_success(&stack, &tenant, job_id, Duration::from_secs(300), 0).await;
        let (manifest, streams) = read_snapshot_of(
            &stack,
            &tenant,
            source_id,
            job["snapshot_id"].as_str().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(manifest.platform, case.platform);
        for (stream, expected) in &case.expected {
            let got = streams
                .get(stream)
                .unwrap_or_else(|| panic!("{}: stream {stream} missing", case.platform));
            assert_eq!(
                manifest.stream(stream).unwrap().records,
                expected.len() as u64,
                "{}.{stream}: count",
                case.platform
            );
            // Records with contents carry the pipeline's reference to the stored blob; without
            // it they are the platform's records as they were.
            let mut references = Vec::new();
            let got: Vec<Value> = got
                .iter()
                .map(|record| {
                    let mut record = record.clone();
                    if let Some(reference) =
                        record.as_object_mut().and_then(|o| o.remove(FILE_MEMBER))
                    {
                        references.push((record.clone(), reference));
                    }
                    record
                })
                .collect();
            assert!(
                canonical(&got) == canonical(expected),
                "{}.{stream}: records equal the dataset",
                case.platform
            );
            let with_contents = expected
                .iter()
                .filter(|r| (case.file_contents)(&stack.sandbox, r).is_some())
                .count();
            assert_eq!(
                references.len(),
                with_contents,
                "{}.{stream}: every file's contents were stored",
                case.platform
            );
            let stored_keys = stack.puts.keys();
            for (record, reference) in &references {
                let contents = (case.file_contents)(&stack.sandbox, record).unwrap();
                assert_eq!(
                    reference["sha256"],
                    storage::part::sha256_hex(&contents),
                    "{}.{stream}: {reference}",
                    case.platform
                );
                assert_eq!(reference["size"], contents.len());
                let key = reference["key"].as_str().unwrap();
                assert!(stored_keys.iter().any(|k| k == key), "{key} was stored");
            }
        }
    }
    assert_eq!(runs.len(), connectors::platforms().len());
    stack.shutdown().await;
}
