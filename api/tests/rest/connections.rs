//! Connections: API-key connections created, listed, renamed, tested, reconnected and deleted;
//! OAuth connections through the sandbox's authorization server (authorize, callback, code
//! exchange with PKCE, refresh), with expired, replayed and refused authorizations storing
//! nothing.

use crate::harness::*;
use connectors::oauth::TokenSet;
use entities::{
    JobKind, JobStatus, connection, oauth_state, repo,
    sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set},
};
use serde_json::{Value, json};

impl App {
    fn sandbox_url(&self) -> String {
        self.sandbox_server.as_ref().unwrap().base_url()
    }

    /// The credentials sealed in a connection, opened with the server's master key.
    async fn stored_credentials(&self, connection_id: &str) -> Value {
        let conn = connection::Entity::find_by_id(connection_id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap();
        let text = self.master.open_string(&conn.credentials_sealed).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    async fn connection_count(&self) -> u64 {
        connection::Entity::find().count(&self.db).await.unwrap()
    }

    /// A Stripe connection over the sandbox with `api_key`.
    async fn stripe_connection(&self, user: &User, name: &str, api_key: &str) -> Value {
        self.post(
            &format!("/v1/accounts/{}/connections", user.account_id),
            &user.access,
            json!({
                "platform": "stripe",
                "name": name,
                "credentials": {"api_key": api_key},
                "config": {"base_url": self.sandbox_url()},
            }),
        )
        .await
        .ok(201)
        .clone()
    }

    /// Goes to the platform's authorize URL as the user's browser would and returns the
    /// callback URL the platform redirects to (with `code` and `state`).
    async fn authorize_at_platform(&self, authorize_url: &str) -> String {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = browser.get(authorize_url).send().await.unwrap();
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Calls the callback URL a platform redirected to, without following a redirect.
    async fn callback(&self, url: &str) -> Reply {
        let path = url.strip_prefix(&self.base).expect("the callback is ours");
        self.call("GET", path, None, None).await
    }

    /// Starts connecting Keap and completes the authorization at the sandbox; returns the
    /// callback URL, not yet called.
    async fn keap_authorized(&self, user: &User, name: &str) -> String {
        let started = self
            .post(
                &format!("/v1/accounts/{}/connections/oauth/start", user.account_id),
                &user.access,
                json!({"platform": "keap", "name": name, "config": {"base_url": self.sandbox_url()}}),
            )
            .await;
        let url = started.ok(201)["authorize_url"]
            .as_str()
            .unwrap()
            .to_owned();
        self.authorize_at_platform(&url).await
    }

    /// A job of a source over `connection_id`, waiting in `needs_reauth`.
    async fn job_waiting_for(&self, connection_id: &str) -> String {
        let conn = connection::Entity::find_by_id(connection_id)
            .one(&self.db)
            .await
            .unwrap()
            .unwrap();
        let source = repo::create_source(&self.db, &conn, "everything", &[])
            .await
            .unwrap();
        let job = repo::create_job(&self.db, &source, JobKind::Backup)
            .await
            .unwrap();
        let mut waiting = job.into_active_model();
        waiting.status = Set(JobStatus::NeedsReauth);
        waiting.update(&self.db).await.unwrap().id
    }
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn an_api_key_connection_is_created_listed_renamed_tested_and_deleted() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let list = format!("/v1/accounts/{}/connections", ada.account_id);
    let key = app.sandbox.stripe().api_key().to_owned();

    let created = app.stripe_connection(&ada, "Stripe live", &key).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(created["platform"], "stripe");
    assert_eq!(created["auth"], "api_key");
    assert_eq!(created["status"], "active");
    assert_eq!(created["config"]["base_url"], app.sandbox_url().as_str());
    assert!(!created.to_string().contains(&key), "{created}");
    assert!(created.get("credentials").is_none());
    assert_eq!(
        app.stored_credentials(&id).await,
        json!({"api_key": key}),
        "sealed as given"
    );
    let row = connection::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!row.credentials_sealed.contains(&key), "stored sealed");

    // The payload is checked by the connector and the catalog, each error naming its field.
    let base = json!({"base_url": app.sandbox_url()});
    let bad = [
        (
            json!({"platform": "myspace", "name": "x", "credentials": {"api_key": "k"}}),
            "platform",
        ),
        (
            json!({"platform": "keap", "name": "x", "credentials": {"api_key": "k"}}),
            "platform",
        ),
        (
            json!({"platform": "stripe", "name": "  ", "credentials": {"api_key": "k"}}),
            "name",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": {"token": "k"}, "config": base}),
            "credentials",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": {}}),
            "credentials",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": "sk_test"}),
            "credentials",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": {"api_key": "k"}, "config": {"page_size": 0}}),
            "config",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": {"api_key": "k"}, "config": []}),
            "config",
        ),
        (
            json!({"platform": "stripe", "name": "x", "credentials": {"api_key": "k"}, "config": {"oauth_app": {}}}),
            "config.oauth_app",
        ),
    ];
    for (body, field) in bad {
        let r = app.post(&list, &ada.access, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}: {}", r.body);
    }
    let r = app
        .post(&list, &ada.access, json!({"platform": "stripe", "name": "x", "credentials": {"api_key": "k"}, "colour": "red"}))
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "colour");
    let r = app
        .post(
            &list,
            &ada.access,
            json!({"platform": "stripe", "name": "x"}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "credentials");
    let dup = app
        .post(
            &list,
            &ada.access,
            json!({"platform": "stripe", "name": "Stripe live", "credentials": {"api_key": "k"}}),
        )
        .await;
    dup.error(409, "duplicate_name");
    assert_eq!(dup.field(), "name");
    assert_eq!(
        app.connection_count().await,
        1,
        "nothing refused was stored"
    );

    // Listed with pages; read by id.
    let second = app.stripe_connection(&ada, "Stripe test", &key).await;
    let page = app.get(&format!("{list}?limit=1"), &ada.access).await;
    let page = page.ok(200).clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], id.as_str());
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app
        .get(&format!("{list}?limit=1&cursor={cursor}"), &ada.access)
        .await;
    assert_eq!(next.ok(200)["items"][0]["id"], second["id"]);
    assert!(next.body.get("next_cursor").is_none());
    app.get(&format!("{list}?limit=0"), &ada.access)
        .await
        .error(400, "invalid_request");
    let one = format!("/v1/connections/{id}");
    assert_eq!(
        app.get(&one, &ada.access).await.ok(200)["name"],
        "Stripe live"
    );
    app.get("/v1/connections/con_nope", &ada.access)
        .await
        .error(404, "not_found");

