//! Point in time, end to end, for every platform: a full backup, the fake changed as its users
//! would (records added, changed and, where the platform reports deletions, deleted), a sync,
//! more changes, another sync. Then, through the API, the state of every stream at each of the
//! three snapshots equals the fake's data at that time, single-record lookups answer each
//! changed record as it was then (or `record_not_found` once deleted), and the diff between
//! consecutive snapshots is exactly what changed. One stack, every platform's source at once.

use crate::harness::*;
use crate::platforms::{case, dataset, source_for};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;
use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

/// Stream -> record id -> record (file references taken out).
type State = BTreeMap<String, BTreeMap<String, Value>>;

/// A record's platform id, as its connector names it.
fn record_id(platform: &str, record: &Value) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match platform {
        "dropbox" => text(
            record
                .get("path_lower")
                .or(record.get("account_id"))
                .unwrap_or(&Value::Null),
        ),
        "mailchimp" if record.get("email_address").is_some() => {
            format!("{}/{}", text(&record["list_id"]), text(&record["id"]))
        }
        "slack" => match (record["channel"].as_str(), record["ts"].as_str()) {
            (Some(channel), Some(ts)) => format!("{channel}:{ts}"),
            _ => text(&record["id"]),
        },
        _ => text(&record["id"]),
    }
}

/// A stored record without the reference to its file's blob (checked by `platforms.rs`).
fn without_file(mut record: Value) -> Value {
    if let Some(o) = record.as_object_mut() {
        o.remove("_listbackup_file");
    }
    record
}

/// The fake's data now, by stream and id.
fn fake_state(platform: &str, sb: &Sandbox) -> State {
    dataset(platform, sb)
        .into_iter()
        .map(|(stream, records)| {
            let by_id = records
                .into_iter()
                .map(|r| (record_id(platform, &r), r))
                .collect();
            (stream, by_id)
        })
        .collect()
}

/// Changes `platform`'s data between runs (`round` 1 or 2), as its users would, limited to
/// what the platform reports to an incremental sync: new and updated records of incremental
/// streams, anything in streams read whole, and deletions where the platform reports them
/// (Drive's changes feed, Dropbox's listing cursor).
fn mutate(platform: &str, sb: &Sandbox, round: u64) {
    match platform {
        "stripe" => {
            for stream in sandbox::stripe::COUNTED_STREAMS {
                sb.stripe().grow(stream, 2);
            }
        }
        "hubspot" => {
            for stream in ["contacts", "companies", "deals", "tickets"] {
                sb.hubspot().touch(stream, [2 + round, 10 + round]);
                sb.hubspot().grow(stream, 2);
            }
        }
        "keap" => {
            sb.keap().touch("contacts", 3 + round);
            sb.keap().grow("contacts", 2);
        }
        "gohighlevel" => {
            let ghl = sb.gohighlevel();
            let location = ghl.location_ids()[0].clone();
            ghl.touch(&location, 3 + round);
            ghl.grow(&location, "contacts", 2);
            ghl.grow(&location, "opportunities", 1);
        }
        "activecampaign" => {
            for stream in ["contacts", "deals"] {
                sb.activecampaign().touch(stream, 2 + round);
                sb.activecampaign().grow(stream, 2);
            }
        }
        "mailchimp" => {
            let mc = sb.mailchimp();
            mc.grow(0, 2);
            mc.touch(1, round);
        }
        "zendesk" => {
            // The incremental export leaves out the last minute: changes are made, then time
            // passes before the sync.
            let zendesk = sb.zendesk();
            zendesk.advance(600);
            for stream in ["tickets", "users"] {
                zendesk.grow(stream, 2);
                zendesk.touch(stream, round);
            }
            zendesk.advance(120);
        }
        "googledrive" => {
            let drive = sb.googledrive();
            if round == 1 {
                drive.edit(1);
                drive.rename(2, "Renamed plan");
                drive.trash(3);
                drive.create(2);
            } else {
                drive.delete(5);
                drive.edit(4);
                drive.create(1);
                drive.rename_drive(0, "Renamed team drive");
            }
        }
        "dropbox" => {
            let dropbox = sb.dropbox();
            let files: Vec<Value> = dropbox
                .entries()
                .into_iter()
                .filter(|e| e[".tag"] == "file")
                .collect();
            let path = |i: usize| files[i]["path_display"].as_str().unwrap().to_owned();
            if round == 1 {
                dropbox.write_file("/Reports/New Plan.txt");
                dropbox.write_file(&path(0));
                dropbox.delete(&path(1));
            } else {
                dropbox.rename(&path(2), "/Archive/moved.txt");
                let recased = path(3);
                dropbox.rename(&recased, &recased.to_uppercase());
                dropbox.write_file("/Clients/Ünïcode GmbH/brief.md");
            }
        }
        "slack" => {
            let slack = sb.slack();
            let readable = slack.readable_channel_ids();
            let (a, b) = (&readable[0], &readable[1]);
            if round == 1 {
                slack.post(a);
                let edited = slack.message_ts(b)[3].clone();
                assert!(slack.edit(b, &edited));
                slack.upload(b);
            } else {
                let parent = slack.thread_ts(a)[0].clone();
                slack.reply(a, &parent).unwrap();
                slack.post(b);
            }
        }
        other => panic!("no mutations for platform `{other}`: add them to tests/e2e/pit.rs"),
    }
}

