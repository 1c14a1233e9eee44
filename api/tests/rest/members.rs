//! Members: added by email, roles changed and removed within the caller's own role, never
//! leaving an account without an owner.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn admins_add_change_and_remove_members_up_to_their_own_role() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let members = format!("/v1/accounts/{}/members", ada.account_id);
    let bob = app.register("bob@example.com").await;

    let added = app
        .post(
            &members,
            &ada.access,
            json!({"email": "BOB@example.com", "role": "admin"}),
        )
        .await;
    let added = added.ok(201).clone();
    assert_eq!(added["user_id"], bob.id.as_str());
    assert_eq!(added["role"], "admin");
    // Bob's existing access token now reaches the account.
    assert_eq!(
        app.get(&format!("/v1/accounts/{}", ada.account_id), &bob.access)
            .await
            .ok(200)["role"],
        "admin"
    );

    app.post(
        &members,
        &ada.access,
        json!({"email": bob.email, "role": "viewer"}),
    )
    .await
    .error(409, "already_member");
    let unknown = app
        .post(
            &members,
            &ada.access,
            json!({"email": "nobody@example.com", "role": "viewer"}),
        )
        .await;
    unknown.error(404, "user_not_found");
    assert_eq!(unknown.field(), "email");
    let bad = app
        .post(
            &members,
            &ada.access,
            json!({"email": "not an email", "role": "viewer"}),
        )
        .await;
    bad.error(422, "invalid_field");
    assert_eq!(bad.field(), "email");

    // Bob (admin) adds Carol as operator, may not make anyone owner.
    app.register("carol@example.com").await;
    let carol = app
        .post(
            &members,
            &bob.access,
            json!({"email": "carol@example.com", "role": "owner"}),
        )
        .await;
    carol.error(403, "role_too_high");
    let carol = app
        .post(
            &members,
            &bob.access,
            json!({"email": "carol@example.com", "role": "operator"}),
        )
        .await;
    let carol_id = carol.ok(201)["user_id"].as_str().unwrap().to_owned();
    let promote = app
        .patch(
            &format!("{members}/{carol_id}"),
            &bob.access,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.ok(200)["role"], "admin");
    app.patch(
        &format!("{members}/{carol_id}"),
        &bob.access,
        json!({"role": "owner"}),
    )
    .await
    .error(403, "role_too_high");
    // An admin may not touch an owner.
    app.patch(
        &format!("{members}/{}", ada.id),
        &bob.access,
        json!({"role": "viewer"}),
    )
    .await
    .error(403, "forbidden");
    app.delete(&format!("{members}/{}", ada.id), &bob.access)
        .await
        .error(403, "forbidden");

    let list = app.get(&members, &bob.access).await;
    let emails: Vec<&str> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 3);
    assert!(emails.contains(&"carol@example.com"));

    let removed = app
        .delete(&format!("{members}/{carol_id}"), &bob.access)
        .await;
    assert_eq!(removed.status, 204);
    app.delete(&format!("{members}/{carol_id}"), &bob.access)
        .await
        .error(404, "not_found");
    app.patch(
        &format!("{members}/usr_nobody"),
        &ada.access,
        json!({"role": "viewer"}),
    )
    .await
    .error(404, "not_found");

    let actions: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .map(|(_, a, _)| a)
        .collect();
    for action in ["member.added", "member.role_changed", "member.removed"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let root = ada.account_id.clone();
    let members = format!("/v1/accounts/{root}/members");

    app.patch(
        &format!("{members}/{}", ada.id),
        &ada.access,
        json!({"role": "admin"}),
    )
    .await
    .error(409, "last_owner");
    app.delete(&format!("{members}/{}", ada.id), &ada.access)
        .await
        .error(409, "last_owner");

    // With a second owner, the first may step down.
    let bob = app.member(&ada, &root, "bob@example.com", "owner").await;
    let r = app
        .patch(
            &format!("{members}/{}", ada.id),
            &ada.access,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(r.ok(200)["role"], "viewer");
    app.delete(&format!("{members}/{}", bob.id), &bob.access)
        .await
        .error(409, "last_owner");

    // A sub-account's own owner is not its last: the parent's owner reaches it.
    let child = app.sub_account(&bob.access, &root, "Child").await;
    let carol = app.member(&bob, &child, "carol@example.com", "owner").await;
    let r = app
        .delete(
            &format!("/v1/accounts/{child}/members/{}", carol.id),
            &bob.access,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    app.get(&format!("/v1/accounts/{child}"), &carol.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}

/// Access is kept between requests only while nothing it derives from has changed: a
/// membership removed, a key revoked or a session ended by another process (here, straight in
/// the database) applies to the very next request.
#[tokio::test]
async fn access_changed_elsewhere_applies_to_the_next_request() {
    use entities::sea_orm::QueryFilter;
    use entities::{membership, repo, sea_orm::ColumnTrait, sea_orm::EntityTrait};

    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let bob = app
        .member(&ada, &ada.account_id, "bob@example.com", "viewer")
        .await;
    let sources = format!("/v1/accounts/{}/sources", ada.account_id);
    for _ in 0..2 {
        app.get(&sources, &bob.access).await.ok(200);
    }
    membership::Entity::delete_many()
        .filter(membership::Column::UserId.eq(&bob.id))
        .filter(membership::Column::AccountId.eq(&ada.account_id))
        .exec(&app.db)
        .await
        .unwrap();
    app.get(&sources, &bob.access).await.error(404, "not_found");

    let (key_id, secret) = app
        .api_key(&ada.access, &ada.account_id, "ci", "viewer")
        .await;
    for _ in 0..2 {
        app.get(&sources, &secret).await.ok(200);
    }
    repo::revoke_api_key(&app.db, &key_id).await.unwrap();
    app.get(&sources, &secret).await.error(401, "unauthorized");

    for _ in 0..2 {
        app.get(&sources, &ada.access).await.ok(200);
    }
    repo::revoke_sessions_of(&app.db, &ada.id, None)
        .await
        .unwrap();
    app.get(&sources, &ada.access)
        .await
        .error(401, "unauthorized");
    app.shutdown().await;
}
