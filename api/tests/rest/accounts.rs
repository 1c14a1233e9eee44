//! Accounts and sub-accounts: create, list, get, rename, tree, delete.

use crate::harness::*;
use entities::{account, repo, sea_orm::EntityTrait};
use serde_json::json;

#[tokio::test]
async fn users_create_accounts_they_own_and_keys_cannot() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let r = app
        .post("/v1/accounts", &ada.access, json!({"name": "Second Co"}))
        .await;
    let second = r.ok(201).clone();
    assert_eq!(second["role"], "owner");
    assert!(second["parent_id"].is_null());
    let second_id = second["id"].as_str().unwrap();
    // Top-level names are not unique across the service (two companies may share one).
    app.post("/v1/accounts", &ada.access, json!({"name": "Second Co"}))
        .await
        .ok(201);

    let (_, key) = app
        .api_key(&ada.access, &ada.account_id, "owner key", "owner")
        .await;
    app.post("/v1/accounts", &key, json!({"name": "By a key"}))
        .await
        .error(403, "user_required");
    let r = app
        .post("/v1/accounts", &ada.access, json!({"name": ""}))
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "name");

    // The list holds every account the caller reaches; the key reaches its own only.
    let mine = app.get("/v1/accounts", &ada.access).await;
    assert_eq!(mine.ok(200)["items"].as_array().unwrap().len(), 3);
    let keys = app.get("/v1/accounts", &key).await;
    let items = keys.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], ada.account_id.as_str());
    let page = app.get("/v1/accounts?limit=2", &ada.access).await;
    let cursor = page.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let rest = app
        .get(
            &format!("/v1/accounts?limit=2&cursor={cursor}"),
            &ada.access,
        )
        .await;
    assert_eq!(rest.ok(200)["items"].as_array().unwrap().len(), 1);
    assert!(rest.body.get("next_cursor").is_none());

    let got = app
        .get(&format!("/v1/accounts/{second_id}"), &ada.access)
        .await;
    assert_eq!(got.ok(200)["name"], "Second Co");
    app.get("/v1/accounts/acc_doesnotexist", &ada.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}

#[tokio::test]
async fn sub_accounts_form_a_tree_with_unique_names_among_siblings() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let root = ada.account_id.clone();
    let eu = app.sub_account(&ada.access, &root, "EU").await;
    let us = app.sub_account(&ada.access, &root, "US").await;
    let paris = app.sub_account(&ada.access, &eu, "Paris").await;
    // The same name under another parent is fine; under the same parent it is a 409.
    app.sub_account(&ada.access, &us, "Paris").await;
    let dup = app
        .post(
            &format!("/v1/accounts/{eu}/sub-accounts"),
            &ada.access,
            json!({"name": "Paris"}),
        )
        .await;
    dup.error(409, "duplicate_name");
    assert_eq!(dup.field(), "name");

    let tree = app
        .get(&format!("/v1/accounts/{root}/tree"), &ada.access)
        .await;
    let tree = tree.ok(200);
    assert_eq!(tree["id"], root.as_str());
    let children = tree["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    let eu_node = children.iter().find(|c| c["id"] == eu.as_str()).unwrap();
    assert_eq!(eu_node["children"][0]["id"], paris.as_str());
    assert_eq!(
        eu_node["children"][0]["role"], "owner",
        "inherited from the root"
    );
    let subtree = app
        .get(&format!("/v1/accounts/{eu}/tree"), &ada.access)
        .await;
    assert_eq!(subtree.ok(200)["children"].as_array().unwrap().len(), 1);

    // Renaming: to a sibling's name is a 409; otherwise logged with the actor.
    let (app_ref, token) = (&app, ada.access.clone());
    let rename = |id: String, name: &'static str| {
        let token = token.clone();
        async move {
            app_ref
                .patch(&format!("/v1/accounts/{id}"), &token, json!({"name": name}))
                .await
        }
    };
    rename(eu.clone(), "US").await.error(409, "duplicate_name");
    let r = rename(eu.clone(), "Europe").await;
    assert_eq!(r.ok(200)["name"], "Europe");
    let actor = format!("user:{}", ada.id);
    assert!(app.logged(&eu, &actor, "account.updated", &eu).await);
    let unchanged = app
        .patch(&format!("/v1/accounts/{eu}"), &ada.access, json!({}))
        .await;
    assert_eq!(unchanged.ok(200)["name"], "Europe");
    app.shutdown().await;
}