async fn get(stack: &Stack, tenant: &Tenant, path: &str) -> (u16, Vec<u8>) {
    let r = http()
        .get(format!("{}{path}", stack.api_base))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn ndjson(body: &[u8]) -> Vec<Value> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

/// Percent-encodes an id for a path segment (ids may hold `/`, spaces, `:`, non-ASCII).
fn encode(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The changes from `older` to `newer`, as the diff endpoint lists them.
fn changes(older: &State, newer: &State) -> BTreeSet<(String, String, &'static str)> {
    let mut out = BTreeSet::new();
    let empty = BTreeMap::new();
    let streams: BTreeSet<&String> = older.keys().chain(newer.keys()).collect();
    for stream in streams {
        let (o, n) = (
            older.get(stream).unwrap_or(&empty),
            newer.get(stream).unwrap_or(&empty),
        );
        for (id, record) in n {
            match o.get(id) {
                None => out.insert((stream.clone(), id.clone(), "added")),
                Some(before) if before != record => {
                    out.insert((stream.clone(), id.clone(), "changed"))
                }
                Some(_) => false,
            };
        }
        for id in o.keys().filter(|id| !n.contains_key(*id)) {
            out.insert((stream.clone(), id.clone(), "removed"));
        }
    }
    out
}

/// Checks snapshot `snapshot` of a `platform` source against `expected` through the API: every
/// stream's state, and one record lookup for each id in `ids` (absent ones must be
/// `record_not_found`).
async fn check_snapshot(
    stack: &Stack,
    tenant: &Tenant,
    platform: &str,
    snapshot: &str,
    expected: &State,
    ids: &BTreeSet<(String, String)>,
) {
    for (stream, records) in expected {
        let path = format!("/v1/snapshots/{snapshot}/streams/{stream}/state");
        let (status, body) = get(stack, tenant, &path).await;
        assert_eq!(
            status,
            200,
            "{platform}.{stream}: {}",
            String::from_utf8_lossy(&body)
        );
        let got: BTreeMap<String, Value> = ndjson(&body)
            .into_iter()
            .map(|r| (record_id(platform, &r), without_file(r)))
            .collect();
        assert_eq!(
            got.len(),
            ndjson(&body).len(),
            "{platform}.{stream}: one line per record"
        );
        let missing: Vec<&String> = records.keys().filter(|id| !got.contains_key(*id)).collect();
        let extra: Vec<&String> = got.keys().filter(|id| !records.contains_key(*id)).collect();
        let differ: Vec<&String> = records
            .iter()
            .filter(|(id, r)| got.get(*id).is_some_and(|g| g != *r))
            .map(|(id, _)| id)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && differ.is_empty(),
            "{platform}.{stream} at {snapshot}: missing {missing:?}, extra {extra:?}, differing {differ:?}"
        );
    }
    for (stream, id) in ids {
        let path = format!(
            "/v1/snapshots/{snapshot}/streams/{stream}/records/{}",
            encode(id)
        );
        let (status, body) = get(stack, tenant, &path).await;
        match expected.get(stream).and_then(|s| s.get(id)) {
            Some(record) => {
                assert_eq!(
                    status,
                    200,
                    "{platform}.{stream}/{id}: {}",
                    String::from_utf8_lossy(&body)
                );
                let got = without_file(serde_json::from_slice(&body).unwrap());
                assert_eq!(&got, record, "{platform}.{stream}/{id} at {snapshot}");
            }
            None => {
                assert_eq!(status, 404, "{platform}.{stream}/{id} at {snapshot}");
                let body: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["error"]["code"], "record_not_found");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_platform_round_trips_through_backup_sync_sync() {
    // Stripe's counted streams share one timeline of `created`: equal counts make the records
    // each `grow` adds newer than every existing one, as on Stripe.
    let mut config = SandboxConfig::new(91);
    for stream in sandbox::stripe::COUNTED_STREAMS {
        config = config
            .with_records(&format!("stripe.{stream}"), 40)
            .unwrap();
    }
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let base = stack.sandbox_url();
    let wait = Duration::from_secs(300);

    // Source per platform; a full backup of each, all at once.
    let mut sources = Vec::new();
    for info in connectors::platforms() {
        let case = case(info.id, &stack.sandbox, &base);
        let source_id = source_for(&stack, &tenant, &case).await;
        sources.push((case.platform, source_id));
    }
    // Per platform: the snapshots and the fake's state at each.
    let mut history: Vec<Vec<(String, State)>> = vec![Vec::new(); sources.len()];
    for round in 0..3u64 {
        let mut jobs = Vec::new();
        for (platform, source_id) in &sources {
            if round > 0 {
                mutate(platform, &stack.sandbox, round);
            }
            let job = if round == 0 {
                start_backup_of(&stack, &tenant, source_id).await.unwrap()
            } else {
                start_sync_of(&stack, &tenant, source_id).await.unwrap()
            };
            jobs.push(job);
        }
        for (i, job) in jobs.iter().enumerate() {
            let done = expect_success(&stack, &tenant, job, wait, 0).await;
            let snapshot = done["snapshot_id"].as_str().unwrap().to_owned();
            history[i].push((snapshot, fake_state(sources[i].0, &stack.sandbox)));
        }
    }

    for ((platform, _), snapshots) in sources.iter().zip(&history) {
        let mut previous: Option<&(String, State)> = None;
        for entry in snapshots {
            let (snapshot, expected) = entry;
            // Look up every record that changed since the previous snapshot (absent ones
            // included), and the first of each stream.
            let mut ids: BTreeSet<(String, String)> = BTreeSet::new();
            if let Some((older_id, older)) = previous {
                let expected_diff = changes(older, expected);
                assert!(
                    !expected_diff.is_empty(),
                    "{platform}: the mutations changed something"
                );
                ids.extend(
                    expected_diff
                        .iter()
                        .map(|(s, id, _)| (s.clone(), id.clone())),
                );
                let path = format!("/v1/snapshots/{snapshot}/diff?against={older_id}");
                let (status, body) = get(&stack, &tenant, &path).await;
                assert_eq!(
                    status,
                    200,
                    "{platform}: {}",
                    String::from_utf8_lossy(&body)
                );
                let got: BTreeSet<(String, String, String)> = ndjson(&body)
                    .iter()
                    .map(|d| {
                        (
                            d["stream"].as_str().unwrap().to_owned(),
                            d["id"].as_str().unwrap().to_owned(),
                            d["change"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                let want: BTreeSet<(String, String, String)> = expected_diff
                    .into_iter()
                    .map(|(s, id, c)| (s, id, c.to_owned()))
                    .collect();
                assert_eq!(got, want, "{platform}: diff {older_id} -> {snapshot}");
            }
            for (stream, records) in expected {
                if let Some(id) = records.keys().next() {
                    ids.insert((stream.clone(), id.clone()));
                }
            }
            check_snapshot(&stack, &tenant, platform, snapshot, expected, &ids).await;
            previous = Some(entry);
        }
    }
    stack.shutdown().await;
}
