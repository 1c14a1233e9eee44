//! Password resets and invitations by email, read from a real SMTP server (aiosmtpd).

use crate::{harness::*, smtp::*};
use entities::{
    invitation, password_reset,
    sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, sea_query::Expr},
};
use serde_json::json;
use std::time::Duration;

pub(crate) const APP_URL: &str = "https://backup.example.com/app";

pub(crate) async fn spawn_with_mail(smtp: &SmtpServer) -> App {
    let mail = api::MailSettings::new(&smtp.url(), "ListBackup <no-reply@example.com>", APP_URL)
        .expect("mail settings");
    App::spawn_with(move |auth| crate::me::many_sign_ins(auth).with_mail(mail)).await
}

#[tokio::test]
async fn a_password_reset_link_arrives_works_once_and_signs_everyone_out() {
    let smtp = SmtpServer::start().await;
    let app = spawn_with_mail(&smtp).await;
    let ada = app.register("ada@example.com").await;

    // Unknown and known emails get the same answer; only the known one gets a message.
    let reset = |email: &str| {
        app.call(
            "POST",
            "/v1/auth/password-reset",
            None,
            Some(json!({"email": email})),
        )
    };
    let unknown = reset("nobody@example.com").await;
    assert_eq!(unknown.status, 202, "{}", unknown.body);
    let known = reset("  ADA@example.com ").await;
    assert_eq!(known.status, 202, "{}", known.body);
    assert_eq!(known.body, unknown.body);
    let message = smtp
        .wait_for("ada@example.com", "Reset your ListBackup password")
        .await;
    assert!(message.from.contains("no-reply@example.com"), "{message:?}");
    assert!(
        message
            .body
            .contains(&format!("{APP_URL}/reset-password?token=")),
        "{}",
        message.body
    );
    let first = token_in(&message.body, "reset-password");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "nothing for an unknown email");
    app.call(
        "POST",
        "/v1/auth/password-reset",
        None,
        Some(json!({"email": "not an email"})),
    )
    .await
    .error(422, "invalid_field");

    // Asking again sends a new link; the first stops working.
    reset("ada@example.com").await.ok(202);
    let second = smtp
        .wait_for_new_token(
            "ada@example.com",
            "reset-password",
            std::slice::from_ref(&first),
        )
        .await;
    assert_ne!(first, second);
    let confirm = |token: &str, password: &str| {
        app.call(
            "POST",
            "/v1/auth/password-reset/confirm",
            None,
            Some(json!({"token": token, "new_password": password})),
        )
    };
    let r = confirm(&first, "a brand new passphrase").await;
    r.error(422, "invalid_token");
    assert_eq!(r.field(), "token");

    // A weak password is refused and the link still works afterwards.
    let r = confirm(&second, "short").await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "new_password");
    app.get("/v1/me", &ada.access).await.ok(200);

    confirm(&second, "a brand new passphrase").await.ok(204);
    app.get("/v1/me", &ada.access)
        .await
        .error(401, "unauthorized");
    app.refresh(&ada.refresh)
        .await
        .error(401, "invalid_refresh_token");
    app.login(&ada.email, PASSWORD)
        .await
        .error(401, "invalid_credentials");
    app.login(&ada.email, "a brand new passphrase")
        .await
        .ok(200);
    // Once only.
    confirm(&second, "yet another passphrase")
        .await
        .error(422, "invalid_token");

    // An expired link is refused.
    reset("ada@example.com").await.ok(202);
    let third = smtp
        .wait_for_new_token(
            "ada@example.com",
            "reset-password",
            &[first.clone(), second.clone()],
        )
        .await;
    password_reset::Entity::update_many()
        .col_expr(
            password_reset::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.db)
        .await
        .unwrap();
    confirm(&third, "yet another passphrase")
        .await
        .error(422, "invalid_token");
    let signed_in = app.login(&ada.email, "a brand new passphrase").await;
    let access = signed_in.ok(200)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Changing the password ends a reset link sent before.
    reset("ada@example.com").await.ok(202);
    let fourth = smtp
        .wait_for_new_token(
            "ada@example.com",
            "reset-password",
            &[first.clone(), second.clone(), third.clone()],
        )
        .await;
    app.post(
        "/v1/me/password",
        &access,
        json!({"current_password": "a brand new passphrase", "new_password": "the final passphrase"}),
    )
    .await
    .ok(204);
    confirm(&fourth, "one more passphrase")
        .await
        .error(422, "invalid_token");
    app.shutdown().await;
}

