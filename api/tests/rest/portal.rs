//! The client portal on the real app: grants by email (read from a real SMTP server) and to
//! teams, what holders see through `/v1/portal/...` — the granted sources' jobs, snapshots
//! and, with `restore`, their contents from the embedded S3 endpoint — and that nothing else
//! of the account is in their reach; expiry, revocation, the second-factor requirement and the
//! activity log.

use crate::{
    email::APP_URL,
    harness::*,
    smtp::*,
    snapshots::{Stored, header, specs, store_snapshot},
};
use entities::{
    account, client_grant,
    sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr},
};
use serde_json::{Value, json};

async fn spawn_portal(smtp: &SmtpServer) -> App {
    let mail = api::MailSettings::new(&smtp.url(), "ListBackup <no-reply@example.com>", APP_URL)
        .expect("mail settings");
    App::spawn_with_objects_and(move |auth| crate::me::many_sign_ins(auth).with_mail(mail)).await
}

fn source_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// A source group of `account_id` holding `source_id`.
async fn group_of(app: &App, by: &User, account_id: &str, source_id: &str) -> String {
    let r = app
        .post(
            &format!("/v1/accounts/{account_id}/source-groups"),
            &by.access,
            json!({"name": format!("group {}", entities::new_id())}),
        )
        .await;
    let group = r.ok(201)["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/v1/source-groups/{group}/sources"),
        &by.access,
        json!({"source_id": source_id}),
    )
    .await
    .ok(204);
    group
}

async fn accept(app: &App, token: &str, access: &str) -> Reply {
    app.call(
        "POST",
        "/v1/portal/accept",
        Some(access),
        Some(json!({"token": token})),
    )
    .await
}

/// Grants by email, accepted and checked: returns the grant's id and the token sent.
async fn grant_to_client(
    app: &App,
    smtp: &SmtpServer,
    by: &User,
    email: &str,
    body: Value,
    earlier_tokens: &[String],
) -> (String, String) {
    let mut body = body;
    body["email"] = json!(email);
    let r = app
        .post(
            &format!("/v1/accounts/{}/client-grants", by.account_id),
            &by.access,
            body,
        )
        .await;
    let created = r.ok(201).clone();
    assert_eq!(created["status"], "pending");
    assert!(
        created.get("token").is_none(),
        "the token is in the email only"
    );
    let token = smtp
        .wait_for_new_token(&email.to_lowercase(), "client-access", earlier_tokens)
        .await;
    (created["id"].as_str().unwrap().to_owned(), token)
}

