//! API keys: created with a role up to the creator's, shown once, listed without secrets,
//! revoked at once.

use crate::harness::*;
use entities::{Role, api_key, repo, sea_orm::EntityTrait};
use serde_json::json;

#[tokio::test]
async fn a_key_is_shown_once_listed_without_its_secret_and_revoked_at_once() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let keys = format!("/v1/accounts/{}/api-keys", ada.account_id);

    let created = app
        .post(
            &keys,
            &ada.access,
            json!({"name": "ci", "role": "operator"}),
        )
        .await;
    let created = created.ok(201).clone();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("lbk_"));
    assert!(secret.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["role"], "operator");
    assert_eq!(created["created_by"], ada.id.as_str());
    assert!(created["last_used_at"].is_null());
    let stored = api_key::Entity::find_by_id(key_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(stored.key_hash, secret, "only a hash is stored");

    // The key works, as itself.
    let me = app.get("/v1/me", &secret).await;
    let me = me.ok(200);
    assert_eq!(me["kind"], "api_key");
    assert_eq!(me["api_key"]["id"], key_id.as_str());
    assert_eq!(me["grants"][0]["role"], "operator");

    // Listed with its prefix and last use, never the secret.
    let list = app.get(&keys, &ada.access).await;
    let text = list.body.to_string();
    assert!(!text.contains(&secret), "{text}");
    assert!(list.ok(200)["items"][0].get("secret").is_none());
    assert_eq!(list.body["items"][0]["prefix"], created["prefix"]);
    assert!(
        list.body["items"][0]["last_used_at"].is_string(),
        "{}",
        list.body
    );
    assert!(list.body.get("next_cursor").is_none());

    // Duplicate names are refused while the first key is active.
    let dup = app
        .post(&keys, &ada.access, json!({"name": "ci", "role": "viewer"}))
        .await;
    dup.error(409, "duplicate_name");
    assert_eq!(dup.field(), "name");

    let revoke = app.delete(&format!("{keys}/{key_id}"), &ada.access).await;
    assert_eq!(revoke.status, 204);
    app.get("/v1/me", &secret).await.error(401, "unauthorized");
    app.delete(&format!("{keys}/{key_id}"), &ada.access)
        .await
        .error(404, "not_found");
    assert!(
        app.get(&keys, &ada.access).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The name is free again.
    app.api_key(&ada.access, &ada.account_id, "ci", "viewer")
        .await;

    let actions: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .map(|(_, a, _)| a)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "api_key.created").count(),
        2
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "api_key.revoked").count(),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn keys_carry_no_more_than_their_creator_holds() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let admin = app
        .member(&ada, &ada.account_id, "bob@example.com", "admin")
        .await;
    let keys = format!("/v1/accounts/{}/api-keys", ada.account_id);
    let app_ref = &app;
    let create = |token: String, role: &'static str| {
        let keys = keys.clone();
        async move {
            app_ref
                .post(
                    &keys,
                    &token,
                    json!({"name": format!("k-{role}"), "role": role}),
                )
                .await
        }
    };
    let r = create(admin.access.clone(), "owner").await;
    r.error(403, "role_too_high");
    create(admin.access.clone(), "admin").await.ok(201);

    // A key may create keys too, up to its own role.
    let (_, admin_key) = app
        .api_key(&ada.access, &ada.account_id, "admin key", "admin")
        .await;
    create(admin_key.clone(), "owner")
        .await
        .error(403, "role_too_high");
    create(admin_key.clone(), "operator").await.ok(201);

    // An admin may not revoke an owner's key.
    let (owner_key_id, _) = app
        .api_key(&ada.access, &ada.account_id, "owner key", "owner")
        .await;
    app.delete(&format!("{keys}/{owner_key_id}"), &admin.access)
        .await
        .error(403, "forbidden");

    // Bad bodies name their field.
    let empty = app
        .post(&keys, &ada.access, json!({"name": " ", "role": "viewer"}))
        .await;
    empty.error(422, "invalid_field");
    assert_eq!(empty.field(), "name");
    app.post(&keys, &ada.access, json!({"name": "x", "role": "root"}))
        .await
        .error(400, "invalid_request");
    app.shutdown().await;
}

#[tokio::test]
async fn key_lists_page_with_an_opaque_cursor() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    // Keys made directly in the repository (as integrations and older tests do) count too.
    let mut ids = Vec::new();
    for i in 0..5 {
        let (key, secret) = repo::create_api_key(
            &app.db,
            &ada.account_id,
            None,
            &format!("k{i}"),
            Role::Viewer,
        )
        .await
        .unwrap();
        app.get("/v1/me", &secret).await.ok(200);
        ids.push(key.id);
    }
    let keys = format!("/v1/accounts/{}/api-keys", ada.account_id);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("{keys}?limit=2&cursor={c}"),
            None => format!("{keys}?limit=2"),
        };
        let page = app.get(&path, &ada.access).await;
        let page = page.ok(200);
        pages += 1;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|k| k["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    ids.sort();
    assert_eq!(seen, ids, "every key once, in id order");

    for bad in ["limit=0", "limit=201", "limit=-1", "limit=many"] {
        let r = app.get(&format!("{keys}?{bad}"), &ada.access).await;
        r.error(400, "invalid_request");
        assert_eq!(r.field(), "limit", "{bad}");
    }
    let r = app.get(&format!("{keys}?cursor=@@@"), &ada.access).await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "cursor");
    app.shutdown().await;
}
