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
fn bad_object_lock_settings_are_named() {
    let base = [
        ("LISTBACKUP_DATABASE_URL", "sqlite::memory:"),
        ("LISTBACKUP_S3_BUCKET", "listbackup"),
        ("LISTBACKUP_S3_ACCESS_KEY_ID", "id"),
        ("LISTBACKUP_S3_SECRET_ACCESS_KEY", "secret"),
    ];
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("LISTBACKUP_S3_OBJECT_LOCK_MODE", "legal")],
            "LISTBACKUP_S3_OBJECT_LOCK_MODE is invalid",
        ),
        (
            &[("LISTBACKUP_S3_OBJECT_LOCK_MODE", "governance")],
            "LISTBACKUP_S3_OBJECT_LOCK_PERIOD is not set",
        ),
        (
            &[
                ("LISTBACKUP_S3_OBJECT_LOCK_MODE", "compliance"),
                ("LISTBACKUP_S3_OBJECT_LOCK_PERIOD", "soon"),
            ],
            "LISTBACKUP_S3_OBJECT_LOCK_PERIOD is invalid",
        ),
        (
            &[("LISTBACKUP_S3_OBJECT_LOCK_PERIOD", "30days")],
            "LISTBACKUP_S3_OBJECT_LOCK_MODE is not set",
        ),
    ];
    for (extra, expected) in cases {
        let env: Vec<_> = base.iter().chain(extra).copied().collect();
        let (code, stderr) = run(&["worker"], &env);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

/// Email and DNS settings of `serve`: each mistake is one line naming its variable, before
/// anything is contacted.
#[test]
fn bad_email_and_dns_settings_are_named() {
    let key = storage::keys::MasterKey::generate().to_secret_string();
    let base = [
        ("LISTBACKUP_DATABASE_URL", "sqlite::memory:"),
        ("LISTBACKUP_S3_BUCKET", "listbackup"),
        ("LISTBACKUP_S3_ACCESS_KEY_ID", "id"),
        ("LISTBACKUP_S3_SECRET_ACCESS_KEY", "secret"),
        ("LISTBACKUP_MASTER_KEY", key.as_str()),
        // Only the error: no migration chatter.
        ("LISTBACKUP_LOG", "error"),
    ];
    let smtp = ("LISTBACKUP_SMTP_URL", "smtp://127.0.0.1:2525");
    let from = ("LISTBACKUP_MAIL_FROM", "ListBackup <no-reply@example.com>");
    let app = ("LISTBACKUP_APP_URL", "https://backup.example.com");
    let cases: [(Vec<(&str, &str)>, &str); 5] = [
        (vec![smtp], "LISTBACKUP_MAIL_FROM is not set"),
        (vec![smtp, from], "LISTBACKUP_APP_URL is not set"),
        (
            vec![("LISTBACKUP_SMTP_URL", "ftp://mail.example.com"), from, app],
            "LISTBACKUP_SMTP_URL is invalid",
        ),
        (
            vec![smtp, ("LISTBACKUP_MAIL_FROM", "not an address"), app],
            "not an address",
        ),
        (
            vec![("LISTBACKUP_DNS_RESOLVER", "the office router")],
            "LISTBACKUP_DNS_RESOLVER is invalid",
        ),
    ];
    for (extra, expected) in cases {
        let env: Vec<_> = base.iter().copied().chain(extra).collect();
        let (code, stderr) = run(&["serve"], &env);
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
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

/// `listbackup rotate-master-key` re-seals the database's secrets under the new key, only with
/// the old key given, and tells when a value opens with none of the keys.
#[tokio::test]
async fn rotating_the_master_key_reseals_every_secret_under_the_new_key() {
    use entities::{account, connection, repo};
    use sea_orm::EntityTrait;
    use storage::keys::{AccountKey, MasterKey};

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("lb.db").display());
    let db = entities::connect_and_migrate(&url).await.unwrap();
    let old = MasterKey::generate();
    let account_key = AccountKey::generate();
    let acct = repo::create_account(
        &db,
        "Rotate Co",
        None,
        &account_key.recipient(),
        Some(account_key.seal_with(&old).unwrap()),
    )
    .await
    .unwrap();
    let credentials = r#"{"api_key":"sk_test_rotate"}"#;
    let conn = repo::create_connection(
        &db,
        &acct.id,
        "stripe",
        "Stripe",
        old.seal_string(credentials).unwrap(),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // A user's second-factor secret (base32 text, sealed like the API seals it).
    let totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let user = repo::create_user(&db, "ada@example.com", "Ada")
        .await
        .unwrap();
    let mut with_totp: entities::user::ActiveModel = user.clone().into();
    with_totp.totp_secret_sealed = sea_orm::Set(Some(old.seal_string(totp_secret).unwrap()));
    sea_orm::ActiveModelTrait::update(with_totp, &db)
        .await
        .unwrap();
    let new = MasterKey::generate();
    let new_text = new.to_secret_string();
    let old_text = old.to_secret_string();
    let env_new = [
        ("LISTBACKUP_DATABASE_URL", url.as_str()),
        ("LISTBACKUP_MASTER_KEY", new_text.as_str()),
    ];

    let (code, stderr) = run(&["rotate-master-key"], &env_new);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("LISTBACKUP_MASTER_KEY_PREVIOUS is not set"),
        "{stderr}"
    );

    let mut env_rotate = env_new.to_vec();
    env_rotate.push(("LISTBACKUP_MASTER_KEY_PREVIOUS", old_text.as_str()));
    let (code, stdout, stderr) = run_full(&["rotate-master-key"], &env_rotate);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("accounts.encryption_identity_sealed: 1 re-sealed, 0 already"),
        "{stdout}"
    );
    assert!(
        stdout.contains("connections.credentials_sealed: 1 re-sealed, 0 already"),
        "{stdout}"
    );
    assert!(
        stdout.contains("users.totp_secret_sealed: 1 re-sealed, 0 already"),
        "{stdout}"
    );
    assert!(!stdout.contains("sk_test_rotate") && !stderr.contains("sk_test_rotate"));
    let user_row = entities::user::Entity::find_by_id(user.id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        MasterKey::parse(&new_text)
            .unwrap()
            .open_string(&user_row.totp_secret_sealed.unwrap())
            .unwrap(),
        totp_secret
    );

    // The new key alone opens everything now; the old one opens nothing.
    let alone = MasterKey::parse(&new_text).unwrap();
    let acct_row = account::Entity::find_by_id(acct.id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let sealed_identity = acct_row.encryption_identity_sealed.unwrap();
    let reopened = AccountKey::open_with(&alone, &sealed_identity).unwrap();
    assert_eq!(reopened.recipient(), account_key.recipient());
    assert!(AccountKey::open_with(&old, &sealed_identity).is_err());
    let conn_row = connection::Entity::find_by_id(conn.id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        alone.open_string(&conn_row.credentials_sealed).unwrap(),
        credentials
    );

    // Again: nothing left to do.
    let (code, stdout, _) = run_full(&["rotate-master-key"], &env_rotate);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("connections.credentials_sealed: 0 re-sealed, 1 already"),
        "{stdout}"
    );

    // A value sealed under a key nobody gave: named, left as it is, exit 1.
    let stray = MasterKey::generate().seal_string("stray").unwrap();
    repo::create_connection(
        &db,
        &acct.id,
        "stripe",
        "Stray",
        stray.clone(),
        serde_json::json!({}),
    )
    .await
    .unwrap();
    let (code, stdout, stderr) = run_full(&["rotate-master-key"], &env_rotate);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("1 open with no key given"), "{stdout}");
    assert!(
        stderr.contains("1 sealed values open with neither"),
        "{stderr}"
    );
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("listbackup: 1 sealed values"),
        "one error line: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