#[tokio::test]
async fn a_client_accepts_a_grant_and_reaches_the_granted_sources_and_nothing_else() {
    let smtp = SmtpServer::start().await;
    let app = spawn_portal(&smtp).await;
    let ada = app.register("ada@example.com").await;
    let acc = ada.account_id.clone();
    let direct: Stored = store_snapshot(&app, &acc, &specs()).await;
    let hidden: Stored = store_snapshot(&app, &acc, &specs()[1..2]).await;
    let grouped: Stored = store_snapshot(&app, &acc, &specs()[1..2]).await;
    let group = group_of(&app, &ada, &acc, &grouped.source_id).await;
    let grants = format!("/v1/accounts/{acc}/client-grants");
    let other = app.register("olga@example.com").await;
    let foreign = store_snapshot(&app, &other.account_id, &specs()[1..2]).await;

    // Checked before anything is granted or sent.
    let viewer = app.member(&ada, &acc, "vic@example.com", "viewer").await;
    let good =
        json!({"email": "cli@example.com", "access": "read", "source_ids": [direct.source_id]});
    app.post(&grants, &viewer.access, good.clone())
        .await
        .error(403, "forbidden");
    for (bad, field) in [
        (
            json!({"access": "read", "source_ids": [direct.source_id]}),
            "email",
        ),
        (
            json!({"email": "cli@example.com", "team_id": "x", "access": "read", "source_ids": [direct.source_id]}),
            "email",
        ),
        (
            json!({"email": "cli@example.com", "access": "read"}),
            "source_ids",
        ),
        (
            json!({"email": "cli@example.com", "access": "read", "source_ids": [foreign.source_id]}),
            "source_ids",
        ),
        (
            json!({"email": "cli@example.com", "access": "read", "source_group_ids": ["nope"]}),
            "source_group_ids",
        ),
        (
            json!({"email": "cli@example.com", "access": "read", "source_ids": [direct.source_id], "expires_at": "2020-01-01T00:00:00Z"}),
            "expires_at",
        ),
        (
            json!({"email": "cli", "access": "read", "source_ids": [direct.source_id]}),
            "email",
        ),
    ] {
        let r = app.post(&grants, &ada.access, bad).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field);
    }
    app.post(
        &grants,
        &ada.access,
        json!({"email": "cli@example.com", "access": "all", "source_ids": [direct.source_id]}),
    )
    .await
    .error(400, "invalid_request");
    assert!(smtp.messages().is_empty());
    assert!(
        app.get(&grants, &ada.access).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A read grant of one source and a group, by email.
    let (read_id, token) = grant_to_client(
        &app,
        &smtp,
        &ada,
        "Cli@Example.com",
        json!({"access": "read", "source_ids": [direct.source_id], "source_group_ids": [group]}),
        &[],
    )
    .await;
    let message = smtp.wait_for("cli@example.com", "Your backups at").await;
    assert!(message.body.contains("see the status"), "{}", message.body);
    assert!(
        message.from.contains("ada"),
        "in the account's name: {message:?}"
    );
    assert!(
        app.logged(
            &acc,
            &format!("user:{}", ada.id),
            "client_grant.created",
            &read_id
        )
        .await
    );

    // Only the invited address accepts, once; before that the portal is empty.
    let mallory = app.register("mallory@example.com").await;
    accept(&app, &token, &mallory.access)
        .await
        .error(403, "grant_for_another_email");
    accept(&app, "lbc_notatoken", &mallory.access)
        .await
        .error(422, "invalid_token");
    let cli = app.register("cli@example.com").await;
    let empty = app.get("/v1/portal/sources", &cli.access).await;
    assert!(source_ids(empty.ok(200)).is_empty());
    // An account that requires a second factor refuses a client without one, and the token
    // stays usable.
    require_mfa(&app, &acc, true).await;
    accept(&app, &token, &cli.access)
        .await
        .error(403, "mfa_required");
    require_mfa(&app, &acc, false).await;
    let r = accept(&app, &token, &cli.access).await;
    let held = r.ok(200).clone();
    assert_eq!(held["access"], "read");
    assert_eq!(
        held["branding"]["display_name"],
        ada_account_name(&app, &acc).await
    );
    let expected = sorted(vec![direct.source_id.clone(), grouped.source_id.clone()]);
    assert_eq!(held["source_ids"], json!(expected));
    accept(&app, &token, &cli.access)
        .await
        .error(422, "invalid_token");
    assert!(
        app.logged(
            &acc,
            &format!("user:{}", cli.id),
            "client_grant.accepted",
            &read_id
        )
        .await
    );

    // The granted sources, their jobs and snapshots; nothing else.
    let listed = app.get("/v1/portal/sources", &cli.access).await;
    assert_eq!(source_ids(listed.ok(200)), expected);
    assert_eq!(listed.ok(200)["items"][0]["access"], "read");
    let paged = app.get("/v1/portal/sources?limit=1", &cli.access).await;
    assert!(paged.ok(200)["next_cursor"].is_string());
    let snaps = app
        .get(
            &format!("/v1/portal/sources/{}/snapshots", direct.source_id),
            &cli.access,
        )
        .await;
    assert_eq!(snaps.ok(200)["items"][0]["id"], direct.snapshot_id.as_str());
    let jobs = app
        .get(
            &format!("/v1/portal/sources/{}/jobs", direct.source_id),
            &cli.access,
        )
        .await;
    let job = &jobs.ok(200)["items"][0];
    assert_eq!(job["snapshot_id"], direct.snapshot_id.as_str());
    assert!(job.get("temporal_ui_url").is_none() && job.get("workflow_id").is_none());
    let streams = app
        .get(
            &format!("/v1/portal/snapshots/{}/streams", direct.snapshot_id),
            &cli.access,
        )
        .await;
    assert!(!streams.ok(200)["items"].as_array().unwrap().is_empty());
    // Contents need restore.
    let records = format!(
        "/v1/portal/snapshots/{}/streams/customers/records?limit=2",
        direct.snapshot_id
    );
    app.get(&records, &cli.access)
        .await
        .error(403, "access_too_low");
    // Ungranted sources and snapshots, of this account or another, are not there.
    for path in [
        format!("/v1/portal/sources/{}/snapshots", hidden.source_id),
        format!("/v1/portal/sources/{}/jobs", foreign.source_id),
        format!("/v1/portal/snapshots/{}/streams", hidden.snapshot_id),
        format!(
            "/v1/portal/snapshots/{}/streams/invoices/records",
            foreign.snapshot_id
        ),
        format!(
            "/v1/portal/snapshots/{}/streams/invoices/download",
            hidden.snapshot_id
        ),
    ] {
        app.get(&path, &cli.access).await.error(404, "not_found");
    }
    // Another client's grant is theirs alone.
    let (cly_grant, cly_token) = grant_to_client(
        &app,
        &smtp,
        &ada,
        "cly@example.com",
        json!({"access": "restore", "source_ids": [hidden.source_id]}),
        &[],
    )
    .await;
    let cly = app.register("cly@example.com").await;
    accept(&app, &cly_token, &cly.access).await.ok(200);
    let theirs = app.get("/v1/portal/sources", &cly.access).await;
    assert_eq!(source_ids(theirs.ok(200)), [hidden.source_id.as_str()]);
    let mine = app.get("/v1/portal/grants", &cli.access).await;
    let held: Vec<&str> = mine
        .ok(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(held, [read_id.as_str()]);
    assert!(!held.contains(&cly_grant.as_str()));
    app.get(
        &format!("/v1/portal/sources/{}/jobs", hidden.source_id),
        &cli.access,
    )
    .await
    .error(404, "not_found");

    // The rest of the API never counts a grant: the account, its sources, snapshots,
    // settings and other grants are out of reach.
    for path in [
        format!("/v1/accounts/{acc}"),
        format!("/v1/sources/{}", direct.source_id),
        format!("/v1/sources/{}/snapshots", direct.source_id),
        format!("/v1/snapshots/{}", direct.snapshot_id),
        format!(
            "/v1/snapshots/{}/streams/customers/records",
            direct.snapshot_id
        ),
        format!("/v1/accounts/{acc}/branding"),
        format!("/v1/accounts/{acc}/members"),
        grants.clone(),
        format!("{grants}/{read_id}"),
    ] {
        app.get(&path, &cli.access).await.error(404, "not_found");
    }
    let mine = app.get("/v1/me/accounts", &cli.access).await;
    let reached: Vec<&str> = mine.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(!reached.contains(&acc.as_str()), "{reached:?}");
    // Every portal call is in the account's log, by the client.
    let actor = format!("user:{}", cli.id);
    assert!(
        app.logged(&acc, &actor, "portal.snapshots.listed", &direct.source_id)
            .await
    );
    assert!(
        app.logged(&acc, &actor, "portal.jobs.listed", &direct.source_id)
            .await
    );
    assert!(
        app.logged(&acc, &actor, "portal.sources.listed", &acc)
            .await
    );

    // A restore grant of the same source: records and downloads.
    let (restore_id, restore_token) = grant_to_client(
        &app,
        &smtp,
        &ada,
        "cli@example.com",
        json!({"access": "restore", "source_ids": [direct.source_id], "expires_at": "2099-01-01T00:00:00Z"}),
        std::slice::from_ref(&token),
    )
    .await;
    accept(&app, &restore_token, &cli.access).await.ok(200);
    let (status, headers, body) = app.get_raw(&records, Some(&cli.access)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(header(&headers, "x-record-count"), Some("2"));
    let first: Value = serde_json::from_slice(body.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(first, crate::snapshots::record("customers", 0));
    let link = header(&headers, "link").expect("a next link");
    assert!(link.starts_with("</v1/portal/snapshots/"), "{link}");
    let (stream, jsonl) = &direct.jsonl[0];
    let (status, _, body) = app
        .get_raw(
            &format!(
                "/v1/portal/snapshots/{}/streams/{stream}/download",
                direct.snapshot_id
            ),
            Some(&cli.access),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(&body, jsonl, "the download is the stream's JSON Lines");
    assert!(
        app.logged(&acc, &actor, "portal.stream.downloaded", &direct.source_id)
            .await
    );
    // The group's source stays read-only.
    app.get(
        &format!(
            "/v1/portal/snapshots/{}/streams/invoices/records",
            grouped.snapshot_id
        ),
        &cli.access,
    )
    .await
    .error(403, "access_too_low");

    // The admin sees both grants; revoking one leaves the other.
    let listed = app.get(&grants, &ada.access).await;
    let statuses: Vec<(&str, &str)> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["id"].as_str().unwrap(), g["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            (restore_id.as_str(), "active"),
            (cly_grant.as_str(), "active"),
            (read_id.as_str(), "active")
        ]
    );
    app.delete(&format!("{grants}/{restore_id}"), &ada.access)
        .await
        .ok(204);
    app.delete(&format!("{grants}/{restore_id}"), &ada.access)
        .await
        .error(409, "grant_revoked");
    app.get(&records, &cli.access)
        .await
        .error(403, "access_too_low");
    // An expired grant reaches nothing.
    client_grant::Entity::update_many()
        .col_expr(
            client_grant::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .filter(client_grant::Column::Id.eq(read_id.as_str()))
        .exec(&app.db)
        .await
        .unwrap();
    let listed = app.get("/v1/portal/sources", &cli.access).await;
    assert!(source_ids(listed.ok(200)).is_empty());
    app.get(
        &format!("/v1/portal/sources/{}/snapshots", direct.source_id),
        &cli.access,
    )
    .await
    .error(404, "not_found");
    let got = app.get(&format!("{grants}/{read_id}"), &ada.access).await;
    assert_eq!(got.ok(200)["status"], "expired");

    // The portal is for people: an API key is refused.
    let (_, key) = app.api_key(&ada.access, &acc, "ci", "viewer").await;
    app.get("/v1/portal/sources", &key)
        .await
        .error(403, "user_required");
    app.get("/v1/portal/grants", &key)
        .await
        .error(403, "user_required");
    app.get("/v1/portal/sources?limit=0", &cli.access)
        .await
        .error(400, "invalid_request");
    app.shutdown().await;
}

async fn require_mfa(app: &App, account_id: &str, on: bool) {
    account::Entity::update_many()
        .col_expr(account::Column::RequireMfa, Expr::value(on))
        .filter(account::Column::Id.eq(account_id))
        .exec(&app.db)
        .await
        .unwrap();
}

async fn ada_account_name(app: &App, account_id: &str) -> String {
    account::Entity::find_by_id(account_id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .name
}

#[tokio::test]
async fn a_team_grant_reaches_the_members_of_the_team_while_they_are_in_it() {
    let app = App::spawn_with_objects().await;
    let ada = app.register("ada@example.com").await;
    let acc = ada.account_id.clone();
    let stored = store_snapshot(&app, &acc, &specs()[1..2]).await;
    let group = group_of(&app, &ada, &acc, &stored.source_id).await;
    let grants = format!("/v1/accounts/{acc}/client-grants");
    let r = app
        .post(
            &format!("/v1/accounts/{acc}/teams"),
            &ada.access,
            json!({"name": "auditors"}),
        )
        .await;
    let team = r.ok(201)["id"].as_str().unwrap().to_owned();
    let bob = app.register("bob@example.com").await;
    let mia = app.register("mia@example.com").await;
    app.register("eve@example.com").await;
    app.post(
        &format!("/v1/teams/{team}/members"),
        &ada.access,
        json!({"email": "bob@example.com", "team_role": "member"}),
    )
    .await
    .ok(201);

    // A team of another account cannot be granted to.
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
            &grants,
            &ada.access,
            json!({"team_id": theirs, "access": "restore", "source_group_ids": [group]}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "team_id");

    // A grant to a client needs email: without an SMTP server it is refused, nothing granted.
    app.post(
        &grants,
        &ada.access,
        json!({"email": "cli@example.com", "access": "read", "source_group_ids": [group]}),
    )
    .await
    .error(503, "email_unavailable");
    assert!(
        app.get(&grants, &ada.access).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Granted to the team: its members hold it at once, no email involved.
    let r = app
        .post(
            &grants,
            &ada.access,
            json!({"team_id": team, "access": "restore", "source_group_ids": [group]}),
        )
        .await;
    let created = r.ok(201).clone();
    assert_eq!(created["status"], "active");
    let held = app.get("/v1/portal/grants", &bob.access).await;
    assert_eq!(held.ok(200)[0]["team_id"], team.as_str());
    let listed = app.get("/v1/portal/sources", &bob.access).await;
    assert_eq!(source_ids(listed.ok(200)), [stored.source_id.as_str()]);
    let (status, _, _) = app
        .get_raw(
            &format!(
                "/v1/portal/snapshots/{}/streams/invoices/records",
                stored.snapshot_id
            ),
            Some(&bob.access),
        )
        .await;
    assert_eq!(status, 200);
    // Not a member of the account for all that.
    app.get(&format!("/v1/sources/{}", stored.source_id), &bob.access)
        .await
        .error(404, "not_found");

    // An account that requires a second factor holds its grants back from users without one.
    require_mfa(&app, &acc, true).await;
    let listed = app.get("/v1/portal/sources", &bob.access).await;
    assert!(source_ids(listed.ok(200)).is_empty());
    require_mfa(&app, &acc, false).await;

    // Whoever changes who is in the team hands its source grants out: a maintainer without
    // admin of the granting account may not.
    app.post(
        &format!("/v1/teams/{team}/members"),
        &ada.access,
        json!({"email": "mia@example.com", "team_role": "maintainer"}),
    )
    .await
    .ok(201);
    app.post(
        &format!("/v1/teams/{team}/members"),
        &mia.access,
        json!({"email": "eve@example.com", "team_role": "member"}),
    )
    .await
    .error(403, "role_too_high");

    // A source removed from the group leaves the grant's reach; so does leaving the team.
    let listed = app.get("/v1/portal/sources", &bob.access).await;
    assert_eq!(source_ids(listed.ok(200)).len(), 1);
    app.delete(&format!("/v1/teams/{team}/members/{}", bob.id), &ada.access)
        .await
        .ok(204);
    let listed = app.get("/v1/portal/sources", &bob.access).await;
    assert!(source_ids(listed.ok(200)).is_empty());

    // Deleting the team deletes its grants.
    app.delete(&format!("/v1/teams/{team}"), &ada.access)
        .await
        .ok(204);
    let listed = app.get(&grants, &ada.access).await;
    assert!(listed.ok(200)["items"].as_array().unwrap().is_empty());
    app.shutdown().await;
}