#[tokio::test]
async fn an_account_is_deleted_only_when_it_has_no_sub_accounts_or_sources() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let root = ada.account_id.clone();
    let child = app.sub_account(&ada.access, &root, "Child").await;
    let admin = app.member(&ada, &root, "bob@example.com", "admin").await;

    app.delete(&format!("/v1/accounts/{child}"), &admin.access)
        .await
        .error(403, "forbidden");
    app.delete(&format!("/v1/accounts/{root}"), &ada.access)
        .await
        .error(409, "account_not_empty");

    // A source in the child blocks it too.
    let conn = repo::create_connection(
        &app.db,
        &child,
        "stripe",
        "Stripe",
        "sealed".into(),
        json!({}),
    )
    .await
    .unwrap();
    let source = repo::create_source(&app.db, &conn, "all", &[])
        .await
        .unwrap();
    let r = app
        .delete(&format!("/v1/accounts/{child}"), &ada.access)
        .await;
    r.error(409, "account_not_empty");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sources")
    );
    entities::source::Entity::delete_by_id(source.id.as_str())
        .exec(&app.db)
        .await
        .unwrap();

    // Emptied, it goes, with its keys and connections; the parent's log keeps the record.
    let (_, child_key) = app
        .api_key(&ada.access, &child, "child key", "viewer")
        .await;
    let r = app
        .delete(&format!("/v1/accounts/{child}"), &ada.access)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        account::Entity::find_by_id(child.as_str())
            .one(&app.db)
            .await
            .unwrap()
            .is_none()
    );
    app.get(&format!("/v1/accounts/{child}"), &ada.access)
        .await
        .error(404, "not_found");
    app.get("/v1/me", &child_key)
        .await
        .error(401, "unauthorized");
    let actor = format!("user:{}", ada.id);
    assert!(app.logged(&root, &actor, "account.deleted", &child).await);

    // Now the root can go too, with its members.
    let r = app
        .delete(&format!("/v1/accounts/{root}"), &ada.access)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let left = app.get("/v1/accounts", &admin.access).await;
    let ids: Vec<&str> = left.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&root.as_str()),
        "Bob is no longer a member: {ids:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn only_an_owner_exports_the_accounts_key_and_the_export_is_logged() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let bob = app
        .member(&ada, &ada.account_id, "bob@example.com", "admin")
        .await;
    let eve = app.register("eve@example.com").await;
    let path = format!("/v1/accounts/{}/encryption-key", ada.account_id);

    let r = app.get(&path, &ada.access).await;
    let exported = r.ok(200).clone();
    let identity = exported["identity"].as_str().unwrap();
    assert!(identity.starts_with("AGE-SECRET-KEY-1"), "{exported}");
    let key = storage::keys::AccountKey::parse(identity).unwrap();
    let acct = account::Entity::find_by_id(ada.account_id.clone())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(key.recipient(), acct.encryption_recipient);
    assert_eq!(exported["recipient"], acct.encryption_recipient.as_str());
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", ada.id),
            "account.key_exported",
            &ada.account_id
        )
        .await
    );

    app.get(&path, &bob.access).await.error(403, "forbidden");
    app.get(&path, &eve.access).await.error(404, "not_found");

    // An account holding its own key: the service has none to give.
    let mut own = account::ActiveModel::from(acct);
    own.encryption_identity_sealed = entities::sea_orm::Set(None);
    entities::sea_orm::ActiveModelTrait::update(own, &app.db)
        .await
        .unwrap();
    app.get(&path, &ada.access).await.error(409, "key_not_held");
    app.shutdown().await;
}
