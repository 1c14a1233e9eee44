//! Your own settings: profile, time zone, notifications, password change, the accounts you
//! reach, and the second factor (TOTP and recovery codes) with accounts that require it.

use crate::harness::*;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Secret, TOTP};

#[tokio::test]
async fn a_user_changes_their_profile_time_zone_and_notifications() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;

    let me = app.get("/v1/me", &ada.access).await;
    let user = &me.ok(200)["user"];
    assert_eq!(user["time_zone"], "UTC");
    assert_eq!(user["mfa_enabled"], false);
    assert_eq!(
        user["notifications"],
        json!({"job_failed": true, "job_succeeded": false, "backup_overdue": true, "weekly_report": false})
    );

    let r = app
        .patch(
            "/v1/me",
            &ada.access,
            json!({"name": " Ada King ", "time_zone": "Europe/London", "notifications": {"job_succeeded": true}}),
        )
        .await;
    let user = &r.ok(200)["user"];
    assert_eq!(user["name"], "Ada King");
    assert_eq!(user["time_zone"], "Europe/London");
    assert_eq!(user["notifications"]["job_succeeded"], true);
    assert_eq!(user["notifications"]["job_failed"], true, "untouched");

    // Only what is sent changes; it is stored.
    let r = app
        .patch(
            "/v1/me",
            &ada.access,
            json!({"notifications": {"job_failed": false}}),
        )
        .await;
    let user = &r.ok(200)["user"];
    assert_eq!(user["time_zone"], "Europe/London");
    assert_eq!(user["notifications"]["job_succeeded"], true);
    assert_eq!(user["notifications"]["job_failed"], false);
    assert_eq!(app.get("/v1/me", &ada.access).await.ok(200)["user"], *user);

    // Bad input changes nothing.
    let r = app
        .patch("/v1/me", &ada.access, json!({"time_zone": "Mars/Olympus"}))
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "time_zone");
    app.patch("/v1/me", &ada.access, json!({"name": ""}))
        .await
        .error(422, "invalid_field");
    app.patch("/v1/me", &ada.access, json!({"colour": "red"}))
        .await
        .error(400, "invalid_request");
    assert_eq!(app.get("/v1/me", &ada.access).await.ok(200)["user"], *user);

    // An API key has no profile.
    let (_, key) = app
        .api_key(&ada.access, &ada.account_id, "ci", "admin")
        .await;
    app.patch("/v1/me", &key, json!({"name": "key"}))
        .await
        .error(403, "user_required");
    app.get("/v1/me/accounts", &key)
        .await
        .error(403, "user_required");
    app.shutdown().await;
}

