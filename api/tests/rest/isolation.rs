//! Tenant isolation and roles, verb by verb: another tenant's objects and a parent's objects are
//! a 404 with no data; a viewer changes nothing; an operator manages neither members nor keys
//! nor webhooks (which only an admin may read).

use crate::harness::*;
use entities::{
    JobKind, activity_log, api_key, client_grant, connection, invitation, job, membership,
    oauth_state, repo, schedule,
    sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, QueryOrder, Set},
    source, source_group, source_group_member, team, team_grant, team_member, webhook,
    webhook_delivery,
};
use serde_json::{Value, json};

/// Every operation on an account's own resources: `(method, path, body)`.
fn account_calls(
    account: &str,
    member: &str,
    key: &str,
) -> Vec<(&'static str, String, Option<Value>)> {
    let a = format!("/v1/accounts/{account}");
    vec![
        ("GET", a.clone(), None),
        ("PATCH", a.clone(), Some(json!({"name": "taken over"}))),
        ("DELETE", a.clone(), None),
        ("GET", format!("{a}/tree"), None),
        (
            "POST",
            format!("{a}/sub-accounts"),
            Some(json!({"name": "foothold"})),
        ),
        ("GET", format!("{a}/members"), None),
        (
            "POST",
            format!("{a}/members"),
            Some(json!({"email": "mallory@example.com", "role": "owner"})),
        ),
        (
            "PATCH",
            format!("{a}/members/{member}"),
            Some(json!({"role": "viewer"})),
        ),
        ("DELETE", format!("{a}/members/{member}"), None),
        ("GET", format!("{a}/api-keys"), None),
        ("GET", format!("{a}/invitations"), None),
        ("GET", format!("{a}/teams"), None),
        ("GET", format!("{a}/branding"), None),
        (
            "PUT",
            format!("{a}/branding"),
            Some(json!({"display_name": "taken over"})),
        ),
        (
            "PUT",
            format!("{a}/branding/domain"),
            Some(json!({"domain": "mallory.example.com"})),
        ),
        ("POST", format!("{a}/branding/domain/verify"), None),
        ("DELETE", format!("{a}/branding/domain"), None),
        ("GET", format!("{a}/analytics"), None),
        ("GET", format!("{a}/reports/backups.csv"), None),
        (
            "POST",
            format!("{a}/teams"),
            Some(json!({"name": "foothold"})),
        ),
        (
            "POST",
            format!("{a}/invitations"),
            Some(json!({"email": "mallory@example.com", "role": "owner"})),
        ),
        ("DELETE", format!("{a}/invitations/{key}"), None),
        ("GET", format!("{a}/client-grants"), None),
        (
            "POST",
            format!("{a}/client-grants"),
            Some(json!({"email": "mallory@example.com", "access": "restore", "source_ids": [key]})),
        ),
        ("GET", format!("{a}/client-grants/{key}"), None),
        ("DELETE", format!("{a}/client-grants/{key}"), None),
        (
            "POST",
            format!("{a}/api-keys"),
            Some(json!({"name": "backdoor", "role": "owner"})),
        ),
        ("DELETE", format!("{a}/api-keys/{key}"), None),
        ("GET", format!("{a}/jobs"), None),
        ("GET", format!("{a}/jobs?include_sub_accounts=true"), None),
        ("GET", format!("{a}/activity"), None),
        ("GET", format!("{a}/sources"), None),
        (
            "POST",
            format!("{a}/sources"),
            Some(json!({"connection_id": "con_x", "name": "foothold"})),
        ),
        ("GET", format!("{a}/source-groups"), None),
        (
            "POST",
            format!("{a}/source-groups"),
            Some(json!({"name": "foothold"})),
        ),
        ("GET", format!("{a}/connections"), None),
        (
            "POST",
            format!("{a}/connections"),
            Some(
                json!({"platform": "stripe", "name": "planted", "credentials": {"api_key": "sk_x"}}),
            ),
        ),
        (
            "POST",
            format!("{a}/connections/oauth/start"),
            Some(json!({"platform": "keap", "name": "planted"})),
        ),
        ("GET", format!("{a}/webhooks"), None),
        (
            "POST",
            format!("{a}/webhooks"),
            Some(json!({"url": "https://mallory.example.com/", "events": ["job.failed"]})),
        ),
    ]
}

