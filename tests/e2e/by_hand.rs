//! A snapshot restored with standard tools alone, exactly as `docs/restore-by-hand.md` tells a
//! user: the account's key exported through the API, the objects fetched with `aws s3 cp`, each
//! part decrypted with `age -d` and decompressed with `zstd -d`. No ListBackup code reads the
//! backup.

use crate::harness::*;
use sandbox::SandboxConfig;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

/// The AWS CLI `scripts/setup` installs.
fn aws_exe() -> PathBuf {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/awscli/bin/aws");
    assert!(exe.exists(), "the AWS CLI is missing: run ./scripts/setup");
    exe
}

/// Runs a shell pipeline; returns its stdout, failing with its stderr.
fn sh(script: &str, dir: &Path, env: &[(&str, String)]) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restores_with_aws_s3_cp_age_and_zstd_alone() {
    let mut stack = Stack::start(Db::Sqlite, SandboxConfig::new(61))
        .await
        .expect("stack");
    let tenant = stack.provision().await.expect("provision");
    stack.spawn_worker().expect("worker");
    let job_id = start_backup(&stack, &tenant).await.expect("start");
    let job = expect_success(&stack, &tenant, &job_id, Duration::from_secs(180), 0).await;
    let snapshot_id = job["snapshot_id"].as_str().unwrap().to_owned();

    // 1. The owner exports the account's key.
    let r = http()
        .get(format!(
            "{}/v1/accounts/{}/encryption-key",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let exported: Value = r.json().await.unwrap();
    assert_eq!(exported["recipient"], tenant.key.recipient());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("key.txt"),
        exported["identity"].as_str().unwrap(),
    )
    .unwrap();

    // 2. `aws s3 cp` fetches the snapshot's folder.
    let aws_config = dir.path().join("aws-config");
    std::fs::write(&aws_config, "[default]\ns3 =\n  addressing_style = path\n").unwrap();
    let env = [
        ("AWS_ACCESS_KEY_ID", "test-key".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test-secret-key".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("AWS_CONFIG_FILE", aws_config.display().to_string()),
        ("AWS", aws_exe().display().to_string()),
        (
            "ENDPOINT",
            stack.s3_config.endpoint.clone().expect("embedded endpoint"),
        ),
        (
            "PREFIX",
            format!(
                "s3://{BUCKET}/accounts/{}/sources/{}/snapshots/{snapshot_id}/",
                tenant.account_id, tenant.source_id
            ),
        ),
    ];
    sh(
        r#""$AWS" --endpoint-url "$ENDPOINT" s3 cp --recursive --only-show-errors "$PREFIX" snapshot/"#,
        dir.path(),
        &env,
    );

    // 3. Each stream: its parts in name order, through `age -d` and `zstd -d`.
    let snapshot = dir.path().join("snapshot");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(snapshot.join("manifest.json")).unwrap()).unwrap();
    let mut restored: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in std::fs::read_dir(snapshot.join("streams")).unwrap() {
        let stream = entry.unwrap().file_name().into_string().unwrap();
        let jsonl = sh(
            &format!(
                "for part in streams/{stream}/part-*.jsonl.zst.age; do \
                 age -d -i ../key.txt \"$part\" | zstd -d; done"
            ),
            &snapshot,
            &[],
        );
        let records = jsonl
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).expect("a JSON record per line"))
            .collect();
        restored.insert(stream, records);
    }

    // 4. Exactly the dataset, and the manifest's counts and checksums agree.
    for stream in manifest["streams"].as_array().unwrap() {
        let name = stream["name"].as_str().unwrap();
        let expected: Vec<Value> = stack.sandbox.stripe().records(name).collect();
        let got = restored.get(name).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(got, expected.as_slice(), "{name}: restored by hand");
        assert_eq!(stream["records"].as_u64(), Some(expected.len() as u64));
        for part in stream["parts"].as_array().unwrap() {
            let key = part["key"].as_str().unwrap();
            let local = key.rsplit_once("/streams/").unwrap().1;
            let sum = sh(
                &format!("sha256sum streams/{local} | cut -d' ' -f1"),
                &snapshot,
                &[],
            );
            assert_eq!(
                String::from_utf8(sum).unwrap().trim(),
                part["sha256"].as_str().unwrap(),
                "{key}: sha256sum equals the manifest's"
            );
        }
    }
    assert_eq!(
        restored.len(),
        manifest["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| !s["parts"].as_array().unwrap().is_empty())
            .count(),
        "every stream with parts was restored"
    );
    stack.shutdown().await;
}
