//! Registering, signing in, refreshing, signing out, and `/v1/me`.

use crate::harness::*;
use entities::{
    refresh_token,
    sea_orm::{ColumnTrait, EntityTrait, QueryFilter},
    user,
};
use serde_json::json;

#[tokio::test]
async fn registering_creates_a_user_who_owns_an_account_and_is_signed_in() {
    let app = App::spawn().await;
    let r = app
        .call(
            "POST",
            "/v1/auth/register",
            None,
            Some(json!({"email": " Ada@Example.com ", "password": PASSWORD, "name": "Ada", "account_name": "Engines Ltd"})),
        )
        .await;
    let body = r.ok(201).clone();
    assert_eq!(body["user"]["email"], "ada@example.com", "normalised");
    assert_eq!(body["account"]["name"], "Engines Ltd");
    assert_eq!(body["account"]["role"], "owner");
    assert_eq!(body["account"]["customer_held_key"], false);
    assert!(
        body["account"]["encryption_recipient"]
            .as_str()
            .unwrap()
            .starts_with("age1")
    );
    let tokens = &body["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(
        tokens["expires_in"]
            .as_i64()
            .map(|s| (850..=900).contains(&s)),
        Some(true)
    );
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("lbr_")
    );
    // RFC 3339 timestamps.
    for t in [
        &tokens["access_token_expires_at"],
        &body["user"]["created_at"],
    ] {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).expect("RFC 3339");
    }

    // The password and the refresh token are stored hashed only.
    let stored = user::Entity::find().one(&app.db).await.unwrap().unwrap();
    let hash = stored.password_hash.unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rows = refresh_token::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        rows.iter()
            .all(|t| t.token_hash != refresh && !t.token_hash.contains(refresh))
    );

    let access = tokens["access_token"].as_str().unwrap();
    let me = app.get("/v1/me", access).await;
    let me = me.ok(200);
    assert_eq!(me["kind"], "user");
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert!(me.get("api_key").is_none_or(|k| k.is_null()));
    assert_eq!(
        me["grants"],
        json!([{"account_id": body["account"]["id"], "account_name": "Engines Ltd", "role": "owner"}])
    );

    let account_id = body["account"]["id"].as_str().unwrap();
    let log = app.activity(account_id).await;
    assert_eq!(
        log,
        vec![(
            format!("user:{}", body["user"]["id"].as_str().unwrap()),
            "account.created".into(),
            account_id.into()
        )]
    );

    // The same email again (in any case) is refused, and nothing new is created.
    let again = app
        .call(
            "POST",
            "/v1/auth/register",
            None,
            Some(json!({"email": "ADA@example.com", "password": PASSWORD, "name": "Eve"})),
        )
        .await;
    again.error(409, "email_taken");
    assert_eq!(again.field(), "email");
    assert_eq!(user::Entity::find().all(&app.db).await.unwrap().len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn registration_names_the_bad_field() {
    let app = App::spawn().await;
    let register =
        |body: serde_json::Value| app.call("POST", "/v1/auth/register", None, Some(body));
    let cases = [
        (
            json!({"email": "ada", "password": PASSWORD, "name": "Ada"}),
            "email",
        ),
        (
            json!({"email": "ada@example.com", "password": "too short", "name": "Ada"}),
            "password",
        ),
        (
            json!({"email": "ada@example.com", "password": PASSWORD, "name": "  "}),
            "name",
        ),
        (
            json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "account_name": ""}),
            "account_name",
        ),
    ];
    for (body, field) in cases {
        let r = register(body).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field);
    }
    let unknown = register(
        json!({"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "admin": true}),
    )
    .await;
    unknown.error(400, "invalid_request");
    assert_eq!(unknown.field(), "admin");
    register(json!({"email": "ada@example.com", "name": "Ada"}))
        .await
        .error(400, "invalid_request");
    assert!(user::Entity::find().all(&app.db).await.unwrap().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn sign_in_failures_look_the_same_whether_or_not_the_email_exists() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let wrong_password = app.login(&ada.email, "not the password").await;
    let unknown_email = app.login("nobody@example.com", "not the password").await;
    wrong_password.error(401, "invalid_credentials");
    unknown_email.error(401, "invalid_credentials");
    assert_eq!(
        wrong_password.body["error"]["message"],
        unknown_email.body["error"]["message"]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn login_ignores_email_case_and_issues_a_working_pair() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let r = app.login("ADA@Example.com", &ada.password).await;
    let pair = r.ok(200);
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/me", access).await.ok(200)["user"]["id"],
        ada.id.as_str()
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_works_once_and_reuse_revokes_the_whole_sign_in() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;

    let first = app.refresh(&ada.refresh).await;
    let first = first.ok(200).clone();
    let access2 = first["access_token"].as_str().unwrap().to_owned();
    let refresh2 = first["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, ada.refresh);
    app.get("/v1/me", &access2).await.ok(200);
    app.get("/v1/me", &ada.access).await.ok(200);

    // The rotated-out token is presented again: someone copied it.
    app.refresh(&ada.refresh)
        .await
        .error(401, "refresh_token_reused");
    // Every token of that sign-in is now dead: the successor, and both access tokens.
    app.refresh(&refresh2)
        .await
        .error(401, "invalid_refresh_token");
    app.get("/v1/me", &access2).await.error(401, "unauthorized");
    app.get("/v1/me", &ada.access)
        .await
        .error(401, "unauthorized");
    let family: Vec<_> = refresh_token::Entity::find()
        .filter(refresh_token::Column::UserId.eq(ada.id.as_str()))
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(family.len(), 2);
    assert!(family.iter().all(|t| t.revoked_at.is_some()));

    // A new sign-in is unaffected by the revoked one.
    let again = app.login(&ada.email, &ada.password).await;
    let token = again.ok(200)["refresh_token"].as_str().unwrap().to_owned();
    app.refresh(&token).await.ok(200);
    app.refresh("lbr_unknown")
        .await
        .error(401, "invalid_refresh_token");
    app.call("POST", "/v1/auth/refresh", None, Some(json!({})))
        .await
        .error(400, "invalid_request");
    app.shutdown().await;
}

#[tokio::test]
async fn signing_out_ends_the_refresh_and_access_tokens_of_that_sign_in() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let other = app.login(&ada.email, &ada.password).await;
    let other_access = other.ok(200)["access_token"].as_str().unwrap().to_owned();

    let out = app.logout(&ada.refresh).await;
    assert_eq!(out.status, 204);
    app.get("/v1/me", &ada.access)
        .await
        .error(401, "unauthorized");
    app.refresh(&ada.refresh)
        .await
        .error(401, "invalid_refresh_token");
    // The other sign-in (another device) still works.
    app.get("/v1/me", &other_access).await.ok(200);
    // Signing out twice, or with an unknown token, says nothing either way.
    for token in [ada.refresh.as_str(), "lbr_unknown"] {
        let r = app.logout(token).await;
        assert_eq!(r.status, 204);
    }
    app.call("POST", "/v1/auth/logout", None, Some(json!({"token": "x"})))
        .await
        .error(400, "invalid_request");
    app.shutdown().await;
}

#[tokio::test]
async fn bad_bearer_tokens_are_one_generic_401() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    // Signed with another secret, tampered with, garbage, an unknown API key, none at all.
    let foreign = api::tokens::TokenKeys::new(&[9; 32])
        .issue(&ada.id, "ses_x")
        .unwrap()
        .0;
    let mut tampered = ada.access.clone();
    tampered.pop();
    for token in [
        foreign.as_str(),
        tampered.as_str(),
        "garbage",
        "lbk_not-a-key",
    ] {
        app.get("/v1/me", token).await.error(401, "unauthorized");
        app.get(&format!("/v1/accounts/{}", ada.account_id), token)
            .await
            .error(401, "unauthorized");
    }
    app.call("GET", "/v1/me", None, None)
        .await
        .error(401, "unauthorized");
    app.shutdown().await;
}
