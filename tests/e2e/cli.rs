//! The binary's start-up errors: one line naming the variable, never a panic.

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (code, _, stderr) = run_full(args, env);
    (code, stderr)
}

fn run_full(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_listbackup"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .output()
        .expect("binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_missing_database_url_is_named() {
    let (code, stderr) = run(&["worker"], &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("LISTBACKUP_DATABASE_URL is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_bad_master_key_is_named_without_echoing_it() {
    let env = [
        ("LISTBACKUP_DATABASE_URL", "sqlite::memory:"),
        ("LISTBACKUP_S3_BUCKET", "listbackup"),
        ("LISTBACKUP_S3_ACCESS_KEY_ID", "id"),
        ("LISTBACKUP_S3_SECRET_ACCESS_KEY", "secret"),
        ("LISTBACKUP_MASTER_KEY", "not-a-key-s3cr3t"),
    ];
    let (code, stderr) = run(&["worker"], &env);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("LISTBACKUP_MASTER_KEY is invalid"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cr3t"),
        "the value is not echoed: {stderr}"
    );
}

#[test]
fn a_bad_database_url_and_bad_numbers_are_named() {
    let (code, stderr) = run(&["migrate"], &[("LISTBACKUP_DATABASE_URL", "mysql://x")]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("LISTBACKUP_DATABASE_URL is invalid"),
        "{stderr}"
    );
    let (_, stderr) = run(&["sandbox", "--records", "stripe.customers=many"], &[]);
    assert!(stderr.contains("stripe.customers=many"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_openapi_command_prints_the_committed_spec() {
    let (code, stdout, _) = run_full(&["openapi"], &[]);
    assert_eq!(code, 0);
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/api/openapi.json")).unwrap();
    assert_eq!(stdout.trim_end(), committed.trim_end());
}
