//! Sign-in sessions, the account tree as the API reads it, and the unique names it relies on.

use chrono::Duration;
use entities::{Role, repo};
use sea_orm::DatabaseConnection;
use serde_json::json;

pub async fn suite(db: &DatabaseConnection) {
    let user = repo::create_user_with_password(db, "sam@example.com", "Sam", "$argon2id$x")
        .await
        .unwrap();

    // A refresh token works once; its successor stays in the family.
    let first = repo::start_session(db, &user.id, Duration::days(1))
        .await
        .unwrap();
    assert!(first.secret.starts_with(repo::REFRESH_TOKEN_PREFIX));
    assert_ne!(first.token.token_hash, first.secret);
    let repo::Rotation::Rotated(second) =
        repo::rotate_refresh_token(db, &first.secret, Duration::days(1))
            .await
            .unwrap()
    else {
        panic!("a current token rotates");
    };
    assert_eq!(second.token.family_id, first.token.family_id);
    assert!(
        repo::session_is_active(db, &first.token.family_id)
            .await
            .unwrap()
    );

    // Presenting the rotated token again revokes the family, successor included.
    assert!(matches!(
        repo::rotate_refresh_token(db, &first.secret, Duration::days(1))
            .await
            .unwrap(),
        repo::Rotation::Reused { .. }
    ));
    assert!(
        !repo::session_is_active(db, &first.token.family_id)
            .await
            .unwrap()
    );
    assert!(matches!(
        repo::rotate_refresh_token(db, &second.secret, Duration::days(1))
            .await
            .unwrap(),
        repo::Rotation::Invalid
    ));

    // Expired and unknown tokens are invalid; revoking ends a family.
    let expired = repo::start_session(db, &user.id, Duration::seconds(-1))
        .await
        .unwrap();
    assert!(matches!(
        repo::rotate_refresh_token(db, &expired.secret, Duration::days(1))
            .await
            .unwrap(),
        repo::Rotation::Invalid
    ));
    assert!(matches!(
        repo::rotate_refresh_token(db, "lbr_unknown", Duration::days(1))
            .await
            .unwrap(),
        repo::Rotation::Invalid
    ));
    let other = repo::start_session(db, &user.id, Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        repo::revoke_session(db, &other.token.family_id)
            .await
            .unwrap(),
        1
    );
    assert!(
        !repo::session_is_active(db, &other.token.family_id)
            .await
            .unwrap()
    );

    // The tree: below, above, and sibling names unique (top-level ones are not).
    let top = repo::create_account(db, "Top", None, "age1t", None)
        .await
        .unwrap();
    repo::create_account(db, "Top", None, "age1t2", None)
        .await
        .unwrap();
    let mid = repo::create_account(db, "Mid", Some(&top.id), "age1m", None)
        .await
        .unwrap();
    let leaf = repo::create_account(db, "Leaf", Some(&mid.id), "age1l", None)
        .await
        .unwrap();
    assert!(
        repo::create_account(db, "Mid", Some(&top.id), "age1x", None)
            .await
            .is_err(),
        "sibling names are unique"
    );
    repo::create_account(db, "Mid", Some(&mid.id), "age1y", None)
        .await
        .unwrap();
    let below: Vec<String> = repo::accounts_below(db, &[mid.id.clone(), leaf.id.clone()])
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(below.len(), 3, "each account once: {below:?}");
    assert!(!below.contains(&top.id));
    let above: Vec<String> = repo::account_ancestors(db, &leaf.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(above, vec![mid.id.clone(), top.id.clone()]);

    repo::add_membership(db, &user.id, &top.id, Role::Owner)
        .await
        .unwrap();
    assert_eq!(
        repo::count_owners(db, &[top.id.clone(), mid.id.clone()])
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        repo::count_owners(db, std::slice::from_ref(&leaf.id))
            .await
            .unwrap(),
        0
    );

    // Active API key names are unique per account; a revoked key frees its name.
    let (key, _) = repo::create_api_key(db, &leaf.id, None, "ci", Role::Viewer)
        .await
        .unwrap();
    assert!(
        repo::create_api_key(db, &leaf.id, None, "ci", Role::Viewer)
            .await
            .is_err()
    );
    repo::create_api_key(db, &mid.id, None, "ci", Role::Viewer)
        .await
        .unwrap();
    assert!(repo::revoke_api_key(db, &key.id).await.unwrap());
    assert!(!repo::revoke_api_key(db, &key.id).await.unwrap(), "once");
    repo::create_api_key(db, &leaf.id, None, "ci", Role::Viewer)
        .await
        .unwrap();

    // Deleting: refused with sub-accounts or sources; an empty account goes with its keys.
    assert_eq!(
        repo::delete_account(db, &mid.id).await.unwrap(),
        Err(repo::AccountInUse::SubAccounts)
    );
    let conn = repo::create_connection(db, &leaf.id, "stripe", "S", "sealed".into(), json!({}))
        .await
        .unwrap();
    let source = repo::create_source(db, &conn, "all", &[]).await.unwrap();
    assert_eq!(
        repo::delete_account(db, &leaf.id).await.unwrap(),
        Err(repo::AccountInUse::Sources)
    );
    use sea_orm::EntityTrait;
    entities::source::Entity::delete_by_id(source.id.as_str())
        .exec(db)
        .await
        .unwrap();
    assert_eq!(repo::delete_account(db, &leaf.id).await.unwrap(), Ok(()));
    assert!(
        entities::account::Entity::find_by_id(leaf.id.as_str())
            .one(db)
            .await
            .unwrap()
            .is_none()
    );
}

/// The access version moves with every change that decides a caller's access, in the same
/// transaction, and not with the bookkeeping that does not (an API key's `last_used_at`).
pub async fn version_suite(db: &DatabaseConnection) {
    use entities::{team, team_grant, team_member};
    use sea_orm::{ActiveModelTrait, IntoActiveModel, Set, TransactionTrait};

    let version = || async { repo::access_version(db).await.unwrap() };
    let mut last = version().await;
    fn moved(last: &mut i64, what: &str, now: i64) {
        assert!(now > *last, "{what}: {now} after {last}");
        *last = now;
    }
    let acct = repo::create_account(db, "Versioned", None, "age1v", None)
        .await
        .unwrap();
    moved(&mut last, "an account created", version().await);
    let user = repo::create_user(db, "version@example.com", "V")
        .await
        .unwrap();
    moved(&mut last, "a user created", version().await);
    repo::add_membership(db, &user.id, &acct.id, Role::Viewer)
        .await
        .unwrap();
    moved(&mut last, "a membership added", version().await);
    let session = repo::start_session(db, &user.id, Duration::days(1))
        .await
        .unwrap();
    moved(&mut last, "a session started", version().await);
    repo::revoke_session(db, &session.token.family_id)
        .await
        .unwrap();
    moved(&mut last, "a session revoked", version().await);
    let (key, _) = repo::create_api_key(db, &acct.id, None, "v", Role::Viewer)
        .await
        .unwrap();
    moved(&mut last, "an API key created", version().await);
    repo::touch_api_key(db, &key.id).await.unwrap();
    assert_eq!(version().await, last, "a key's last use is not access");
    repo::revoke_api_key(db, &key.id).await.unwrap();
    moved(&mut last, "an API key revoked", version().await);

    let now = chrono::Utc::now();
    let t = team::ActiveModel {
        id: Set(entities::new_id()),
        account_id: Set(acct.id.clone()),
        name: Set("Ops".into()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    let before_team = version().await;
    team_member::ActiveModel {
        id: Set(entities::new_id()),
        team_id: Set(t.id.clone()),
        user_id: Set(user.id.clone()),
        team_role: Set("member".into()),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    assert!(version().await > before_team, "a team member added");
    last = version().await;
    let grant = team_grant::ActiveModel {
        id: Set(entities::new_id()),
        team_id: Set(t.id.clone()),
        account_id: Set(acct.id.clone()),
        role: Set(Role::Admin),
        created_at: Set(now),
    }
    .insert(db)
    .await
    .unwrap();
    moved(&mut last, "a team grant added", version().await);
    let mut changed = grant.into_active_model();
    changed.role = Set(Role::Viewer);
    changed.update(db).await.unwrap();
    moved(&mut last, "a team grant changed", version().await);

    // A change rolled back leaves the version where it was.
    let txn = db.begin().await.unwrap();
    repo::create_account(&txn, "Never", None, "age1n", None)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(version().await, last, "a rolled-back change");
}
