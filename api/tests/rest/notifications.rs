//! Job-outcome emails, read from a real SMTP server (aiosmtpd): written when a job ends, by the
//! same repository calls the worker makes, to the members who want them, and sent once by the
//! API's sender in the account's branding and the recipient's time zone.

use crate::{email::APP_URL, harness::*, smtp::*, snapshots::source_with_job};
use entities::{
    JobStatus, notification, repo,
    sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr},
};
use serde_json::json;

fn mail_to(smtp: &SmtpServer) -> api::MailSettings {
    api::MailSettings::new(&smtp.url(), "ListBackup <no-reply@example.com>", APP_URL)
        .expect("mail settings")
}

/// Ends `job` as the worker's finalize step does on success.
async fn succeed(app: &App, job_id: &str) {
    let txn = app.db.begin().await.unwrap();
    assert!(
        repo::finish_job(&txn, job_id, JobStatus::Succeeded, None)
            .await
            .unwrap()
    );
    repo::enqueue_job_event(&txn, job_id, repo::JOB_SUCCEEDED)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn rows(app: &App, job_id: &str) -> Vec<notification::Model> {
    notification::Entity::find()
        .filter(notification::Column::JobId.eq(job_id))
        .all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn members_who_want_it_get_one_email_per_job_outcome() {
    let smtp = SmtpServer::start().await;
    let app = crate::email::spawn_with_mail(&smtp).await;
    let mail = mail_to(&smtp);
    let ada = app.register("ada@example.com").await;
    let acc = ada.account_id.clone();
    app.call(
        "PATCH",
        "/v1/me",
        Some(&ada.access),
        Some(json!({"time_zone": "Europe/Berlin", "notifications": {"job_succeeded": true}})),
    )
    .await
    .ok(200);
    // A member by default (failures only), one who turned failures off, a team member, and
    // someone of another account.
    let bob = app.member(&ada, &acc, "bob@example.com", "viewer").await;
    let cy = app.member(&ada, &acc, "cy@example.com", "operator").await;
    app.call(
        "PATCH",
        "/v1/me",
        Some(&cy.access),
        Some(json!({"notifications": {"job_failed": false}})),
    )
    .await
    .ok(200);
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/teams"),
            &ada.access,
            json!({"name": "ops"}),
        )
        .await;
    let team = r.ok(201)["id"].as_str().unwrap().to_owned();
    let dee = app.register("dee@example.com").await;
    app.post(
        &format!("/v1/teams/{team}/members"),
        &ada.access,
        json!({"email": "dee@example.com", "team_role": "member"}),
    )
    .await
    .ok(201);
    app.call(
        "PUT",
        &format!("/v1/teams/{team}/grants/{acc}"),
        Some(&ada.access),
        Some(json!({"role": "viewer"})),
    )
    .await
    .ok(200);
    app.register("olga@example.com").await;

    // A failure: written with the job's end, sent by the next pass.
    let (source, job) = source_with_job(&app, &acc).await;
    assert!(
        repo::end_job_unsuccessfully(
            &app.db,
            &job,
            None,
            false,
            "the API key was revoked",
            "system"
        )
        .await
        .unwrap()
    );
    let mut written: Vec<String> = rows(&app, &job.id)
        .await
        .into_iter()
        .map(|n| n.user_id)
        .collect();
    written.sort();
    let mut expected = vec![ada.id.clone(), bob.id.clone(), dee.id.clone()];
    expected.sort();
    assert_eq!(
        written, expected,
        "members who want failures, team members included"
    );
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        3
    );
    let to_ada = smtp.wait_for("ada@example.com", "Backup failed").await;
    assert!(to_ada.subject.contains(&source.name), "{to_ada:?}");
    assert!(
        to_ada.body.contains("the API key was revoked"),
        "{}",
        to_ada.body
    );
    assert!(
        to_ada.body.contains("CET"),
        "in her time zone: {}",
        to_ada.body
    );
    assert!(
        to_ada.body.contains(&format!("{APP_URL}/jobs/{}", job.id)),
        "{}",
        to_ada.body
    );
    assert!(
        to_ada.from.contains("ada"),
        "in the account's name: {to_ada:?}"
    );
    let to_bob = smtp.wait_for("bob@example.com", "Backup failed").await;
    assert!(to_bob.body.contains("UTC"), "{}", to_bob.body);
    smtp.wait_for("dee@example.com", "Backup failed").await;
    // Sent once.
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        0
    );
    let all = smtp.messages();
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(
        all.iter()
            .all(|m| m.to != "cy@example.com" && m.to != "olga@example.com")
    );
    assert!(
        rows(&app, &job.id)
            .await
            .iter()
            .all(|n| n.status == repo::NOTIFICATION_SENT && n.sent_at.is_some())
    );

    // A success reaches only who turned successes on; a member removed from the team before
    // the send is skipped.
    let (_, second) = source_with_job(&app, &acc).await;
    app.call(
        "PATCH",
        "/v1/me",
        Some(&dee.access),
        Some(json!({"notifications": {"job_succeeded": true}})),
    )
    .await
    .ok(200);
    succeed(&app, &second.id).await;
    assert_eq!(rows(&app, &second.id).await.len(), 2, "ada and dee");
    app.delete(&format!("/v1/teams/{team}/members/{}", dee.id), &ada.access)
        .await
        .ok(204);
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        1
    );
    smtp.wait_for("ada@example.com", "Backup succeeded").await;
    let skipped: Vec<_> = rows(&app, &second.id)
        .await
        .into_iter()
        .filter(|n| n.status == repo::NOTIFICATION_SKIPPED)
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].user_id, dee.id);
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_email_is_tried_again_later_and_old_news_is_not_sent() {
    let smtp = SmtpServer::start().await;
    let app = crate::email::spawn_with_mail(&smtp).await;
    let ada = app.register("ada@example.com").await;
    let (_, job) = source_with_job(&app, &ada.account_id).await;
    repo::end_job_unsuccessfully(&app.db, &job, None, false, "boom", "system")
        .await
        .unwrap();

    // Nothing listens here: the attempt fails and is put off, not lost.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = api::MailSettings::new(
        &format!("smtp://127.0.0.1:{port}"),
        "ListBackup <no-reply@example.com>",
        APP_URL,
    )
    .unwrap();
    assert_eq!(
        api::notifications::send_due(&app.db, &down).await.unwrap(),
        0
    );
    let row = rows(&app, &job.id).await.remove(0);
    assert_eq!(row.status, repo::NOTIFICATION_PENDING);
    assert_eq!(row.attempts, 1);
    assert!(row.last_error.is_some());
    assert!(row.not_before > chrono::Utc::now(), "put off");
    // Not due yet: the working server gets nothing until then.
    let mail = mail_to(&smtp);
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        0
    );
    notification::Entity::update_many()
        .col_expr(
            notification::Column::NotBefore,
            Expr::value(chrono::Utc::now()),
        )
        .filter(notification::Column::Id.eq(row.id.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        1
    );
    smtp.wait_for("ada@example.com", "Backup failed").await;

    // A day-old outcome is skipped rather than sent late.
    let (_, old) = source_with_job(&app, &ada.account_id).await;
    repo::end_job_unsuccessfully(&app.db, &old, None, false, "boom", "system")
        .await
        .unwrap();
    notification::Entity::update_many()
        .col_expr(
            notification::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(2)),
        )
        .filter(notification::Column::JobId.eq(old.id.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(
        api::notifications::send_due(&app.db, &mail).await.unwrap(),
        0
    );
    assert_eq!(
        rows(&app, &old.id).await[0].status,
        repo::NOTIFICATION_SKIPPED
    );
    assert_eq!(smtp.messages().len(), 1);

    // Finished emails are deleted after 30 days; pending ones are not.
    notification::Entity::update_many()
        .col_expr(
            notification::Column::CreatedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(40)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    api::notifications::tidy(&app.db).await.unwrap();
    assert!(rows(&app, &job.id).await.is_empty());
    assert!(rows(&app, &old.id).await.is_empty());

    // A user gets at most a day's cap of job emails.
    for _ in 0..api::notifications::DAILY_CAP {
        let (_, j) = source_with_job(&app, &ada.account_id).await;
        repo::end_job_unsuccessfully(&app.db, &j, None, false, "boom", "system")
            .await
            .unwrap();
    }
    let (_, one_more) = source_with_job(&app, &ada.account_id).await;
    repo::end_job_unsuccessfully(&app.db, &one_more, None, false, "boom", "system")
        .await
        .unwrap();
    let sent = api::notifications::send_due(&app.db, &mail).await.unwrap();
    assert_eq!(sent as u64, api::notifications::DAILY_CAP);
    assert_eq!(
        rows(&app, &one_more.id).await[0].status,
        repo::NOTIFICATION_SKIPPED
    );
    app.shutdown().await;
}