async fn accept(app: &App, token: &str, access: &str) -> Reply {
    app.call(
        "POST",
        "/v1/invitations/accept",
        Some(access),
        Some(json!({"token": token})),
    )
    .await
}

#[tokio::test]
async fn an_invitation_arrives_and_makes_the_invitee_a_member_once() {
    let smtp = SmtpServer::start().await;
    let app = spawn_with_mail(&smtp).await;
    let ada = app.register("ada@example.com").await;
    let invitations = format!("/v1/accounts/{}/invitations", ada.account_id);
    let admin = app
        .member(&ada, &ada.account_id, "adam@example.com", "admin")
        .await;

    // Checked before anything is sent.
    app.post(
        &invitations,
        &admin.access,
        json!({"email": "bea@example.com", "role": "owner"}),
    )
    .await
    .error(403, "role_too_high");
    app.post(
        &invitations,
        &admin.access,
        json!({"email": "adam@example.com", "role": "viewer"}),
    )
    .await
    .error(409, "already_member");
    app.post(
        &invitations,
        &admin.access,
        json!({"email": "bea", "role": "viewer"}),
    )
    .await
    .error(422, "invalid_field");
    assert!(smtp.messages().is_empty());

    let r = app
        .post(
            &invitations,
            &admin.access,
            json!({"email": "Bea@Example.com", "role": "operator"}),
        )
        .await;
    let created = r.ok(201).clone();
    assert_eq!(created["email"], "bea@example.com");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["role"], "operator");
    assert!(
        created.get("token").is_none(),
        "the token is in the email only"
    );
    let message = smtp.wait_for("bea@example.com", "You are invited").await;
    assert!(message.body.contains("adam"), "{}", message.body);
    assert!(
        message.from.contains("ada"),
        "sent in the account's name: {message:?}"
    );
    let token = token_in(&message.body, "accept-invitation");
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", admin.id),
            "invitation.created",
            created["id"].as_str().unwrap()
        )
        .await
    );

    // Someone else signed in cannot use it; the invitee can, once.
    let mallory = app.register("mallory@example.com").await;
    accept(&app, &token, &mallory.access)
        .await
        .error(403, "invitation_for_another_email");
    accept(&app, "lbi_notatoken", &mallory.access)
        .await
        .error(422, "invalid_token");
    let bea = app.register("bea@example.com").await;
    app.get(&format!("/v1/accounts/{}", ada.account_id), &bea.access)
        .await
        .error(404, "not_found");
    let r = accept(&app, &token, &bea.access).await;
    let joined = r.ok(200);
    assert_eq!(joined["account_id"], ada.account_id.as_str());
    assert_eq!(joined["role"], "operator");
    let acct = app
        .get(&format!("/v1/accounts/{}", ada.account_id), &bea.access)
        .await;
    assert_eq!(acct.ok(200)["role"], "operator");
    accept(&app, &token, &bea.access)
        .await
        .error(409, "already_member");
    let listed = app.get(&invitations, &ada.access).await;
    let first = &listed.ok(200)["items"][0];
    assert_eq!(first["status"], "accepted");
    assert_eq!(first["accepted_by"], bea.id.as_str());

    // Revoked and expired invitations do not work.
    let r = app
        .post(
            &invitations,
            &ada.access,
            json!({"email": "cy@example.com", "role": "viewer"}),
        )
        .await;
    let revoked_id = r.ok(201)["id"].as_str().unwrap().to_owned();
    let revoked = token_in(
        &smtp
            .wait_for("cy@example.com", "You are invited")
            .await
            .body,
        "accept-invitation",
    );
    app.delete(&format!("{invitations}/{revoked_id}"), &ada.access)
        .await
        .ok(204);
    app.delete(&format!("{invitations}/{revoked_id}"), &ada.access)
        .await
        .error(409, "invitation_closed");
    let cy = app.register("cy@example.com").await;
    accept(&app, &revoked, &cy.access)
        .await
        .error(422, "invalid_token");

    app.post(
        &invitations,
        &ada.access,
        json!({"email": "cy@example.com", "role": "viewer"}),
    )
    .await
    .ok(201);
    let expiring = smtp
        .wait_for_new_token(
            "cy@example.com",
            "accept-invitation",
            std::slice::from_ref(&revoked),
        )
        .await;
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .filter(invitation::Column::Email.eq("cy@example.com"))
        .exec(&app.db)
        .await
        .unwrap();
    accept(&app, &expiring, &cy.access)
        .await
        .error(422, "invalid_token");
    let listed = app.get(&invitations, &ada.access).await;
    let statuses: Vec<&str> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expired", "revoked", "accepted"]);
    app.shutdown().await;
}

