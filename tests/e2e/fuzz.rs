//! Property-based fuzzing with schemathesis against the running API: no 5xx, and no response
//! the committed spec does not describe, across every operation.

use crate::harness::*;
use sandbox::SandboxConfig;
use std::{path::PathBuf, process::Stdio, time::Duration};

/// The tools `scripts/setup` installs for integrator-style tests.
pub fn api_tool(name: &str) -> PathBuf {
    let path =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/apitools/bin")).join(name);
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/setup",
        path.display()
    );
    path
}

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance,unsupported_method";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_spec() {
    let mut stack = Stack::start(Db::Postgres, SandboxConfig::new(5))
        .await
        .expect("stack");
    stack.spawn_worker().expect("worker");
    let tenant = stack.provision().await.expect("provision");
    let job_id = start_backup(&stack, &tenant).await.expect("backup");
    expect_success(&stack, &tenant, &job_id, Duration::from_secs(120), 0).await;

    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/integrator/schemathesis.toml"
    );
    let report = stack.tmp.path().join("schemathesis");
    let output = tokio::process::Command::new(api_tool("schemathesis"))
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", stack.api_base))
        .args(["--url", &stack.api_base])
        .args(["-H", &format!("Authorization: Bearer {}", tenant.api_key)])
        // What the API promises: no 5xx, and every answer as the spec describes it (status,
        // content type, headers, body schema), plus `405` + `Allow` for undeclared methods.
        // Not checked: `positive_data_acceptance` (a schema-valid value can still be refused
        // with 422, e.g. a name with control characters or an unknown stream) and
        // `negative_data_rejection` (poem-openapi reads JSON numbers and booleans into string
        // fields as their text).
        .args(["--checks", CHECKS])
        .args([
            "--max-examples",
            "15",
            "--seed",
            "20261122",
            "--workers",
            "2",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // A connection test may take its platform's 30 s limit (e.g. a generated base URL whose
        // host name never resolves).
        .args(["--request-timeout", "45"])
        .args(["--no-color", "--report", "junit", "--report-dir"])
        .arg(&report)
        .env("LB_ACCOUNT_ID", &tenant.account_id)
        .env("LB_SOURCE_ID", &tenant.source_id)
        .env("LB_JOB_ID", &job_id)
        .current_dir(stack.tmp.path())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The summary line lists how many operations and cases ran: printed for the test log.
    println!("{stdout}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{stderr}"
    );
    stack.shutdown().await;
}
