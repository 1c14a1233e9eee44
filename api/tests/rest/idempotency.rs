//! `Idempotency-Key` on the POSTs that start jobs: the same key answers with the same job and
//! starts nothing; a key reused for a different request is refused; two simultaneous requests
//! with one key start one job. These start real workflows on a Temporal dev server of the test's
//! own (no worker runs them: the jobs stay queued).

use crate::harness::*;
use entities::{
    JobKind, JobStatus, idempotency_key, job, repo,
    sea_orm::{EntityTrait, PaginatorTrait},
};
use serde_json::json;

async fn jobs(app: &App) -> u64 {
    job::Entity::find().count(&app.db).await.unwrap()
}

#[tokio::test]
async fn the_same_key_answers_with_the_same_job() {
    let app = App::spawn_with_temporal().await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let src = app.source(&ada.access, acc, &conn, "billing").await;
    let other = app.source(&ada.access, acc, &conn, "other").await;
    let path = format!("/v1/sources/{src}/backups");
    let start = |path: String, key: &'static str, body: serde_json::Value| {
        let app = &app;
        let token = ada.access.clone();
        async move {
            app.call_with(
                "POST",
                &path,
                Some(&token),
                Some(body),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };

    let first = start(path.clone(), "nightly-1", json!({})).await;
    let job_id = first.ok(202)["job_id"].as_str().unwrap().to_owned();
    let again = start(path.clone(), "nightly-1", json!({})).await;
    assert_eq!(again.ok(202), &first.body, "the same answer");
    assert_eq!(jobs(&app).await, 1);

    // Without a key, or with a new one, the source's active job is in the way.
    let r = app.post(&path, &ada.access, json!({})).await;
    r.error(409, "conflict");
    assert_eq!(r.body["error"]["details"]["job_id"], job_id.as_str());
    start(path.clone(), "nightly-2", json!({}))
        .await
        .error(409, "conflict");
    // The failed attempt left its key free: once the job is done, the key starts a new one.
    repo::finish_job(&app.db, &job_id, JobStatus::Failed, None)
        .await
        .unwrap();
    let r = start(path.clone(), "nightly-2", json!({})).await;
    let second = r.ok(202)["job_id"].as_str().unwrap().to_owned();
    assert_ne!(second, job_id);

    // The key of another request: a different body, source, operation.
    for (path, body) in [
        (path.clone(), json!({"streams": ["customers"]})),
        (format!("/v1/sources/{other}/backups"), json!({})),
        (format!("/v1/sources/{src}/syncs"), json!({})),
    ] {
        let r = start(path, "nightly-1", body).await;
        r.error(422, "idempotency_key_reused");
        assert_eq!(r.field(), "Idempotency-Key");
    }
    // Keys belong to their sender: another credential may use the same one.
    let (_, key) = app.api_key(&ada.access, acc, "ops", "operator").await;
    let r = app
        .call_with(
            "POST",
            &format!("/v1/sources/{other}/backups"),
            Some(&key),
            Some(json!({})),
            &[("Idempotency-Key", "nightly-1")],
        )
        .await;
    r.ok(202);
    // A malformed key.
    let r = start(path.clone(), "has space", json!({})).await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "Idempotency-Key");
    app.shutdown().await;
}

#[tokio::test]
async fn two_simultaneous_requests_with_one_key_start_one_job() {
    let app = App::spawn_with_temporal().await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let mut sources = Vec::new();
    for i in 0..3 {
        sources.push(app.source(&ada.access, acc, &conn, &format!("s{i}")).await);
    }
    for (i, src) in sources.iter().enumerate() {
        let path = format!("/v1/sources/{src}/syncs");
        let key = format!("race-{i}");
        let headers = [("Idempotency-Key", key.as_str())];
        let call = || app.call_with("POST", &path, Some(&ada.access), Some(json!({})), &headers);
        let (a, b) = tokio::join!(call(), call());
        let (a, b) = (a.ok(202).clone(), b.ok(202).clone());
        assert_eq!(a["job_id"], b["job_id"], "{a} {b}");
    }
    assert_eq!(jobs(&app).await, 3);
    app.shutdown().await;
}

#[tokio::test]
async fn retries_and_group_starts_are_idempotent_too() {
    let app = App::spawn_with_temporal().await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let src = app.source(&ada.access, acc, &conn, "billing").await;
    let model = entities::source::Entity::find_by_id(src.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let failed = repo::create_job(&app.db, &model, JobKind::Backup)
        .await
        .unwrap();
    repo::finish_job(&app.db, &failed.id, JobStatus::Failed, Some("x".into()))
        .await
        .unwrap();

    let retry = format!("/v1/jobs/{}/retry", failed.id);
    let headers = [("Idempotency-Key", "retry-1")];
    let a = app
        .call_with("POST", &retry, Some(&ada.access), Some(json!({})), &headers)
        .await;
    let b = app
        .call_with("POST", &retry, Some(&ada.access), Some(json!({})), &headers)
        .await;
    assert_eq!(a.ok(202)["job_id"], b.ok(202)["job_id"]);
    let body = json!({"skip_streams": ["customers"]});
    app.call_with("POST", &retry, Some(&ada.access), Some(body), &headers)
        .await
        .error(422, "idempotency_key_reused");
    assert_eq!(jobs(&app).await, 2);
    let retried = a.body["job_id"].as_str().unwrap().to_owned();
    repo::finish_job(&app.db, &retried, JobStatus::Failed, None)
        .await
        .unwrap();

    let group = app
        .post(
            &format!("/v1/accounts/{acc}/source-groups"),
            &ada.access,
            json!({"name": "all"}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/source-groups/{group}/sources"),
        &ada.access,
        json!({"source_id": src}),
    )
    .await
    .ok(204);
    let start = format!("/v1/source-groups/{group}/backups");
    let headers = [("Idempotency-Key", "group-1")];
    let a = app
        .call_with("POST", &start, Some(&ada.access), None, &headers)
        .await;
    let b = app
        .call_with("POST", &start, Some(&ada.access), None, &headers)
        .await;
    let a = a.ok(202);
    assert_eq!(a["results"][0]["outcome"], "started", "{a}");
    assert_eq!(a, b.ok(202));
    assert_eq!(jobs(&app).await, 3);
    app.call_with(
        "POST",
        &format!("/v1/source-groups/{group}/syncs"),
        Some(&ada.access),
        None,
        &headers,
    )
    .await
    .error(422, "idempotency_key_reused");
    app.shutdown().await;
}

#[tokio::test]
async fn a_start_that_fails_leaves_its_key_free() {
    // Temporal refuses every call: the start answers 503 and the key is not kept.
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let src = app.source(&ada.access, acc, &conn, "billing").await;
    let path = format!("/v1/sources/{src}/backups");
    for _ in 0..2 {
        app.call_with(
            "POST",
            &path,
            Some(&ada.access),
            Some(json!({})),
            &[("Idempotency-Key", "k1")],
        )
        .await
        .error(503, "unavailable");
    }
    assert_eq!(
        idempotency_key::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        0
    );
    app.shutdown().await;
}
