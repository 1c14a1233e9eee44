//! Job-outcome emails end to end: a member who asked for successes gets one email when a real
//! backup, run by a `listbackup worker` process, succeeds — written by the worker in the job's
//! transaction, sent by a `listbackup serve` process's sender through a real SMTP server.

use crate::{harness::*, smtp::SmtpServer};
use sandbox::SandboxConfig;
use serde_json::{Value, json};
use std::{
    process::{Command, Stdio},
    time::Duration,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_emailed_when_a_backup_succeeds() {
    let smtp = SmtpServer::start().await;
    let config = SandboxConfig::new(73)
        .with_records("stripe.customers", 150)
        .unwrap();
    let mut stack = Stack::start(Db::Postgres, config).await.expect("stack");
    let tenant = stack.provision().await.expect("provision");

    // A person in the account, who wants to hear of successes too.
    let r = http()
        .post(format!("{}/v1/auth/register", stack.api_base))
        .json(&json!({"email": "ops@example.com", "password": "a long enough passphrase", "name": "Ops"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let registered: Value = r.json().await.unwrap();
    let token = registered["tokens"]["access_token"].as_str().unwrap();
    let r = http()
        .post(format!(
            "{}/v1/accounts/{}/members",
            stack.api_base, tenant.account_id
        ))
        .bearer_auth(&tenant.api_key)
        .json(&json!({"email": "ops@example.com", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = http()
        .patch(format!("{}/v1/me", stack.api_base))
        .bearer_auth(token)
        .json(&json!({"time_zone": "America/New_York", "notifications": {"job_succeeded": true}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // `listbackup serve`, with email, beside the worker.
    let api_port = crate::smtp::free_port();
    let log = std::fs::File::create(stack.tmp.path().join("serve.log")).unwrap();
    let smtp_url = smtp.url();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_listbackup"))
        .arg("serve")
        .envs(stack.child_env())
        .envs([
            ("LISTBACKUP_API_ADDR", format!("127.0.0.1:{api_port}")),
            ("LISTBACKUP_SMTP_URL", smtp_url),
            (
                "LISTBACKUP_MAIL_FROM",
                "ListBackup <no-reply@example.com>".into(),
            ),
            ("LISTBACKUP_APP_URL", "https://backup.example.com".into()),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("listbackup serve starts");
    stack.spawn_worker().expect("worker");

    let job_id = start_backup(&stack, &tenant).await.expect("backup");
    let job = wait_for_job(&stack, &tenant, &job_id, Duration::from_secs(120))
        .await
        .expect("the job ends");
    assert_eq!(job["status"], "succeeded", "{job}");
    let email = smtp.wait_for("ops@example.com", "Backup succeeded").await;
    assert!(email.subject.contains("all of Stripe"), "{email:?}");
    assert!(
        email.body.contains(&format!(
            "Records: {}, bytes: {}",
            job["records"], job["bytes"]
        )),
        "the job's totals: {}",
        email.body
    );
    assert!(
        email.body.contains("EST"),
        "in the member's time zone: {}",
        email.body
    );
    assert!(
        email
            .body
            .contains(&format!("https://backup.example.com/jobs/{job_id}")),
        "{}",
        email.body
    );
    // Once: a later pass sends nothing more.
    tokio::time::sleep(api::notifications::EVERY * 2).await;
    assert_eq!(smtp.messages().len(), 1, "{:?}", smtp.messages());
    let _ = serve.kill();
    let _ = serve.wait();
}