#[tokio::test]
async fn changing_the_password_signs_out_every_other_sign_in() {
    let app = App::spawn_with(many_sign_ins).await;
    let ada = app.register("ada@example.com").await;
    let other = app.login(&ada.email, PASSWORD).await;
    let other_access = other.ok(200)["access_token"].as_str().unwrap().to_owned();
    let other_refresh = other.body["refresh_token"].as_str().unwrap().to_owned();

    // A wrong current password or a weak new one changes nothing.
    app.post(
        "/v1/me/password",
        &ada.access,
        json!({"current_password": "not my password", "new_password": "a much longer password"}),
    )
    .await
    .error(403, "wrong_password");
    let r = app
        .post(
            "/v1/me/password",
            &ada.access,
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "new_password");
    app.get("/v1/me", &other_access).await.ok(200);
    app.login(&ada.email, PASSWORD).await.ok(200);

    let new_password = "an entirely new passphrase";
    app.post(
        "/v1/me/password",
        &ada.access,
        json!({"current_password": PASSWORD, "new_password": new_password}),
    )
    .await
    .ok(204);
    // The other sign-in is over; this one goes on.
    app.get("/v1/me", &other_access)
        .await
        .error(401, "unauthorized");
    app.refresh(&other_refresh)
        .await
        .error(401, "invalid_refresh_token");
    app.get("/v1/me", &ada.access).await.ok(200);
    app.refresh(&ada.refresh).await.ok(200);
    app.login(&ada.email, PASSWORD)
        .await
        .error(401, "invalid_credentials");
    app.login(&ada.email, new_password).await.ok(200);
    app.shutdown().await;
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn my_accounts_lists_every_account_reached_and_how() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let sub = app
        .sub_account(&ada.access, &ada.account_id, "Branch")
        .await;
    let bea = app.register("bea@example.com").await;
    let bea_on_ada = app
        .call(
            "POST",
            &format!("/v1/accounts/{}/members", ada.account_id),
            Some(&ada.access),
            Some(json!({"email": bea.email, "role": "viewer"})),
        )
        .await;
    bea_on_ada.ok(201);

    let mine = app.get("/v1/me/accounts", &bea.access).await;
    let items = mine.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{items:?}");
    let find = |id: &str| items.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(find(&bea.account_id)["role"], "owner");
    assert_eq!(find(&bea.account_id)["direct"], true);
    assert_eq!(find(&ada.account_id)["role"], "viewer");
    assert_eq!(find(&ada.account_id)["direct"], true);
    assert_eq!(find(&sub)["role"], "viewer");
    assert_eq!(find(&sub)["direct"], false, "inherited from above");
    assert_eq!(find(&sub)["parent_id"], ada.account_id.as_str());
    assert!(items.iter().all(|a| a["mfa_required"] == false));

    // Paged by id.
    let first = app.get("/v1/me/accounts?limit=2", &bea.access).await;
    let cursor = first.ok(200)["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(
            &format!("/v1/me/accounts?limit=2&cursor={cursor}"),
            &bea.access,
        )
        .await;
    let mut paged = ids(&first.body);
    paged.extend(ids(second.ok(200)));
    let mut all: Vec<String> = items
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    all.sort();
    assert_eq!(paged, all);
    app.get("/v1/me/accounts?limit=0", &bea.access)
        .await
        .error(400, "invalid_request");
    app.shutdown().await;
}

/// Room for the many sign-ins to one email a test makes.
pub fn many_sign_ins(auth: api::AuthSettings) -> api::AuthSettings {
    auth.with_limits(api::SignInLimits {
        per_address: api::Limit::new(10_000, std::time::Duration::from_millis(1)),
        per_email: api::Limit::new(10_000, std::time::Duration::from_millis(1)),
    })
}

