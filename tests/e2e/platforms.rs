//! One source of every registered platform, backed up in one run through the worker, each
//! snapshot compared with its sandbox fake's dataset.

use crate::harness::*;
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};
use std::{collections::BTreeMap, time::Duration};

/// How to connect to one platform's fake, and what a full backup of it must contain.
pub(crate) struct Case {
    pub platform: &'static str,
    pub credentials: Value,
    pub config: Value,
    /// Records per stream, as the platform returns them.
    pub expected: BTreeMap<String, Vec<Value>>,
    /// File contents per record id, for platforms whose records carry files.
    contents: BTreeMap<String, Vec<u8>>,
    /// Records whose file the platform refuses to hand over, with the reason it gives.
    refused: BTreeMap<String, &'static str>,
}

fn expected(platform: &str, records: impl Fn(&str) -> Vec<Value>) -> BTreeMap<String, Vec<Value>> {
    connectors::platform(platform)
        .unwrap()
        .streams
        .iter()
        .map(|s| (s.name.to_owned(), records(s.name)))
        .collect()
}

/// The tenant's source for `case`: its own (Stripe) source, or a new one.
pub(crate) async fn source_for(stack: &Stack, tenant: &Tenant, case: &Case) -> String {
    if case.platform == "stripe" {
        return tenant.source_id.clone();
    }
    stack
        .add_source(
            tenant,
            case.platform,
            case.credentials.clone(),
            case.config.clone(),
        )
        .await
        .unwrap()
}

/// Every record of every stream of `platform`'s fake as it is now, as the platform returns
/// them.
pub(crate) fn dataset(platform: &str, sb: &Sandbox) -> BTreeMap<String, Vec<Value>> {
    match platform {
        "stripe" => expected(platform, |s| sb.stripe().records(s).collect()),
        "mailchimp" => expected(platform, |s| sb.mailchimp().records(s)),
        "activecampaign" => expected(platform, |s| sb.activecampaign().records(s).collect()),
        "zendesk" => expected(platform, |s| sb.zendesk().records(s)),
        "hubspot" => expected(platform, |s| sb.hubspot().records(s).collect()),
        "keap" => expected(platform, |s| sb.keap().records(s).collect()),
        "gohighlevel" => {
            let location = sb.gohighlevel().location_ids()[0].clone();
            expected(platform, |s| sb.gohighlevel().records(&location, s))
        }
        "dropbox" => expected(platform, |s| match s {
            "files" => sb.dropbox().entries(),
            _ => vec![sb.dropbox().account().clone()],
        }),
        "googledrive" => {
            let drive = sb.googledrive();
            let select = |records: Vec<Value>, fields: &str| -> Vec<Value> {
                records
                    .iter()
                    .map(|r| sandbox::googledrive::select(r, fields))
                    .collect()
            };
            expected(platform, |s| match s {
                "files" => select(drive.files(), connectors::googledrive::FILE_FIELDS),
                _ => select(drive.drives(), connectors::googledrive::DRIVE_FIELDS),
            })
        }
        "slack" => expected(platform, |s| sb.slack().records(s)),
        other => panic!("no dataset for platform `{other}`: add one to tests/e2e/platforms.rs"),
    }
}