/// Operations on a webhook, addressed by its own id: all an admin's, reading included.
fn webhook_calls(webhook: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let w = format!("/v1/webhooks/{webhook}");
    vec![
        ("GET", w.clone(), None),
        (
            "PATCH",
            w.clone(),
            Some(json!({"url": "https://mallory.example.com/"})),
        ),
        ("DELETE", w.clone(), None),
        ("GET", format!("{w}/deliveries"), None),
        ("POST", format!("{w}/test"), None),
        ("POST", format!("{w}/rotate-secret"), None),
    ]
}

/// Operations on a connection, addressed by its own id.
fn connection_calls(connection: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let c = format!("/v1/connections/{connection}");
    vec![
        ("GET", c.clone(), None),
        ("PATCH", c.clone(), Some(json!({"name": "taken over"}))),
        ("DELETE", c.clone(), None),
        ("POST", format!("{c}/test"), None),
        (
            "POST",
            format!("{c}/reconnect"),
            Some(json!({"credentials": {"api_key": "sk_mallory"}})),
        ),
    ]
}

/// Operations on a job, a source, a schedule and a snapshot, addressed by their own ids.
fn object_calls(
    job: &str,
    source: &str,
    schedule: &str,
    snapshot: &str,
) -> Vec<(&'static str, String, Option<Value>)> {
    let s = format!("/v1/schedules/{schedule}");
    let mut calls = vec![
        ("GET", format!("/v1/sources/{source}/jobs"), None),
        ("GET", format!("/v1/sources/{source}/schedules"), None),
        (
            "POST",
            format!("/v1/sources/{source}/schedules"),
            Some(json!({"cron": "0 2 * * *"})),
        ),
        ("GET", s.clone(), None),
        ("PATCH", s.clone(), Some(json!({"cron": "0 3 * * *"}))),
        ("POST", format!("{s}/pause"), None),
        ("POST", format!("{s}/resume"), None),
        ("POST", format!("{s}/trigger"), None),
        ("DELETE", s, None),
        ("GET", format!("/v1/jobs/{job}"), None),
        ("GET", format!("/v1/jobs/{job}/events"), None),
        (
            "GET",
            format!("/v1/sources/{source}/analytics/streams"),
            None,
        ),
        ("POST", format!("/v1/jobs/{job}/cancel"), None),
        ("POST", format!("/v1/jobs/{job}/retry"), Some(json!({}))),
        (
            "POST",
            format!("/v1/sources/{source}/backups"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/v1/sources/{source}/syncs"),
            Some(json!({})),
        ),
        ("GET", format!("/v1/sources/{source}"), None),
        (
            "PATCH",
            format!("/v1/sources/{source}"),
            Some(json!({"name": "taken over"})),
        ),
        ("DELETE", format!("/v1/sources/{source}"), None),
        ("POST", format!("/v1/sources/{source}/test"), None),
    ];
    let file = "ab".repeat(32);
    for path in crate::snapshots::snapshot_paths(snapshot, source, &file) {
        calls.push(("GET", path, None));
    }
    calls
}

/// Operations on a source group, addressed by its id; `source` is a source of the same account.
fn group_calls(group: &str, source: &str) -> Vec<(&'static str, String, Option<Value>)> {
    let g = format!("/v1/source-groups/{group}");
    vec![
        ("GET", g.clone(), None),
        ("PATCH", g.clone(), Some(json!({"name": "taken over"}))),
        ("DELETE", g.clone(), None),
        ("GET", format!("{g}/sources"), None),
        (
            "POST",
            format!("{g}/sources"),
            Some(json!({"source_id": source})),
        ),
        ("DELETE", format!("{g}/sources/{source}"), None),
        ("POST", format!("{g}/backups"), None),
        ("POST", format!("{g}/syncs"), None),
    ]
}

/// Operations on a team, addressed by its id; `account` is an account of the same tenant and
/// `member` a user.
fn team_calls(
    team: &str,
    account: &str,
    member: &str,
) -> Vec<(&'static str, String, Option<Value>)> {
    let t = format!("/v1/teams/{team}");
    vec![
        ("GET", t.clone(), None),
        ("PATCH", t.clone(), Some(json!({"name": "taken over"}))),
        ("DELETE", t.clone(), None),
        (
            "POST",
            format!("{t}/members"),
            Some(json!({"email": "mallory@example.com", "team_role": "maintainer"})),
        ),
        (
            "PATCH",
            format!("{t}/members/{member}"),
            Some(json!({"team_role": "member"})),
        ),
        ("DELETE", format!("{t}/members/{member}"), None),
        (
            "PUT",
            format!("{t}/grants/{account}"),
            Some(json!({"role": "owner"})),
        ),
        ("DELETE", format!("{t}/grants/{account}"), None),
    ]
}

/// A tenant: an owner, a sub-account, a key, a source with a failed job.
struct Tenant {
    team: String,
    owner: User,
    sub: String,
    key_id: String,
    key: String,
    source: String,
    job: String,
    group: String,
    connection: String,
    schedule: String,
    snapshot: String,
    webhook: String,
}

async fn tenant(app: &App, email: &str) -> Tenant {
    let owner = app.register(email).await;
    let sub = app
        .sub_account(&owner.access, &owner.account_id, "Sub")
        .await;
    let (key_id, key) = app
        .api_key(&owner.access, &owner.account_id, "owner key", "owner")
        .await;
    let conn = repo::create_connection(
        &app.db,
        &owner.account_id,
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
    let schedule = crate::schedules::stored_schedule(app, &source).await.id;
    let job = repo::create_job(&app.db, &source, JobKind::Backup)
        .await
        .unwrap();
    repo::finish_job(
        &app.db,
        &job.id,
        entities::JobStatus::Failed,
        Some("test".into()),
    )
    .await
    .unwrap();
    let group = app
        .post(
            &format!("/v1/accounts/{}/source-groups", owner.account_id),
            &owner.access,
            json!({"name": "all"}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/source-groups/{group}/sources"),
        &owner.access,
        json!({"source_id": source.id}),
    )
    .await
    .ok(204);
    let webhook = app
        .post(
            &format!("/v1/accounts/{}/webhooks", owner.account_id),
            &owner.access,
            json!({"url": "https://hooks.example.com/", "events": ["job.failed"]}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let team = app
        .post(
            &format!("/v1/accounts/{}/teams", owner.account_id),
            &owner.access,
            json!({"name": "ops"}),
        )
        .await
        .ok(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/teams/{team}/members"),
        &owner.access,
        json!({"email": owner.email, "team_role": "maintainer"}),
    )
    .await
    .ok(201);
    app.call(
        "PUT",
        &format!("/v1/teams/{team}/grants/{sub}"),
        Some(&owner.access),
        Some(json!({"role": "viewer"})),
    )
    .await
    .ok(200);
    // The snapshot the job wrote, complete (its objects are never reached: access comes first).
    entities::snapshot::ActiveModel {
        id: Set(job.snapshot_id.clone()),
        account_id: Set(job.account_id.clone()),
        source_id: Set(source.id.clone()),
        job_id: Set(job.id.clone()),
        kind: Set(JobKind::Backup),
        status: Set(entities::SnapshotStatus::Complete),
        parent_snapshot_id: Set(None),
        manifest_key: Set(Some("accounts/x/manifest.json".into())),
        records: Set(0),
        raw_bytes: Set(0),
        stored_bytes: Set(0),
        created_at: Set(chrono::Utc::now()),
        completed_at: Set(Some(chrono::Utc::now())),
    }
    .insert(&app.db)
    .await
    .unwrap();
    Tenant {
        team,
        owner,
        sub,
        key_id,
        key,
        source: source.id,
        job: job.id,
        group,
        connection: conn.id,
        schedule,
        snapshot: job.snapshot_id,
        webhook,
    }
}

/// Counts that any successful change would move, and every source's and group's state.
async fn fingerprint(app: &App) -> (Vec<u64>, Vec<String>) {
    let counts = vec![
        entities::account::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        membership::Entity::find().count(&app.db).await.unwrap(),
        api_key::Entity::find().count(&app.db).await.unwrap(),
        job::Entity::find().count(&app.db).await.unwrap(),
        activity_log::Entity::find().count(&app.db).await.unwrap(),
        source_group_member::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        oauth_state::Entity::find().count(&app.db).await.unwrap(),
        invitation::Entity::find().count(&app.db).await.unwrap(),
        team::Entity::find().count(&app.db).await.unwrap(),
        entities::account_branding::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
        team_member::Entity::find().count(&app.db).await.unwrap(),
        team_grant::Entity::find().count(&app.db).await.unwrap(),
        client_grant::Entity::find().count(&app.db).await.unwrap(),
        webhook_delivery::Entity::find()
            .count(&app.db)
            .await
            .unwrap(),
    ];
    let mut state: Vec<String> = source::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| format!("{} {} {} {}", s.id, s.name, s.streams, s.updated_at))
        .collect();
    state.extend(
        source_group::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|g| format!("{} {} {}", g.id, g.name, g.updated_at)),
    );
    state.extend(
        connection::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| format!("{c:?}")),
    );
    state.extend(
        webhook::Entity::find()
            .order_by_asc(webhook::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|w| format!("{w:?}")),
    );
    state.extend(
        schedule::Entity::find()
            .order_by_asc(schedule::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| format!("{s:?}")),
    );
    (counts, state)
}

#[tokio::test]
async fn nobody_reaches_another_tenant_or_up_to_a_parent() {
    let app = App::spawn_with(App::generous).await;
    let a = tenant(&app, "ada@example.com").await;
    let b = tenant(&app, "bea@example.com").await;
    app.register("mallory@example.com").await;

    // Credentials of A's sub-account only: a user who owns it, and an owner key of it.
    let sub_owner = app
        .member(&a.owner, &a.sub, "sid@example.com", "owner")
        .await;
    let (_, sub_key) = app
        .api_key(&a.owner.access, &a.sub, "sub key", "owner")
        .await;
    let before = fingerprint(&app).await;

    let attackers: [(&str, &str); 4] = [
        ("A's sub-account owner", &sub_owner.access),
        ("A's sub-account key", &sub_key),
        ("A's owner", &a.owner.access),
        ("A's owner key", &a.key),
    ];
    for (who, token) in attackers {
        let mut calls = account_calls(&b.owner.account_id, &b.owner.id, &b.key_id);
        calls.extend(account_calls(&b.sub, &b.owner.id, &b.key_id));
        calls.extend(object_calls(&b.job, &b.source, &b.schedule, &b.snapshot));
        calls.extend(group_calls(&b.group, &b.source));
        calls.extend(connection_calls(&b.connection));
        calls.extend(webhook_calls(&b.webhook));
        calls.extend(team_calls(&b.team, &b.sub, &b.owner.id));
        // Another tenant's member and key, addressed through an account the caller does reach.
        let own = &a.sub;
        calls.push((
            "PATCH",
            format!("/v1/accounts/{own}/members/{}", b.owner.id),
            Some(json!({"role": "viewer"})),
        ));
        calls.push((
            "DELETE",
            format!("/v1/accounts/{own}/members/{}", b.owner.id),
            None,
        ));
        calls.push((
            "DELETE",
            format!("/v1/accounts/{own}/api-keys/{}", b.key_id),
            None,
        ));
        if who.starts_with("A's sub-account") {
            // Up the tree: the parent's own objects.
            calls.extend(account_calls(&a.owner.account_id, &a.owner.id, &a.key_id));
            calls.extend(object_calls(&a.job, &a.source, &a.schedule, &a.snapshot));
            calls.extend(group_calls(&a.group, &a.source));
            calls.extend(connection_calls(&a.connection));
            calls.extend(webhook_calls(&a.webhook));
            calls.extend(team_calls(&a.team, &a.sub, &a.owner.id));
        }
        // B's source put in a group the caller reaches: not a source of that account.
        if who == "A's owner" || who == "A's owner key" {
            let r = app
                .post(
                    &format!("/v1/source-groups/{}/sources", a.group),
                    token,
                    json!({"source_id": b.source}),
                )
                .await;
            r.error(422, "invalid_field");
            assert_eq!(r.field(), "source_id");
        }
        for (method, path, body) in calls {
            let r = app.call(method, &path, Some(token), body).await;
            assert_eq!(r.status, 404, "{who}: {method} {path}: {}", r.body);
            r.error(404, "not_found");
        }
        let listed = app.get("/v1/accounts", token).await;
        let ids: Vec<&str> = listed.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["id"].as_str().unwrap())
            .collect();
        assert!(
            !ids.contains(&b.owner.account_id.as_str()) && !ids.contains(&b.sub.as_str()),
            "{who}: {ids:?}"
        );
        if who.starts_with("A's sub-account") {
            assert!(ids.contains(&a.sub.as_str()), "{who}: {ids:?}");
            assert!(
                !ids.contains(&a.owner.account_id.as_str()),
                "{who}: {ids:?}"
            );
        }
    }
    assert_eq!(fingerprint(&app).await, before, "nothing changed");

    // Without credentials, everything is a 401.
    for (method, path, body) in account_calls(&a.owner.account_id, &a.owner.id, &a.key_id) {
        app.call(method, &path, None, body)
            .await
            .error(401, "unauthorized");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_viewer_changes_nothing_and_an_operator_manages_neither_members_nor_keys() {
    let app = App::spawn_with(App::generous).await;
    let a = tenant(&app, "ada@example.com").await;
    let viewer = app
        .member(&a.owner, &a.owner.account_id, "vic@example.com", "viewer")
        .await;
    let operator = app
        .member(
            &a.owner,
            &a.owner.account_id,
            "otto@example.com",
            "operator",
        )
        .await;
    let (_, viewer_key) = app
        .api_key(&a.owner.access, &a.owner.account_id, "viewer key", "viewer")
        .await;
    let (_, operator_key) = app
        .api_key(
            &a.owner.access,
            &a.owner.account_id,
            "operator key",
            "operator",
        )
        .await;
    let before = fingerprint(&app).await;

    let change = |account: &str| {
        account_calls(account, &a.owner.id, &a.key_id)
            .into_iter()
            .filter(|(method, path, _)| {
                *method != "GET"
                    || path.ends_with("/api-keys")
                    || path.ends_with("/invitations")
                    || path.ends_with("/client-grants")
                    || path.ends_with("/activity")
                    || path.ends_with("/webhooks")
            })
            .collect::<Vec<_>>()
    };
    let mut viewer_calls = change(&a.owner.account_id);
    viewer_calls.extend(change(&a.sub)); // inherited, with the same role
    viewer_calls.extend(
        object_calls(&a.job, &a.source, &a.schedule, &a.snapshot)
            .into_iter()
            .chain(group_calls(&a.group, &a.source))
            .filter(|(m, _, _)| *m != "GET"),
    );
    viewer_calls.extend(
        connection_calls(&a.connection)
            .into_iter()
            .filter(|(m, _, _)| *m != "GET"),
    );
    viewer_calls.extend(webhook_calls(&a.webhook));
    viewer_calls.extend(
        team_calls(&a.team, &a.sub, &a.owner.id)
            .into_iter()
            .filter(|(m, _, _)| *m != "GET"),
    );
    for (who, token) in [("viewer", &viewer.access), ("viewer key", &viewer_key)] {
        for (method, path, body) in &viewer_calls {
            let r = app.call(method, path, Some(token), body.clone()).await;
            assert_eq!(r.status, 403, "{who}: {method} {path}: {}", r.body);
            r.error(403, "forbidden");
        }
        // Reading is fine.
        for path in [
            format!("/v1/accounts/{}", a.sub),
            format!("/v1/accounts/{}/tree", a.owner.account_id),
            format!("/v1/accounts/{}/members", a.owner.account_id),
            format!("/v1/jobs/{}", a.job),
            format!("/v1/sources/{}", a.source),
            format!("/v1/accounts/{}/sources", a.owner.account_id),
            format!("/v1/accounts/{}/source-groups", a.sub),
            format!("/v1/source-groups/{}", a.group),
            format!("/v1/source-groups/{}/sources", a.group),
            format!("/v1/accounts/{}/connections", a.sub),
            format!("/v1/connections/{}", a.connection),
            format!("/v1/accounts/{}/jobs", a.owner.account_id),
            format!("/v1/sources/{}/jobs", a.source),
            format!("/v1/sources/{}/schedules", a.source),
            format!("/v1/schedules/{}", a.schedule),
            format!("/v1/snapshots/{}", a.snapshot),
            format!("/v1/sources/{}/snapshots", a.source),
        ] {
            app.get(&path, token).await.ok(200);
        }
    }

    for (who, token) in [
        ("operator", &operator.access),
        ("operator key", &operator_key),
    ] {
        let mut calls = change(&a.owner.account_id);
        // Sources and groups are an admin's to change.
        calls.extend(
            object_calls(&a.job, &a.source, &a.schedule, &a.snapshot)
                .into_iter()
                .chain(group_calls(&a.group, &a.source))
                .filter(|(m, _, _)| *m == "PATCH" || *m == "DELETE")
                .chain([(
                    "POST",
                    format!("/v1/source-groups/{}/sources", a.group),
                    Some(json!({"source_id": a.source})),
                )]),
        );
        calls.extend(
            connection_calls(&a.connection)
                .into_iter()
                .filter(|(m, path, _)| *m != "GET" && !path.ends_with("/test")),
        );
        calls.extend(webhook_calls(&a.webhook));
        for (method, path, body) in calls {
            let r = app.call(method, &path, Some(token), body).await;
            assert_eq!(r.status, 403, "{who}: {method} {path}: {}", r.body);
        }
        // Nor schedules: only triggering a run is an operator's.
        for (method, path, body) in object_calls(&a.job, &a.source, &a.schedule, &a.snapshot) {
            if method == "GET"
                || path.contains("/jobs/")
                || path.ends_with("/trigger")
                || path.ends_with("/test")
            {
                continue;
            }
            if path.ends_with("/backups") || path.ends_with("/syncs") {
                continue;
            }
            let r = app.call(method, &path, Some(token), body).await;
            assert_eq!(r.status, 403, "{who}: {method} {path}: {}", r.body);
        }
    }
    assert_eq!(fingerprint(&app).await, before, "nothing changed");

    // An operator may operate: starting a backup passes the role check and reaches the
    // workflow service (which this test runs without, hence 503).
    let r = app
        .post(
            &format!("/v1/sources/{}/backups", a.source),
            &operator.access,
            json!({}),
        )
        .await;
    r.error(503, "unavailable");
    app.shutdown().await;
}

#[tokio::test]
async fn the_portal_reaches_nothing_without_a_grant_not_even_for_the_owner() {
    let app = App::spawn_with(App::generous).await;
    let a = tenant(&app, "ada@example.com").await;
    let b = tenant(&app, "bob@example.com").await;
    // b grants its own source to its team (b's owner is in it); a grants nothing.
    app.post(
        &format!("/v1/accounts/{}/client-grants", b.owner.account_id),
        &b.owner.access,
        json!({"team_id": b.team, "access": "restore", "source_ids": [b.source]}),
    )
    .await
    .ok(201);
    let portal = |t: &Tenant| {
        vec![
            format!("/v1/portal/sources/{}/jobs", t.source),
            format!("/v1/portal/sources/{}/snapshots", t.source),
            format!("/v1/portal/snapshots/{}/streams", t.snapshot),
            format!(
                "/v1/portal/snapshots/{}/streams/customers/records",
                t.snapshot
            ),
            format!(
                "/v1/portal/snapshots/{}/streams/customers/download",
                t.snapshot
            ),
        ]
    };
    let before = fingerprint(&app).await;
    // a's owner reaches nothing through the portal: not a's own sources (roles do not count
    // there), not b's.
    for path in portal(&a).into_iter().chain(portal(&b)) {
        let r = app.get(&path, &a.owner.access).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let listed = app.get("/v1/portal/sources", &a.owner.access).await;
    assert!(listed.ok(200)["items"].as_array().unwrap().is_empty());
    let held = app.get("/v1/portal/grants", &a.owner.access).await;
    assert!(held.ok(200).as_array().unwrap().is_empty());
    // An API key is no person: the portal refuses it outright.
    for path in portal(&a) {
        app.get(&path, &a.key).await.error(403, "user_required");
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "nothing changed, nothing logged"
    );

    // b's owner, through the team, reaches b's source and none of a's.
    for path in portal(&a) {
        let r = app.get(&path, &b.owner.access).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
    }
    let listed = app.get("/v1/portal/sources", &b.owner.access).await;
    let ids: Vec<&str> = listed.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b.source.as_str()]);
    app.get(
        &format!("/v1/portal/sources/{}/jobs", b.source),
        &b.owner.access,
    )
    .await
    .ok(200);
    app.shutdown().await;
}