/// The authenticator app's view of a secret.
fn authenticator(secret_base32: &str) -> TOTP {
    TOTP::new(
        Algorithm::SHA1,
        6,
        0,
        30,
        Secret::Encoded(secret_base32.to_owned())
            .to_bytes()
            .unwrap(),
        Some("ListBackup".into()),
        "user".into(),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Turns a second factor on for `user`; returns the app's secret and the recovery codes.
async fn enrol(app: &App, user: &User) -> (TOTP, Vec<String>) {
    let r = app
        .post(
            "/v1/me/mfa/totp",
            &user.access,
            json!({"password": user.password}),
        )
        .await;
    let body = r.ok(201);
    let secret = body["secret"].as_str().unwrap();
    assert!(
        body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/ListBackup:"),
        "{body}"
    );
    let app_totp = authenticator(secret);
    let r = app
        .post(
            "/v1/me/mfa/totp/confirm",
            &user.access,
            json!({"code": app_totp.generate(now())}),
        )
        .await;
    let codes: Vec<String> = r.ok(200)["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (app_totp, codes)
}

async fn login_with(app: &App, user: &User, extra: Value) -> Reply {
    let mut body = json!({"email": user.email, "password": user.password});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.call("POST", "/v1/auth/login", None, Some(body)).await
}

#[tokio::test]
async fn a_second_factor_is_set_up_then_needed_to_sign_in_and_each_code_works_once() {
    let app = App::spawn_with(many_sign_ins).await;
    let ada = app.register("ada@example.com").await;

    // Setting up needs the password; confirming needs a code that matches.
    app.post(
        "/v1/me/mfa/totp",
        &ada.access,
        json!({"password": "not my password"}),
    )
    .await
    .error(403, "wrong_password");
    app.post(
        "/v1/me/mfa/totp/confirm",
        &ada.access,
        json!({"code": "123456"}),
    )
    .await
    .error(409, "mfa_not_started");
    let r = app
        .post(
            "/v1/me/mfa/totp",
            &ada.access,
            json!({"password": PASSWORD}),
        )
        .await;
    let wrong = authenticator(r.ok(201)["secret"].as_str().unwrap());
    // A code of another secret is refused, and signing in still needs the password alone.
    let other = authenticator("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
    let code = other.generate(now());
    if code != wrong.generate(now()) {
        app.post(
            "/v1/me/mfa/totp/confirm",
            &ada.access,
            json!({"code": code}),
        )
        .await
        .error(403, "invalid_mfa_code");
    }
    login_with(&app, &ada, json!({})).await.ok(200);

    let (totp, codes) = enrol(&app, &ada).await;
    assert_eq!(codes.len(), 10);
    assert_eq!(
        app.get("/v1/me", &ada.access).await.ok(200)["user"]["mfa_enabled"],
        true
    );
    app.post(
        "/v1/me/mfa/totp",
        &ada.access,
        json!({"password": PASSWORD}),
    )
    .await
    .error(409, "mfa_already_enabled");

    // Signing in now needs the second factor.
    login_with(&app, &ada, json!({}))
        .await
        .error(401, "mfa_required");
    login_with(&app, &ada, json!({"mfa_code": "000000"}))
        .await
        .error(401, "invalid_mfa_code");
    // The code just used to confirm is spent: its time step is taken.
    let used = totp.generate(now());
    let replay = login_with(&app, &ada, json!({"mfa_code": used})).await;
    if replay.status != 200 {
        replay.error(401, "invalid_mfa_code");
    }
    // The next step's code (the app a little ahead) works, once.
    let next = totp.generate(now() + 30);
    login_with(&app, &ada, json!({"mfa_code": next}))
        .await
        .ok(200);
    login_with(&app, &ada, json!({"mfa_code": next}))
        .await
        .error(401, "invalid_mfa_code");
    // A wrong password is refused before any code is looked at.
    app.login(&ada.email, "not my password")
        .await
        .error(401, "invalid_credentials");

    // Recovery codes: each once, however typed.
    let spoken = codes[0].to_uppercase().replace('-', " ");
    login_with(&app, &ada, json!({"recovery_code": spoken}))
        .await
        .ok(200);
    login_with(&app, &ada, json!({"recovery_code": codes[0]}))
        .await
        .error(401, "invalid_mfa_code");
    login_with(&app, &ada, json!({"recovery_code": codes[1]}))
        .await
        .ok(200);

    // A new set replaces the old one; it needs a code.
    app.post("/v1/me/mfa/recovery-codes", &ada.access, json!({}))
        .await
        .error(403, "mfa_required");
    app.post(
        "/v1/me/mfa/recovery-codes",
        &ada.access,
        json!({"mfa_code": "000000"}),
    )
    .await
    .error(403, "invalid_mfa_code");
    let r = app
        .post(
            "/v1/me/mfa/recovery-codes",
            &ada.access,
            json!({"recovery_code": codes[2]}),
        )
        .await;
    let fresh: Vec<String> = r.ok(200)["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    login_with(&app, &ada, json!({"recovery_code": codes[3]}))
        .await
        .error(401, "invalid_mfa_code");
    login_with(&app, &ada, json!({"recovery_code": fresh[0]}))
        .await
        .ok(200);

    // Turning it off needs the password and a code.
    app.post(
        "/v1/me/mfa/disable",
        &ada.access,
        json!({"password": PASSWORD}),
    )
    .await
    .error(403, "mfa_required");
    app.post(
        "/v1/me/mfa/disable",
        &ada.access,
        json!({"password": "not my password", "recovery_code": fresh[1]}),
    )
    .await
    .error(403, "wrong_password");
    assert_eq!(
        app.get("/v1/me", &ada.access).await.ok(200)["user"]["mfa_enabled"],
        true
    );
    app.post(
        "/v1/me/mfa/disable",
        &ada.access,
        json!({"password": PASSWORD, "recovery_code": fresh[1]}),
    )
    .await
    .ok(204);
    login_with(&app, &ada, json!({})).await.ok(200);
    app.post(
        "/v1/me/mfa/disable",
        &ada.access,
        json!({"password": PASSWORD}),
    )
    .await
    .error(409, "mfa_not_enabled");
    app.shutdown().await;
}

#[tokio::test]
async fn an_account_that_requires_a_second_factor_is_out_of_reach_without_one() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let sub = app
        .sub_account(&ada.access, &ada.account_id, "Branch")
        .await;
    let vic = app
        .member(&ada, &ada.account_id, "vic@example.com", "viewer")
        .await;
    let (_, key) = app
        .api_key(&ada.access, &ada.account_id, "ci", "viewer")
        .await;
    let account = format!("/v1/accounts/{}", ada.account_id);

    // Requiring it needs your own second factor first.
    app.patch(&account, &ada.access, json!({"require_mfa": true}))
        .await
        .error(409, "mfa_not_enabled");
    enrol(&app, &ada).await;
    let r = app
        .patch(&account, &ada.access, json!({"require_mfa": true}))
        .await;
    assert_eq!(r.ok(200)["require_mfa"], true);
    assert!(
        app.logged(
            &ada.account_id,
            &format!("user:{}", ada.id),
            "account.updated",
            &ada.account_id
        )
        .await
    );

    // Vic has none: the account and the one below are closed to him (told why).
    for path in [
        account.clone(),
        format!("/v1/accounts/{sub}"),
        format!("{account}/members"),
        format!("/v1/accounts/{sub}/sources"),
    ] {
        let r = app.get(&path, &vic.access).await;
        r.error(404, "not_found");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("second factor"),
            "{path}: {}",
            r.body
        );
    }
    let listed = app.get("/v1/accounts", &vic.access).await;
    let listed = ids(listed.ok(200));
    assert!(
        !listed.contains(&ada.account_id) && !listed.contains(&sub),
        "{listed:?}"
    );
    let mine = app.get("/v1/me/accounts", &vic.access).await;
    let held: Vec<(String, bool)> = mine.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().to_owned(),
                a["mfa_required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(held.contains(&(ada.account_id.clone(), true)), "{held:?}");
    assert!(held.contains(&(sub.clone(), true)), "{held:?}");
    assert!(held.contains(&(vic.account_id.clone(), false)), "{held:?}");
    // His own account is his as before.
    app.get(&format!("/v1/accounts/{}", vic.account_id), &vic.access)
        .await
        .ok(200);
    // API keys are not people: not held back.
    app.get(&account, &key).await.ok(200);

    // Once Vic sets one up, he is back in.
    enrol(&app, &vic).await;
    app.get(&account, &vic.access).await.ok(200);
    app.get(&format!("/v1/accounts/{sub}"), &vic.access)
        .await
        .ok(200);

    // Turned off again: everyone reaches it.
    app.patch(&account, &ada.access, json!({"require_mfa": false}))
        .await
        .ok(200);
    let bea = app
        .member(&ada, &ada.account_id, "bea@example.com", "viewer")
        .await;
    app.get(&account, &bea.access).await.ok(200);
    app.shutdown().await;
}

/// Password and code checks of a signed-in user count against the sign-in limits: a stolen
/// access token cannot guess them at the API's request rate.
#[tokio::test]
async fn guessing_a_signed_in_users_password_or_code_is_throttled() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        let r = app
            .post(
                "/v1/me/mfa/totp",
                &ada.access,
                json!({"password": "a wrong guess"}),
            )
            .await;
        answers.push(r.status);
        if r.status == 429 {
            r.error(429, "rate_limited");
            assert!(r.body["error"]["details"]["retry_after"].as_u64().unwrap() > 0);
        }
    }
    assert_eq!(&answers[..5], [403; 5], "{answers:?}");
    assert!(answers[5..].iter().all(|&s| s == 429), "{answers:?}");
    // The password change is held back as well, even with the right password.
    app.post(
        "/v1/me/password",
        &ada.access,
        json!({"current_password": PASSWORD, "new_password": "another long passphrase"}),
    )
    .await
    .error(429, "rate_limited");
    app.shutdown().await;
}
