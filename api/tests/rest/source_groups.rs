//! Source groups: create, list, rename, delete, add and remove sources, start a job for each
//! member — with each documented error.

use crate::harness::*;
use entities::{JobKind, repo, sea_orm::EntityTrait};
use serde_json::json;

#[tokio::test]
async fn a_group_collects_sources_of_its_account() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let s1 = app.source(&ada.access, acc, &conn, "one").await;
    let s2 = app.source(&ada.access, acc, &conn, "two").await;
    let actor = format!("user:{}", ada.id);

    let r = app
        .post(
            &format!("/v1/accounts/{acc}/source-groups"),
            &ada.access,
            json!({"name": "nightly"}),
        )
        .await;
    let group = r.ok(201)["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&group).is_ok(), "{group}");
    assert!(
        app.logged(acc, &actor, "source_group.created", &group)
            .await
    );
    let g = format!("/v1/source-groups/{group}");
    for s in [&s2, &s1, &s1] {
        app.post(
            &format!("{g}/sources"),
            &ada.access,
            json!({"source_id": s}),
        )
        .await
        .ok(204);
    }
    let listed = app.get(&format!("{g}/sources"), &ada.access).await;
    let ids: Vec<&str> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [s1.as_str(), s2.as_str()]);
    let page = app.get(&format!("{g}/sources?limit=1"), &ada.access).await;
    assert!(page.ok(200)["next_cursor"].is_string());
    assert!(
        app.logged(acc, &actor, "source_group.source_added", &group)
            .await
    );

    app.delete(&format!("{g}/sources/{s2}"), &ada.access)
        .await
        .ok(204);
    app.delete(&format!("{g}/sources/{s2}"), &ada.access)
        .await
        .error(404, "not_found");
    assert!(
        app.logged(acc, &actor, "source_group.source_removed", &group)
            .await
    );
    // The source itself stays.
    app.get(&format!("/v1/sources/{s2}"), &ada.access)
        .await
        .ok(200);

    let r = app.patch(&g, &ada.access, json!({"name": "weekly"})).await;
    assert_eq!(r.ok(200)["name"], "weekly");
    assert!(
        app.logged(acc, &actor, "source_group.updated", &group)
            .await
    );
    assert_eq!(app.get(&g, &ada.access).await.ok(200)["name"], "weekly");
    let all = app
        .get(&format!("/v1/accounts/{acc}/source-groups"), &ada.access)
        .await;
    assert_eq!(all.ok(200)["items"][0]["id"], group.as_str());

    // Deleting a source takes it out of its groups.
    app.delete(&format!("/v1/sources/{s1}"), &ada.access)
        .await
        .ok(204);
    let listed = app.get(&format!("{g}/sources"), &ada.access).await;
    assert_eq!(listed.ok(200)["items"], json!([]));

    app.delete(&g, &ada.access).await.ok(204);
    app.get(&g, &ada.access).await.error(404, "not_found");
    assert!(
        app.logged(acc, &actor, "source_group.deleted", &group)
            .await
    );
    app.get(&format!("/v1/sources/{s2}"), &ada.access)
        .await
        .ok(200);
    app.shutdown().await;
}

