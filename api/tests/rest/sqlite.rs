//! The same resources over SQLite, the database `listbackup dev` uses: one connection, so a
//! handler that used the pool inside its own transaction would hang here.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn sign_in_accounts_members_and_keys_work_on_sqlite() {
    let app = App::spawn_on_sqlite().await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let refreshed = app.refresh(&ada.refresh).await;
    let access = refreshed.ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.refresh(&ada.refresh)
        .await
        .error(401, "refresh_token_reused");
    app.get("/v1/me", &access).await.error(401, "unauthorized");
    let login = app.login(&ada.email, PASSWORD).await;
    let access = login.ok(200)["access_token"].as_str().unwrap().to_owned();

    let child = app.sub_account(&access, &ada.account_id, "Child").await;
    app.post(
        &format!("/v1/accounts/{}/sub-accounts", ada.account_id),
        &access,
        json!({"name": "Child"}),
    )
    .await
    .error(409, "duplicate_name");
    app.post(
        &format!("/v1/accounts/{child}/members"),
        &access,
        json!({"email": bob.email, "role": "admin"}),
    )
    .await
    .ok(201);
    app.patch(
        &format!("/v1/accounts/{}/members/{}", ada.account_id, ada.id),
        &access,
        json!({"role": "admin"}),
    )
    .await
    .error(409, "last_owner");
    let (key_id, key) = app.api_key(&bob.access, &child, "ci", "operator").await;
    assert_eq!(
        app.get(&format!("/v1/accounts/{child}"), &key)
            .await
            .ok(200)["role"],
        "operator"
    );
    let r = app
        .delete(
            &format!("/v1/accounts/{child}/api-keys/{key_id}"),
            &bob.access,
        )
        .await;
    assert_eq!(r.status, 204);
    let r = app.delete(&format!("/v1/accounts/{child}"), &access).await;
    assert_eq!(r.status, 204, "{}", r.body);
    app.shutdown().await;
}
