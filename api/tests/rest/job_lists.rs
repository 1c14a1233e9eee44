//! Listing jobs per account and per source: newest first, filtered, paged; bad parameters are a
//! 400 naming them.

use crate::{harness::*, schedules::stored_source};
use entities::{JobKind, JobStatus, job, repo, sea_orm::EntityTrait};
use serde_json::Value;

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn jobs_are_listed_newest_first_with_filters() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let sub = app.sub_account(&ada.access, &ada.account_id, "Sub").await;
    let s1 = stored_source(&app, &ada.account_id).await;
    let s2 = stored_source(&app, &ada.account_id).await;
    let s3 = stored_source(&app, &sub).await;

    // s1: a failed backup, then a succeeded sync; s2: a running backup; s3 (sub-account): a sync.
    let mut made = Vec::new();
    for (src, kind, status) in [
        (&s1, JobKind::Backup, JobStatus::Failed),
        (&s1, JobKind::Sync, JobStatus::Succeeded),
        (&s2, JobKind::Backup, JobStatus::Running),
        (&s3, JobKind::Sync, JobStatus::Queued),
    ] {
        let j = repo::create_job(&app.db, src, kind).await.unwrap();
        if status == JobStatus::Running {
            repo::mark_job_running(&app.db, &j.id).await.unwrap();
        } else if status.is_final() {
            repo::finish_job(&app.db, &j.id, status, None)
                .await
                .unwrap();
        }
        made.push(j.id);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let all = format!("/v1/accounts/{}/jobs", ada.account_id);
    let r = app.get(&all, &ada.access).await;
    assert_eq!(
        ids(r.ok(200)),
        vec![made[2].clone(), made[1].clone(), made[0].clone()]
    );
    let first = &r.body["items"][0];
    assert!(
        first["workflow_id"]
            .as_str()
            .unwrap()
            .starts_with("backup/")
    );
    assert!(
        first["temporal_ui_url"]
            .as_str()
            .unwrap()
            .contains("/workflows/backup%2F")
    );
    assert_eq!(first["status"], "running");

    // Sub-accounts' jobs only when asked for.
    let r = app
        .get(&format!("{all}?include_sub_accounts=true"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)).len(), 4);

    // Filters: source, kind, several statuses, creation time.
    let r = app
        .get(&format!("{all}?source_id={}", s1.id), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[1].clone(), made[0].clone()]);
    let r = app.get(&format!("{all}?kind=backup"), &ada.access).await;
    assert_eq!(ids(r.ok(200)), vec![made[2].clone(), made[0].clone()]);
    let r = app
        .get(&format!("{all}?status=failed,running"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[2].clone(), made[0].clone()]);
    let second = job::Entity::find_by_id(made[1].as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let at = second
        .created_at
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let at = at.replace('+', "%2B");
    let r = app
        .get(&format!("{all}?created_after={at}"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[2].clone()]);
    let r = app
        .get(&format!("{all}?created_before={at}"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[0].clone()]);

    // Pages follow each other, newest first.
    let r = app.get(&format!("{all}?limit=2"), &ada.access).await;
    assert_eq!(ids(r.ok(200)), vec![made[2].clone(), made[1].clone()]);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("{all}?limit=2&cursor={cursor}"), &ada.access)
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[0].clone()]);
    assert!(r.body.get("next_cursor").is_none());

    // A source's jobs.
    let r = app
        .get(
            &format!("/v1/sources/{}/jobs?status=succeeded", s1.id),
            &ada.access,
        )
        .await;
    assert_eq!(ids(r.ok(200)), vec![made[1].clone()]);
    // A source of the caller's with no jobs (none of this kind) is an empty page, not a 404.
    let r = app
        .get(
            &format!("/v1/sources/{}/jobs?kind=sync", s2.id),
            &ada.access,
        )
        .await;
    assert!(ids(r.ok(200)).is_empty());
    // Another account's source, jobs and all, is not found.
    let bob = app.register("bob@example.com").await;
    app.get(&format!("/v1/sources/{}/jobs", s1.id), &bob.access)
        .await
        .error(404, "not_found");
    app.get(
        &format!("/v1/sources/{}/jobs?kind=sync", s2.id),
        &bob.access,
    )
    .await
    .error(404, "not_found");

    // Bad parameters name themselves.
    for (query, field) in [
        ("kind=restore", "kind"),
        ("status=running,lost", "status"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-01T00:00:00Z", "created_before"),
        ("limit=500", "limit"),
        ("cursor=%21%21", "cursor"),
    ] {
        let r = app.get(&format!("{all}?{query}"), &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), field, "{query}");
        let r = app
            .get(&format!("/v1/sources/{}/jobs?{query}", s1.id), &ada.access)
            .await;
        r.error(400, "invalid_request");
    }
    app.get("/v1/accounts/acc_nope/jobs", &ada.access)
        .await
        .error(404, "not_found");
    app.get("/v1/sources/src_nope/jobs", &ada.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}