#[tokio::test]
async fn group_operations_answer_each_documented_error() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let bea = app.register("bea@example.com").await;
    let acc = &ada.account_id;
    let operator = app.member(&ada, acc, "otto@example.com", "operator").await;
    let viewer = app.member(&ada, acc, "vic@example.com", "viewer").await;
    let create = format!("/v1/accounts/{acc}/source-groups");
    let group = app
        .post(&create, &ada.access, json!({"name": "a"}))
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&create, &ada.access, json!({"name": "b"}))
        .await
        .ok(201);
    let g = format!("/v1/source-groups/{group}");

    // Create.
    let r = app
        .post(&create, &ada.access, json!({"name": "x", "colour": 1}))
        .await;
    r.error(400, "invalid_request");
    app.post(&create, &operator.access, json!({"name": "x"}))
        .await
        .error(403, "forbidden");
    app.post(
        &format!("/v1/accounts/{}/source-groups", bea.account_id),
        &ada.access,
        json!({"name": "x"}),
    )
    .await
    .error(404, "not_found");
    let r = app.post(&create, &ada.access, json!({"name": "a"})).await;
    r.error(409, "duplicate_name");
    assert_eq!(r.field(), "name");
    let r = app.post(&create, &ada.access, json!({"name": ""})).await;
    r.error(422, "invalid_field");
    // List.
    app.get(&format!("{create}?limit=500"), &ada.access)
        .await
        .error(400, "invalid_request");
    app.get(
        &format!("/v1/accounts/{}/source-groups", bea.account_id),
        &ada.access,
    )
    .await
    .error(404, "not_found");
    // Get.
    app.get("/v1/source-groups/sgr_nope", &ada.access)
        .await
        .error(404, "not_found");
    // Rename.
    app.patch(&g, &ada.access, json!({}))
        .await
        .error(400, "invalid_request");
    app.patch(&g, &operator.access, json!({"name": "x"}))
        .await
        .error(403, "forbidden");
    app.patch(
        "/v1/source-groups/sgr_nope",
        &ada.access,
        json!({"name": "x"}),
    )
    .await
    .error(404, "not_found");
    app.patch(&g, &ada.access, json!({"name": "b"}))
        .await
        .error(409, "duplicate_name");
    app.patch(&g, &ada.access, json!({"name": "\u{0}"}))
        .await
        .error(422, "invalid_field");
    // Members.
    let beas_conn = app
        .connection(
            &bea.account_id,
            "stripe",
            json!({"api_key": "k"}),
            json!({}),
        )
        .await;
    let beas_source = app
        .source(&bea.access, &bea.account_id, &beas_conn, "b")
        .await;
    app.post(&format!("{g}/sources"), &ada.access, json!({}))
        .await
        .error(400, "invalid_request");
    app.post(
        &format!("{g}/sources"),
        &viewer.access,
        json!({"source_id": beas_source}),
    )
    .await
    .error(403, "forbidden");
    app.post(
        "/v1/source-groups/sgr_nope/sources",
        &ada.access,
        json!({"source_id": "src_x"}),
    )
    .await
    .error(404, "not_found");
    let r = app
        .post(
            &format!("{g}/sources"),
            &ada.access,
            json!({"source_id": beas_source}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "source_id");
    app.get(&format!("{g}/sources?cursor=!!"), &ada.access)
        .await
        .error(400, "invalid_request");
    app.get("/v1/source-groups/sgr_nope/sources", &ada.access)
        .await
        .error(404, "not_found");
    app.delete(&format!("{g}/sources/{beas_source}"), &operator.access)
        .await
        .error(403, "forbidden");
    app.delete(&format!("{g}/sources/{beas_source}"), &ada.access)
        .await
        .error(404, "not_found");
    // Starting jobs.
    app.post(&format!("{g}/backups"), &viewer.access, json!({}))
        .await
        .error(403, "forbidden");
    app.post("/v1/source-groups/sgr_nope/syncs", &ada.access, json!({}))
        .await
        .error(404, "not_found");
    let long = "k".repeat(300);
    let r = app
        .call_with(
            "POST",
            &format!("{g}/backups"),
            Some(&ada.access),
            None,
            &[("Idempotency-Key", &long)],
        )
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "Idempotency-Key");
    // Delete.
    app.delete(&g, &operator.access)
        .await
        .error(403, "forbidden");
    app.delete("/v1/source-groups/sgr_nope", &ada.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn starting_a_group_answers_per_source_and_one_failure_stops_nothing() {
    // Temporal refuses every call here: each start is an error of its own source.
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let conn = app
        .connection(acc, "stripe", json!({"api_key": "k"}), json!({}))
        .await;
    let busy = app.source(&ada.access, acc, &conn, "busy").await;
    let idle = app.source(&ada.access, acc, &conn, "idle").await;
    let src = entities::source::Entity::find_by_id(busy.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let running = repo::create_job(&app.db, &src, JobKind::Backup)
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
    for s in [&busy, &idle] {
        app.post(
            &format!("/v1/source-groups/{group}/sources"),
            &ada.access,
            json!({"source_id": s}),
        )
        .await
        .ok(204);
    }
    let (_, operator_key) = app.api_key(&ada.access, acc, "ops", "operator").await;
    let r = app
        .post(
            &format!("/v1/source-groups/{group}/syncs"),
            &operator_key,
            json!({}),
        )
        .await;
    let body = r.ok(202);
    assert_eq!(body["group_id"], group.as_str());
    assert_eq!(body["kind"], "sync");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{body}");
    let of = |id: &str| {
        results
            .iter()
            .find(|r| r["source_id"] == id)
            .unwrap()
            .clone()
    };
    let busy_result = of(&busy);
    assert_eq!(busy_result["outcome"], "conflict", "{body}");
    assert_eq!(busy_result["job_id"], running.id.as_str());
    assert_eq!(busy_result["error"]["code"], "conflict");
    let idle_result = of(&idle);
    assert_eq!(idle_result["outcome"], "error", "{body}");
    assert_eq!(idle_result["error"]["code"], "unavailable");
    app.shutdown().await;
}