/// Every registered platform must have a case here: a platform that cannot be backed up end to
/// end is not one we list.
pub(crate) fn case(platform: &'static str, sb: &Sandbox, base: &str) -> Case {
    let (mut contents, mut refused) = (BTreeMap::new(), BTreeMap::new());
    let (credentials, config, expected) = match platform {
        "stripe" => (
            json!({"api_key": sb.stripe().api_key()}),
            json!({"base_url": base}),
            dataset(platform, sb),
        ),
        "mailchimp" => (
            json!({"api_key": sb.mailchimp().api_key()}),
            json!({"base_url": format!("{base}/3.0")}),
            dataset(platform, sb),
        ),
        "activecampaign" => (
            json!({"api_key": sb.activecampaign().api_key()}),
            json!({"base_url": base, "requests_per_second": 50}),
            dataset(platform, sb),
        ),
        "zendesk" => (
            json!({"email": sb.zendesk().email(), "api_token": sb.zendesk().api_token()}),
            json!({"base_url": base, "export_requests_per_minute": 600}),
            dataset(platform, sb),
        ),
        "hubspot" => (
            json!({"access_token": sb.hubspot().access_token()}),
            json!({"base_url": base}),
            dataset(platform, sb),
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
                dataset(platform, sb),
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
                dataset(platform, sb),
            )
        }
        "dropbox" => {
            for entry in sb.dropbox().entries() {
                if entry[".tag"] != "file" {
                    continue;
                }
                let rev = entry["rev"].as_str().unwrap();
                let bytes = sb.dropbox().contents(&format!("rev:{rev}")).unwrap();
                contents.insert(entry["id"].as_str().unwrap().to_owned(), bytes);
            }
            (
                sandbox_grant(sb, "dropbox"),
                dropbox_config(base),
                dataset(platform, sb),
            )
        }
        "googledrive" => {
            let issued = sb.oauth().issue("googledrive");
            let drive = sb.googledrive();
            // One spreadsheet exports to more than Drive's 10 MB: listed, contents refused.
            let big = (0..drive.count())
                .find(|&i| {
                    drive
                        .file(i)
                        .is_some_and(|f| f["mimeType"] == sandbox::googledrive::SPREADSHEET)
                })
                .unwrap();
            drive.set_export_too_large(big);
            refused.insert(drive.file_id(big), "exportSizeLimitExceeded");
            for file in drive.files() {
                let id = file["id"].as_str().unwrap();
                let mime = file["mimeType"].as_str().unwrap();
                let bytes = match drive_export(mime) {
                    Some(format) => drive.export_of(id, format),
                    None if mime.starts_with("application/vnd.google-apps.") => None,
                    None => drive.media_of(id),
                };
                if let Some(bytes) = bytes.filter(|_| !refused.contains_key(id)) {
                    contents.insert(id.to_owned(), bytes);
                }
            }
            (
                json!({"access_token": issued.access_token, "refresh_token": issued.refresh_token, "expires_at": issued.expires_at}),
                json!({
                    "base_url": format!("{base}/drive/v3"),
                    "page_size": 25,
                    "requests_per_second": 50,
                    "oauth_app": {
                        "client_id": sandbox::oauth::CLIENT_ID,
                        "client_secret": sandbox::oauth::CLIENT_SECRET,
                        "authorize_url": format!("{base}/oauth/googledrive/authorize"),
                        "token_url": format!("{base}/oauth/googledrive/token"),
                    },
                }),
                dataset(platform, sb),
            )
        }
        "slack" => {
            // A rotating install: the worker refreshes through the connection's row.
            let issued = sb.oauth().issue("slack");
            for file in sb.slack().records("files") {
                let id = file["id"].as_str().unwrap();
                if file.get("url_private_download").is_some() {
                    contents.insert(id.to_owned(), sb.slack().file_contents(id).unwrap());
                }
            }
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
                dataset(platform, sb),
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
        contents,
        refused,
    }
}

/// What Drive's Workspace documents are exported as (the connector's default: OOXML, Drawings
/// as PDF).
fn drive_export(mime: &str) -> Option<&'static str> {
    Some(match mime {
        sandbox::googledrive::DOCUMENT => {
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        }
        sandbox::googledrive::SPREADSHEET => {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
        sandbox::googledrive::PRESENTATION => {
            "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        }
        sandbox::googledrive::DRAWING => "application/pdf",
        _ => return None,
    })
}

/// Takes the file references out of `records` (so they compare with the platform's JSON) and
/// checks each against the expected contents: every file with contents references a stored
/// blob that decrypts to exactly those bytes, a refused file says why, and no other record
/// references a file.
async fn check_files(stack: &Stack, tenant: &Tenant, case: &Case, records: &mut [Value]) {
    let mut referenced = BTreeMap::new();
    for record in records.iter_mut() {
        let Some(file) = record
            .as_object_mut()
            .and_then(|o| o.remove("_listbackup_file"))
        else {
            continue;
        };
        let id = record["id"].as_str().unwrap_or_default().to_owned();
        referenced.insert(id, file);
    }
    let mut with_files: Vec<&String> = case.contents.keys().chain(case.refused.keys()).collect();
    with_files.sort();
    assert_eq!(
        referenced.keys().collect::<Vec<_>>(),
        with_files,
        "{}: the records with file contents",
        case.platform
    );
    for (id, file) in &referenced {
        if let Some(reason) = case.refused.get(id) {
            let error = file["error"].as_str().unwrap_or_default();
            assert!(error.contains(reason), "{id}: {file}");
            continue;
        }
        let expected = &case.contents[id];
        let key = file["key"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: stored: {file}"));
        assert_eq!(file["sha256"], storage::part::sha256_hex(expected), "{id}");
        let blob = stack.store.get(key).await.expect("the blob is stored");
        let plain = storage::part::open_part(tenant.key.identity(), &blob).expect("decrypts");
        assert!(
            &plain == expected,
            "{}/{id}: the blob holds the file",
            case.platform
        );
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
        let source_id = source_for(&stack, &tenant, &case).await;
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
            let mut got = streams
                .get(stream)
                .unwrap_or_else(|| panic!("{}: stream {stream} missing", case.platform))
                .clone();
            if connectors::platform(case.platform)
                .and_then(|p| p.stream(stream))
                .is_some_and(|s| s.files)
            {
                check_files(&stack, &tenant, case, &mut got).await;
            }
            assert_eq!(
                manifest.stream(stream).unwrap().records,
                expected.len() as u64,
                "{}.{stream}: count",
                case.platform
            );
            assert!(
                canonical(&got) == canonical(expected),
                "{}.{stream}: records equal the dataset",
                case.platform
            );
        }
    }
    assert_eq!(runs.len(), connectors::platforms().len());
    stack.shutdown().await;
}
