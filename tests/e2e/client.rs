//! An integrator's view: a Python client generated from the committed `api/openapi.json` with
//! `openapi-python-client`, used unchanged, drives the product from registration to the records
//! of a snapshot (`tests/e2e/integrator/drive.py`).

use crate::{fuzz::api_tool, harness::*};
use sandbox::SandboxConfig;
use serde_json::Value;
use std::process::Stdio;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_python_client_drives_registration_to_snapshot_records() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(17))
        .await
        .expect("stack");
    stack.spawn_worker().expect("worker");

    let out = stack.tmp.path().join("client");
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json");
    // NDJSON pages and downloads are files to the client (the generator's own setting).
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/integrator/client-config.yaml"
    );
    let tools = api_tool("openapi-python-client");
    let path = format!(
        "{}:{}",
        tools.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let generated = tokio::process::Command::new(&tools)
        .args([
            "generate",
            "--meta",
            "none",
            "--path",
            spec,
            "--config",
            config,
            "--output-path",
        ])
        .arg(out.join("listbackup_client"))
        .env("PATH", &path)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run openapi-python-client");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(generated.status.success(), "generation failed:\n{log}");
    // A warning means part of the API was left out of the client.
    assert!(!log.contains("Warning"), "the client is incomplete:\n{log}");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/integrator/drive.py");
    let run = tokio::process::Command::new(api_tool("python"))
        .arg(script)
        .env("PYTHONPATH", &out)
        .env("LB_API", &stack.api_base)
        .env("LB_STRIPE_API_KEY", stack.sandbox.stripe().api_key())
        .env("LB_STRIPE_BASE_URL", stack.sandbox_url())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the client script failed:\n{stdout}\n{}\nworker log:\n{}",
        String::from_utf8_lossy(&run.stderr),
        stack.worker_log(0)
    );
    // The script's last line: what it read back through the API, per stream.
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no summary line ({e}):\n{stdout}"));
    for stream in sandbox::stripe::STREAMS {
        assert_eq!(
            summary["records"][stream],
            stack.sandbox.stripe().count(stream),
            "{stream}: {summary}"
        );
    }
    stack.shutdown().await;
}