    // Renamed; settings replaced and checked.
    let renamed = app
        .patch(&one, &ada.access, json!({"name": "Stripe (live)"}))
        .await;
    assert_eq!(renamed.ok(200)["name"], "Stripe (live)");
    app.patch(&one, &ada.access, json!({"name": "Stripe test"}))
        .await
        .error(409, "duplicate_name");
    let r = app.patch(&one, &ada.access, json!({"name": ""})).await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "name");
    let r = app
        .patch(
            &one,
            &ada.access,
            json!({"config": {"base_url": app.sandbox_url(), "page_size": 1000}}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "config");
    let r = app
        .patch(
            &one,
            &ada.access,
            json!({"config": {"base_url": app.sandbox_url(), "page_size": 10}}),
        )
        .await;
    assert_eq!(r.ok(200)["config"]["page_size"], 10);
    app.patch(&one, &ada.access, json!({"secret": 1}))
        .await
        .error(400, "invalid_request");
    app.patch(
        "/v1/connections/con_nope",
        &ada.access,
        json!({"name": "y"}),
    )
    .await
    .error(404, "not_found");

    // The platform accepts the key.
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    assert_eq!(tested.ok(200), &json!({"ok": true}));
    app.post("/v1/connections/con_nope/test", &ada.access, json!({}))
        .await
        .error(404, "not_found");

    // Refused while a source backs up through it.
    let conn = connection::Entity::find_by_id(id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let source = repo::create_source(&app.db, &conn, "all", &[])
        .await
        .unwrap();
    let r = app.delete(&one, &ada.access).await;
    r.error(409, "connection_in_use");
    assert_eq!(r.body["error"]["details"]["sources"], 1);
    entities::source::Entity::delete_by_id(source.id.as_str())
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(app.delete(&one, &ada.access).await.status, 204);
    app.get(&one, &ada.access).await.error(404, "not_found");
    app.delete(&one, &ada.access).await.error(404, "not_found");

    let actions: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .filter(|(_, _, target)| *target == id)
        .map(|(actor, action, _)| {
            assert_eq!(actor, format!("user:{}", ada.id));
            action
        })
        .collect();
    assert_eq!(
        actions,
        [
            "connection.created",
            "connection.updated",
            "connection.updated",
            "connection.tested",
            "connection.deleted"
        ]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_key_tests_not_ok_and_reconnecting_stores_new_credentials() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let key = app.sandbox.stripe().api_key().to_owned();
    let created = app.stripe_connection(&ada, "Stripe", "sk_test_wrong").await;
    let one = format!("/v1/connections/{}", created["id"].as_str().unwrap());
    let id = created["id"].as_str().unwrap().to_owned();

    // A refusal is an answer, not a failure of the API.
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    let tested = tested.ok(200);
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(tested["error"]["code"], "unauthorized", "{tested}");
    assert_eq!(
        app.get(&one, &ada.access).await.ok(200)["status"],
        "needs_reauth"
    );

    // A run waits for the connection; reconnecting stores the new key, makes the connection
    // active and tries to resume the run (this API runs without a workflow service, so it
    // keeps waiting, and the answer says so).
    let job_id = app.job_waiting_for(&id).await;
    let reconnect = format!("{one}/reconnect");
    let r = app.post(&reconnect, &ada.access, json!({})).await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "credentials");
    let r = app
        .post(
            &reconnect,
            &ada.access,
            json!({"credentials": {"token": key}}),
        )
        .await;
    assert_eq!(r.field(), "credentials");
    let r = app
        .post(
            &reconnect,
            &ada.access,
            json!({"credentials": {"api_key": key}, "redirect_after": "https://example.com/"}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "redirect_after");
    app.post(
        &reconnect,
        &ada.access,
        json!({"credentials": {"api_key": key}, "extra": 1}),
    )
    .await
    .error(400, "invalid_request");
    app.post(
        "/v1/connections/con_nope/reconnect",
        &ada.access,
        json!({"credentials": {"api_key": key}}),
    )
    .await
    .error(404, "not_found");
    assert_eq!(
        app.stored_credentials(&id).await["api_key"],
        "sk_test_wrong"
    );

    let r = app
        .post(
            &reconnect,
            &ada.access,
            json!({"credentials": {"api_key": key}}),
        )
        .await;
    let body = r.ok(200);
    assert_eq!(body["connection"]["status"], "active", "{body}");
    assert_eq!(body["waiting_jobs"], 1, "{body}");
    assert_eq!(body["resumed_jobs"], 0, "{body}");
    assert!(!body.to_string().contains(&key));
    assert_eq!(app.stored_credentials(&id).await, json!({"api_key": key}));
    let job = entities::job::Entity::find_by_id(job_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        job.status,
        JobStatus::NeedsReauth,
        "still waiting for a signal"
    );
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    assert_eq!(tested.ok(200), &json!({"ok": true}));

    // The key is rolled on the platform: the test says so.
    app.sandbox.stripe().revoke_key();
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    assert_eq!(tested.ok(200)["error"]["code"], "unauthorized");
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", ada.id),
            "connection.reconnected",
            &id
        )
        .await
    );
    app.shutdown().await;
}

