//! Teams: members reach what the team is granted, maintainers manage members, grants stay in
//! the team's account tree and up to the granter's role.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn a_team_gives_its_members_the_roles_it_is_granted_and_takes_them_back() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let sub = app
        .sub_account(&ada.access, &ada.account_id, "Branch")
        .await;
    let bea = app.register("bea@example.com").await;
    let cy = app.register("cy@example.com").await;
    let teams = format!("/v1/accounts/{}/teams", ada.account_id);

    let r = app
        .post(&teams, &ada.access, json!({"name": " Ops "}))
        .await;
    let team = r.ok(201).clone();
    assert_eq!(team["name"], "Ops");
    assert_eq!(team["members"], json!([]));
    let t = format!("/v1/teams/{}", team["id"].as_str().unwrap());
    app.post(&teams, &ada.access, json!({"name": "Ops"}))
        .await
        .error(409, "duplicate_name");
    app.post(&teams, &ada.access, json!({"name": ""}))
        .await
        .error(422, "invalid_field");
    app.post(
        &format!("{t}/members"),
        &ada.access,
        json!({"email": "nobody@example.com", "team_role": "member"}),
    )
    .await
    .error(404, "user_not_found");

    // Bea joins the team: nothing yet, until the team is granted a role.
    app.post(
        &format!("{t}/members"),
        &ada.access,
        json!({"email": bea.email, "team_role": "member"}),
    )
    .await
    .ok(201);
    app.post(
        &format!("{t}/members"),
        &ada.access,
        json!({"email": bea.email, "team_role": "member"}),
    )
    .await
    .error(409, "already_member");
    app.get(&format!("/v1/accounts/{sub}"), &bea.access)
        .await
        .error(404, "not_found");

    let grant = |role: &str| json!({"role": role});
    let r = app
        .call(
            "PUT",
            &format!("{t}/grants/{sub}"),
            Some(&ada.access),
            Some(grant("operator")),
        )
        .await;
    assert_eq!(r.ok(200)["grants"][0]["role"], "operator");
    let seen = app.get(&format!("/v1/accounts/{sub}"), &bea.access).await;
    assert_eq!(seen.ok(200)["role"], "operator");
    // Only the account granted and those below it, never above.
    app.get(&format!("/v1/accounts/{}", ada.account_id), &bea.access)
        .await
        .error(404, "not_found");
    let mine = app.get("/v1/me/accounts", &bea.access).await;
    assert!(
        mine.ok(200)["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == sub.as_str() && a["role"] == "operator"),
        "{}",
        mine.body
    );
    // A new grant replaces the role.
    app.call(
        "PUT",
        &format!("{t}/grants/{sub}"),
        Some(&ada.access),
        Some(grant("viewer")),
    )
    .await
    .ok(200);
    let seen = app.get(&format!("/v1/accounts/{sub}"), &bea.access).await;
    assert_eq!(seen.ok(200)["role"], "viewer");

    // Grants stay in the team's tree: another account Ada owns is refused.
    let r = app
        .call(
            "PUT",
            &format!("{t}/grants/{}", cy.account_id),
            Some(&ada.access),
            Some(grant("viewer")),
        )
        .await;
    r.error(404, "not_found");
    let other = app
        .post("/v1/accounts", &ada.access, json!({"name": "Elsewhere"}))
        .await;
    let other = other.ok(201)["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            "PUT",
            &format!("{t}/grants/{other}"),
            Some(&ada.access),
            Some(grant("viewer")),
        )
        .await;
    r.error(422, "invalid_field");
    assert_eq!(r.field(), "account_id");

    // A maintainer manages members, not grants; a plain member manages nothing.
    app.call(
        "PATCH",
        &format!("{t}/members/{}", bea.id),
        Some(&ada.access),
        Some(json!({"team_role": "maintainer"})),
    )
    .await
    .ok(200);
    app.post(
        &format!("{t}/members"),
        &bea.access,
        json!({"email": cy.email, "team_role": "member"}),
    )
    .await
    .ok(201);
    app.call(
        "PUT",
        &format!("{t}/grants/{sub}"),
        Some(&bea.access),
        Some(grant("admin")),
    )
    .await
    .error(403, "forbidden");
    app.post(
        &format!("{t}/members"),
        &cy.access,
        json!({"email": ada.email, "team_role": "member"}),
    )
    .await
    .error(403, "forbidden");
    app.patch(&t, &bea.access, json!({"name": "Mine"}))
        .await
        .error(403, "forbidden");
    let seen = app.get(&format!("/v1/accounts/{sub}"), &cy.access).await;
    assert_eq!(seen.ok(200)["role"], "viewer");

    // An admin grants up to their own role.
    let adam = app
        .member(&ada, &ada.account_id, "adam@example.com", "admin")
        .await;
    app.call(
        "PUT",
        &format!("{t}/grants/{sub}"),
        Some(&adam.access),
        Some(grant("owner")),
    )
    .await
    .error(403, "role_too_high");

    // Nobody hands themselves (or anyone) a role above their own through a team: an admin
    // may not join, fill or delete a team that holds owner.
    let owners = app
        .post(&teams, &ada.access, json!({"name": "Owners"}))
        .await;
    let owners = format!("/v1/teams/{}", owners.ok(201)["id"].as_str().unwrap());
    app.call(
        "PUT",
        &format!("{owners}/grants/{}", ada.account_id),
        Some(&ada.access),
        Some(grant("owner")),
    )
    .await
    .ok(200);
    app.post(
        &format!("{owners}/members"),
        &adam.access,
        json!({"email": adam.email, "team_role": "member"}),
    )
    .await
    .error(403, "role_too_high");
    app.delete(&owners, &adam.access)
        .await
        .error(403, "role_too_high");
    app.get(
        &format!("/v1/accounts/{}/api-keys", ada.account_id),
        &adam.access,
    )
    .await
    .ok(200);
    app.delete(&owners, &ada.access).await.ok(204);

    // Removed from the team: the role is gone at once (same access token).
    app.delete(&format!("{t}/members/{}", cy.id), &bea.access)
        .await
        .ok(204);
    app.get(&format!("/v1/accounts/{sub}"), &cy.access)
        .await
        .error(404, "not_found");
    // The grant revoked: gone for everyone in the team.
    app.delete(&format!("{t}/grants/{sub}"), &ada.access)
        .await
        .ok(204);
    app.get(&format!("/v1/accounts/{sub}"), &bea.access)
        .await
        .error(404, "not_found");
    app.delete(&format!("{t}/grants/{sub}"), &ada.access)
        .await
        .error(404, "not_found");

    // Renamed and deleted; each step in the account's log.
    app.call(
        "PUT",
        &format!("{t}/grants/{}", ada.account_id),
        Some(&ada.access),
        Some(grant("viewer")),
    )
    .await
    .ok(200);
    let r = app
        .patch(&t, &ada.access, json!({"name": "Platform"}))
        .await;
    assert_eq!(r.ok(200)["name"], "Platform");
    let listed = app.get(&teams, &bea.access).await;
    assert_eq!(listed.ok(200)["items"][0]["name"], "Platform");
    app.delete(&t, &ada.access).await.ok(204);
    app.get(&format!("/v1/accounts/{}", ada.account_id), &bea.access)
        .await
        .error(404, "not_found");
    app.get(&t, &ada.access).await.error(404, "not_found");
    let actor = format!("user:{}", ada.id);
    let team_id = team["id"].as_str().unwrap();
    for action in [
        "team.created",
        "team.member_added",
        "team.renamed",
        "team.deleted",
    ] {
        assert!(
            app.logged(&ada.account_id, &actor, action, team_id).await,
            "{action}"
        );
    }
    assert!(app.logged(&sub, &actor, "team.granted", team_id).await);
    assert!(app.logged(&sub, &actor, "team.revoked", team_id).await);
    app.shutdown().await;
}