#[tokio::test]
async fn without_an_smtp_server_invitations_are_refused_and_nothing_is_kept() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    app.post(
        &format!("/v1/accounts/{}/invitations", ada.account_id),
        &ada.access,
        json!({"email": "bea@example.com", "role": "viewer"}),
    )
    .await
    .error(503, "email_unavailable");
    assert_eq!(invitation::Entity::find().count(&app.db).await.unwrap(), 0);
    // A reset is answered as always, and nothing is kept either.
    app.call(
        "POST",
        "/v1/auth/password-reset",
        None,
        Some(json!({"email": "ada@example.com"})),
    )
    .await
    .ok(202);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        password_reset::Entity::find().count(&app.db).await.unwrap(),
        0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_smtp_server_that_refuses_leaves_no_live_invitation() {
    // Nothing listens here.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mail = api::MailSettings::new(
        &format!("smtp://127.0.0.1:{port}"),
        "no-reply@example.com",
        APP_URL,
    )
    .unwrap();
    let app = App::spawn_with(move |auth| App::generous(auth).with_mail(mail)).await;
    let ada = app.register("ada@example.com").await;
    let invitations = format!("/v1/accounts/{}/invitations", ada.account_id);
    app.post(
        &invitations,
        &ada.access,
        json!({"email": "bea@example.com", "role": "viewer"}),
    )
    .await
    .error(503, "email_unavailable");
    let listed = app.get(&invitations, &ada.access).await;
    assert!(
        listed.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["status"] == "revoked"),
        "{}",
        listed.body
    );
    // Bad mail settings are refused up front, naming the problem.
    let err = api::MailSettings::new("smtp://127.0.0.1:25", "not an address", APP_URL).unwrap_err();
    assert!(err.to_string().contains("not an address"), "{err}");
    assert!(api::MailSettings::new("ftp://x", "a@b.example", APP_URL).is_err());
    app.shutdown().await;
}