#[tokio::test]
async fn oauth_authorizes_at_the_platform_stores_tokens_that_work_and_refresh() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    app.sandbox.oauth().set_policy(
        "keap",
        sandbox::oauth::TokenPolicy {
            access_ttl_secs: 3600,
            rotate_refresh_tokens: true,
        },
    );
    let start = format!("/v1/accounts/{}/connections/oauth/start", ada.account_id);
    let started = app
        .post(
            &start,
            &ada.access,
            json!({"platform": "keap", "name": "Keap", "config": {"base_url": app.sandbox_url()}}),
        )
        .await;
    let started = started.ok(201).clone();
    let authorize_url = started["authorize_url"].as_str().unwrap();
    assert!(
        authorize_url.starts_with(&format!("{}/oauth/keap/authorize?", app.sandbox_url())),
        "{authorize_url}"
    );
    assert_eq!(
        query_param(authorize_url, "state").as_deref(),
        started["state"].as_str()
    );
    assert_eq!(
        query_param(authorize_url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(
        query_param(authorize_url, "redirect_uri"),
        Some(format!("{}/v1/oauth/callback", app.base))
    );
    assert_eq!(query_param(authorize_url, "scope").as_deref(), Some("full"));
    let row = oauth_state::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(
        row.state_hash,
        started["state"].as_str().unwrap(),
        "only a hash is stored"
    );
    assert_eq!(row.actor, format!("user:{}", ada.id));

    // The platform sends the browser back with a code and the state.
    let callback = app.authorize_at_platform(authorize_url).await;
    assert!(
        callback.starts_with(&format!("{}/v1/oauth/callback?", app.base)),
        "{callback}"
    );
    let connected = app.callback(&callback).await;
    let connected = connected.ok(200).clone();
    let conn = &connected["connection"];
    let id = conn["id"].as_str().unwrap().to_owned();
    assert_eq!(conn["platform"], "keap");
    assert_eq!(conn["name"], "Keap");
    assert_eq!(conn["auth"], "oauth2");
    assert_eq!(conn["status"], "active");
    assert_eq!(conn["config"]["base_url"], app.sandbox_url().as_str());
    assert!(
        conn["config"]["oauth_app"].get("client_secret").is_none(),
        "the app's secret is not shown: {conn}"
    );
    assert_eq!(
        conn["config"]["oauth_app"]["client_id"],
        sandbox::oauth::CLIENT_ID
    );
    let issued: TokenSet = serde_json::from_value(app.stored_credentials(&id).await).unwrap();
    assert!(
        app.sandbox
            .oauth()
            .check("keap", &issued.access_token)
            .is_ok()
    );
    assert!(issued.refresh_token.is_some() && issued.expires_at.is_some());
    assert!(!connected.to_string().contains(&issued.access_token));
    assert_eq!(
        oauth_state::Entity::find().count(&app.db).await.unwrap(),
        0,
        "used up"
    );

    // The same callback again: the state is spent.
    app.callback(&callback)
        .await
        .error(400, "invalid_oauth_state");
    assert_eq!(app.connection_count().await, 1);

    // The tokens work, and once expired they are refreshed and the rotated ones stored.
    let test = format!("/v1/connections/{id}/test");
    assert_eq!(
        app.post(&test, &ada.access, json!({})).await.ok(200),
        &json!({"ok": true})
    );
    assert_eq!(app.sandbox.oauth().refresh_count(), 0);
    app.sandbox.oauth().advance(2 * 3600);
    let mut stale = app.stored_credentials(&id).await;
    stale["expires_at"] = json!(0);
    let sealed = app.master.seal_string(&stale.to_string()).unwrap();
    repo::replace_connection_credentials(&app.db, &id, sealed)
        .await
        .unwrap();
    assert_eq!(
        app.post(&test, &ada.access, json!({})).await.ok(200),
        &json!({"ok": true})
    );
    assert_eq!(app.sandbox.oauth().refresh_count(), 1);
    let refreshed: TokenSet = serde_json::from_value(app.stored_credentials(&id).await).unwrap();
    assert_ne!(
        refreshed.refresh_token, issued.refresh_token,
        "the rotated token is stored"
    );
    assert!(
        app.sandbox
            .oauth()
            .check("keap", &refreshed.access_token)
            .is_ok()
    );
    assert_eq!(
        app.post(&test, &ada.access, json!({})).await.ok(200),
        &json!({"ok": true})
    );
    assert_eq!(app.sandbox.oauth().refresh_count(), 1, "no second refresh");

    // With `redirect_after`, the browser goes on there.
    let started = app
        .post(
            &start,
            &ada.access,
            json!({"platform": "keap", "name": "Keap 2", "config": {"base_url": app.sandbox_url()}, "redirect_after": "https://app.example.com/done?tab=1"}),
        )
        .await;
    let url = started.ok(201)["authorize_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let callback = app.authorize_at_platform(&url).await;
    let r = app.callback(&callback).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://app.example.com/done?tab=1&connection_id="),
        "{location}"
    );

    // Errors at the start name their field, and store nothing.
    let states = oauth_state::Entity::find().count(&app.db).await.unwrap();
    let bad = [
        (json!({"platform": "stripe", "name": "x"}), "platform"),
        (json!({"platform": "myspace", "name": "x"}), "platform"),
        (json!({"platform": "keap", "name": ""}), "name"),
        (
            json!({"platform": "keap", "name": "x", "config": {"page_size": 0}}),
            "config",
        ),
        (
            json!({"platform": "keap", "name": "x", "config": {"oauth_app": {"client_id": "mine"}}}),
            "config.oauth_app",
        ),
        (
            json!({"platform": "keap", "name": "x", "redirect_after": "javascript:alert(1)"}),
            "redirect_after",
        ),
        (
            json!({"platform": "keap", "name": "x", "redirect_after": "/relative"}),
            "redirect_after",
        ),
    ];
    for (body, field) in bad {
        let r = app.post(&start, &ada.access, body.clone()).await;
        r.error(422, "invalid_field");
        assert_eq!(r.field(), field, "{body}: {}", r.body);
    }
    let dup = app
        .post(
            &start,
            &ada.access,
            json!({"platform": "keap", "name": "Keap"}),
        )
        .await;
    dup.error(409, "duplicate_name");
    app.post(&start, &ada.access, json!({"platform": "keap"}))
        .await
        .error(400, "invalid_request");
    assert_eq!(
        oauth_state::Entity::find().count(&app.db).await.unwrap(),
        states
    );

    let mine: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .filter(|(_, action, _)| action.starts_with("oauth.") || action == "connection.created")
        .map(|(_, action, _)| action)
        .collect();
    assert_eq!(
        mine,
        [
            "oauth.started",
            "connection.created",
            "oauth.started",
            "connection.created"
        ]
    );
    app.shutdown().await;
}

#[tokio::test]
async fn expired_replayed_refused_and_unknown_authorizations_store_nothing() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;

    // Expired: ten minutes passed between start and callback.
    let callback = app.keap_authorized(&ada, "Keap").await;
    let mut row = oauth_state::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    row.update(&app.db).await.unwrap();
    let r = app.callback(&callback).await;
    r.error(400, "invalid_oauth_state");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    app.callback(&callback)
        .await
        .error(400, "invalid_oauth_state");

    // Refused by the user at the platform: the state is used up all the same.
    let callback = app.keap_authorized(&ada, "Keap").await;
    let state = query_param(&callback, "state").unwrap();
    let denied = app
        .call(
            "GET",
            &format!("/v1/oauth/callback?error=access_denied&error_description=nope&state={state}"),
            None,
            None,
        )
        .await;
    denied.error(400, "oauth_denied");
    assert_eq!(denied.body["error"]["details"]["error"], "access_denied");
    app.callback(&callback)
        .await
        .error(400, "invalid_oauth_state");

    // A code the platform does not know.
    let callback = app.keap_authorized(&ada, "Keap").await;
    let state = query_param(&callback, "state").unwrap();
    app.call(
        "GET",
        &format!("/v1/oauth/callback?code=forged&state={state}"),
        None,
        None,
    )
    .await
    .error(400, "oauth_exchange_failed");
    app.callback(&callback)
        .await
        .error(400, "invalid_oauth_state");

    // Unknown or missing state, missing code.
    app.call("GET", "/v1/oauth/callback?code=c&state=guessed", None, None)
        .await
        .error(400, "invalid_oauth_state");
    let r = app
        .call("GET", "/v1/oauth/callback?code=c", None, None)
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "state");
    let callback = app.keap_authorized(&ada, "Keap").await;
    let state = query_param(&callback, "state").unwrap();
    let r = app
        .call(
            "GET",
            &format!("/v1/oauth/callback?state={state}"),
            None,
            None,
        )
        .await;
    r.error(400, "invalid_request");
    assert_eq!(r.field(), "code");

    assert_eq!(app.connection_count().await, 0, "nothing was stored");
    // Authorizations nobody completes are removed by later starts once expired.
    let mut rows = oauth_state::Entity::find().all(&app.db).await.unwrap();
    assert_eq!(rows.len(), 0, "every state above was used up");
    let _ = app.keap_authorized(&ada, "Keap").await;
    rows = oauth_state::Entity::find().all(&app.db).await.unwrap();
    let mut row = rows.remove(0).into_active_model();
    row.expires_at = Set(chrono::Utc::now() - chrono::Duration::seconds(1));
    row.update(&app.db).await.unwrap();
    let _ = app.keap_authorized(&ada, "Keap").await;
    assert_eq!(oauth_state::Entity::find().count(&app.db).await.unwrap(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn reconnecting_an_oauth_connection_replaces_its_tokens_and_resumes_waiting_runs() {
    let app = App::spawn().await;
    let ada = app.register("ada@example.com").await;
    let callback = app.keap_authorized(&ada, "Keap").await;
    let connected = app.callback(&callback).await;
    let id = connected.ok(200)["connection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = format!("/v1/connections/{id}");
    let before: TokenSet = serde_json::from_value(app.stored_credentials(&id).await).unwrap();

    // The user disconnects the app at the platform.
    app.sandbox.oauth().revoke_all("keap");
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    let tested = tested.ok(200).clone();
    assert_eq!(tested["ok"], false);
    assert_eq!(tested["error"]["code"], "unauthorized", "{tested}");
    assert!(
        tested["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reconnect"),
        "{tested}"
    );
    assert_eq!(
        app.get(&one, &ada.access).await.ok(200)["status"],
        "needs_reauth"
    );
    let job_id = app.job_waiting_for(&id).await;

    let reconnect = format!("{one}/reconnect");
    let r = app
        .post(
            &reconnect,
            &ada.access,
            json!({"credentials": {"access_token": "x"}}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "credentials");
    let r = app
        .post(
            &reconnect,
            &ada.access,
            json!({"redirect_after": "ftp://x"}),
        )
        .await;
    assert_eq!(r.field(), "redirect_after");
    let r = app.post(&reconnect, &ada.access, json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let url = r.body["authorize_url"].as_str().unwrap().to_owned();
    let callback = app.authorize_at_platform(&url).await;
    let done = app.callback(&callback).await;
    let done = done.ok(200).clone();
    assert_eq!(done["connection"]["id"], id.as_str());
    assert_eq!(done["connection"]["status"], "active");
    assert_eq!(done["waiting_jobs"], 1, "{done}");
    assert_eq!(
        done["resumed_jobs"], 0,
        "no workflow service in these tests: {done}"
    );
    assert_eq!(
        app.connection_count().await,
        1,
        "the same connection, renewed"
    );
    let after: TokenSet = serde_json::from_value(app.stored_credentials(&id).await).unwrap();
    assert_ne!(after.access_token, before.access_token);
    assert!(
        app.sandbox
            .oauth()
            .check("keap", &after.access_token)
            .is_ok()
    );
    let tested = app
        .post(&format!("{one}/test"), &ada.access, json!({}))
        .await;
    assert_eq!(tested.ok(200), &json!({"ok": true}));
    let job = entities::job::Entity::find_by_id(job_id.as_str())
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.status, JobStatus::NeedsReauth);

    let actions: Vec<String> = app
        .activity(&ada.account_id)
        .await
        .into_iter()
        .filter(|(_, _, target)| *target == id)
        .map(|(_, action, _)| action)
        .collect();
    assert_eq!(
        actions,
        [
            "connection.created",
            "connection.tested",
            "oauth.started",
            "connection.reconnected",
            "connection.tested"
        ]
    );

    // A connection deleted while its reconnection was under way is not brought back.
    let r = app.post(&reconnect, &ada.access, json!({})).await;
    let url = r.body["authorize_url"].as_str().unwrap().to_owned();
    let callback = app.authorize_at_platform(&url).await;
    entities::job::Entity::delete_many()
        .exec(&app.db)
        .await
        .unwrap();
    entities::source::Entity::delete_many()
        .exec(&app.db)
        .await
        .unwrap();
    assert_eq!(app.delete(&one, &ada.access).await.status, 204);
    app.callback(&callback).await.error(404, "not_found");
    assert_eq!(app.connection_count().await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn connections_and_oauth_work_on_sqlite() {
    let app = App::spawn_on_sqlite().await;
    let ada = app.register("ada@example.com").await;
    let key = app.sandbox.stripe().api_key().to_owned();
    app.stripe_connection(&ada, "Stripe", &key).await;
    let dup = app
        .post(
            &format!("/v1/accounts/{}/connections", ada.account_id),
            &ada.access,
            json!({"platform": "stripe", "name": "Stripe", "credentials": {"api_key": key}}),
        )
        .await;
    dup.error(409, "duplicate_name");
    let callback = app.keap_authorized(&ada, "Keap").await;
    let id = app.callback(&callback).await.ok(200)["connection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.callback(&callback)
        .await
        .error(400, "invalid_oauth_state");
    let tested = app
        .post(
            &format!("/v1/connections/{id}/test"),
            &ada.access,
            json!({}),
        )
        .await;
    assert_eq!(tested.ok(200), &json!({"ok": true}));
    app.shutdown().await;
}