#[tokio::test]
async fn an_account_with_teams_and_grants_on_it_can_be_deleted() {
    let app = App::spawn_with(App::generous).await;
    let ada = app.register("ada@example.com").await;
    let sub = app
        .sub_account(&ada.access, &ada.account_id, "Branch")
        .await;
    let bea = app.register("bea@example.com").await;
    // A team of the sub-account, and a team of the parent granted a role in it.
    for (account, name) in [(&sub, "local"), (&ada.account_id, "parent")] {
        let team = app
            .post(
                &format!("/v1/accounts/{account}/teams"),
                &ada.access,
                json!({"name": name}),
            )
            .await;
        let t = format!("/v1/teams/{}", team.ok(201)["id"].as_str().unwrap());
        app.post(
            &format!("{t}/members"),
            &ada.access,
            json!({"email": bea.email, "team_role": "member"}),
        )
        .await
        .ok(201);
        app.call(
            "PUT",
            &format!("{t}/grants/{sub}"),
            Some(&ada.access),
            Some(json!({"role": "viewer"})),
        )
        .await
        .ok(200);
    }
    app.get(&format!("/v1/accounts/{sub}"), &bea.access)
        .await
        .ok(200);
    app.delete(&format!("/v1/accounts/{sub}"), &ada.access)
        .await
        .ok(204);
    app.get(&format!("/v1/accounts/{sub}"), &bea.access)
        .await
        .error(404, "not_found");
    // The parent's team stays, without its grant on the deleted account.
    let listed = app
        .get(
            &format!("/v1/accounts/{}/teams", ada.account_id),
            &ada.access,
        )
        .await;
    let teams = listed.ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(teams.len(), 1);
    assert_eq!(teams[0]["grants"], json!([]));
    app.shutdown().await;
}