#[tokio::test]
async fn an_invitation_into_a_team_adds_the_invitee_to_it_on_accepting() {
    let smtp = SmtpServer::start().await;
    let app = spawn_with_mail(&smtp).await;
    let ada = app.register("ada@example.com").await;
    let acc = &ada.account_id;
    let invitations = format!("/v1/accounts/{acc}/invitations");
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/teams"),
            &ada.access,
            json!({"name": "support"}),
        )
        .await;
    let team = r.ok(201)["id"].as_str().unwrap().to_owned();
    let sub = app
        .post(
            &format!("/v1/accounts/{acc}/sub-accounts"),
            &ada.access,
            json!({"name": "client"}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.call(
        "PUT",
        &format!("/v1/teams/{team}/grants/{sub}"),
        Some(&ada.access),
        Some(json!({"role": "owner"})),
    )
    .await
    .ok(200);

    // A team of another account is refused; so is a team holding a role above the inviter's.
    let olga = app.register("olga@example.com").await;
    let r = app
        .post(
            &format!("/v1/accounts/{}/teams", olga.account_id),
            &olga.access,
            json!({"name": "theirs"}),
        )
        .await;
    let theirs = r.ok(201)["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &invitations,
            &ada.access,
            json!({"email": "bea@example.com", "role": "viewer", "team_id": theirs}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "team_id");
    let admin = app.member(&ada, acc, "adam@example.com", "admin").await;
    app.post(
        &invitations,
        &admin.access,
        json!({"email": "bea@example.com", "role": "viewer", "team_id": team}),
    )
    .await
    .error(403, "role_too_high");
    assert!(smtp.messages().is_empty());

    let r = app
        .post(
            &invitations,
            &ada.access,
            json!({"email": "bea@example.com", "role": "viewer", "team_id": team}),
        )
        .await;
    assert_eq!(r.ok(201)["team_id"], team.as_str());
    let message = smtp.wait_for("bea@example.com", "You are invited").await;
    assert!(
        message.body.contains("in the team \"support\""),
        "{}",
        message.body
    );
    let token = token_in(&message.body, "accept-invitation");
    let bea = app.register("bea@example.com").await;
    let r = accept(&app, &token, &bea.access).await;
    assert_eq!(r.ok(200)["team_id"], team.as_str());
    let members = app.get(&format!("/v1/teams/{team}"), &ada.access).await;
    let emails: Vec<&str> = members.ok(200)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["bea@example.com"]);
    // The team's role reaches her at once.
    let got = app.get(&format!("/v1/accounts/{sub}"), &bea.access).await;
    assert_eq!(got.ok(200)["role"], "owner");

    // Someone in the team already (not a member of the account) joins the account; the team
    // keeps one membership of theirs.
    let cy = app.register("cy@example.com").await;
    app.post(
        &format!("/v1/teams/{team}/members"),
        &ada.access,
        json!({"email": "cy@example.com", "team_role": "member"}),
    )
    .await
    .ok(201);
    app.post(
        &invitations,
        &ada.access,
        json!({"email": "cy@example.com", "role": "viewer", "team_id": team}),
    )
    .await
    .ok(201);
    let token = token_in(
        &smtp
            .wait_for("cy@example.com", "You are invited")
            .await
            .body,
        "accept-invitation",
    );
    let r = accept(&app, &token, &cy.access).await;
    assert_eq!(r.ok(200)["team_id"], team.as_str());
    let members = app.get(&format!("/v1/teams/{team}"), &ada.access).await;
    assert_eq!(members.ok(200)["members"].as_array().unwrap().len(), 2);

    // An invitation gives what its sender may give when it is accepted: a demoted admin's
    // invitation no longer works.
    app.post(
        &invitations,
        &admin.access,
        json!({"email": "dan@example.com", "role": "operator"}),
    )
    .await
    .ok(201);
    let token = token_in(
        &smtp
            .wait_for("dan@example.com", "You are invited")
            .await
            .body,
        "accept-invitation",
    );
    app.call(
        "PATCH",
        &format!("/v1/accounts/{acc}/members/{}", admin.id),
        Some(&ada.access),
        Some(json!({"role": "viewer"})),
    )
    .await
    .ok(200);
    let dan = app.register("dan@example.com").await;
    accept(&app, &token, &dan.access)
        .await
        .error(403, "inviter_lacks_role");
    app.get(&format!("/v1/accounts/{acc}"), &dan.access)
        .await
        .error(404, "not_found");
    app.shutdown().await;
}
