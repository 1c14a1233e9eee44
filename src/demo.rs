//! `listbackup dev --demo`: a demo user, account, API key, a Stripe connection to the sandbox,
//! a source, and one backup started through the real API.

use anyhow::Context;
use entities::{Role, account, connection, membership, repo, source, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::keys::{AccountKey, MasterKey};

pub const DEMO_EMAIL: &str = "demo@listbackup.local";

/// What `data/demo.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoInfo {
    pub api_base: String,
    pub api_key: String,
    pub account_id: String,
    pub source_id: String,
    pub job_id: String,
    pub temporal_ui: String,
}

/// The demo objects; created on the first run, reused (and pointed at this run's sandbox) later.
pub struct DemoObjects {
    pub account_id: String,
    pub source_id: String,
    pub api_key: String,
}

pub async fn provision(
    db: &DatabaseConnection,
    master: &MasterKey,
    sandbox_url: &str,
    stripe_key: &str,
) -> anyhow::Result<DemoObjects> {
    let user = match user::Entity::find()
        .filter(user::Column::Email.eq(DEMO_EMAIL))
        .one(db)
        .await?
    {
        Some(u) => u,
        None => repo::create_user(db, DEMO_EMAIL, "Demo User").await?,
    };
    let existing = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id.as_str()))
        .one(db)
        .await?;
    let account_id = match existing {
        Some(m) => m.account_id,
        None => {
            let key = AccountKey::generate();
            let acct = repo::create_account(
                db,
                "Demo Company",
                None,
                &key.recipient(),
                Some(key.seal_with(master)?),
            )
            .await?;
            repo::add_membership(db, &user.id, &acct.id, Role::Owner).await?;
            acct.id
        }
    };
    account::Entity::find_by_id(&account_id)
        .one(db)
        .await?
        .context("demo account vanished")?;

    let config = json!({"base_url": sandbox_url});
    let conn = match connection::Entity::find()
        .filter(connection::Column::AccountId.eq(account_id.as_str()))
        .filter(connection::Column::Platform.eq("stripe"))
        .one(db)
        .await?
    {
        Some(c) => {
            // The sandbox listens on a new port each run.
            let mut c = c.into_active_model();
            c.config = Set(config);
            c.updated_at = Set(chrono::Utc::now());
            c.update(db).await?
        }
        None => {
            let sealed = master.seal_string(&json!({"api_key": stripe_key}).to_string())?;
            repo::create_connection(
                db,
                &account_id,
                "stripe",
                "Stripe (sandbox)",
                sealed,
                config,
            )
            .await?
        }
    };
    let src = match source::Entity::find()
        .filter(source::Column::ConnectionId.eq(conn.id.as_str()))
        .one(db)
        .await?
    {
        Some(s) => s,
        None => repo::create_source(db, &conn, "Stripe — all streams", &[]).await?,
    };
    // A new key each run (the old secret is not stored anywhere); names of active keys are
    // unique, so the previous run's key is revoked first.
    let previous = entities::api_key::Entity::find()
        .filter(entities::api_key::Column::AccountId.eq(account_id.as_str()))
        .filter(entities::api_key::Column::Name.eq("demo"))
        .filter(entities::api_key::Column::RevokedAt.is_null())
        .all(db)
        .await?;
    for key in previous {
        repo::revoke_api_key(db, &key.id).await?;
    }
    let (_, api_key) =
        repo::create_api_key(db, &account_id, Some(&user.id), "demo", Role::Owner).await?;
    Ok(DemoObjects {
        account_id,
        source_id: src.id,
        api_key,
    })
}

/// Starts a backup through the API, as any integration would.
pub async fn start_backup(
    api_base: &str,
    api_key: &str,
    source_id: &str,
) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{api_base}/v1/sources/{source_id}/backups"))
        .bearer_auth(api_key)
        .json(&json!({}))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        anyhow::bail!("starting the demo backup failed ({status}): {body}");
    }
    body["job_id"]
        .as_str()
        .map(str::to_owned)
        .context("no job_id in the response")
}

#[cfg(test)]
mod tests {
    use entities::repo;

    /// A second `listbackup dev --demo` over the same data directory gets a working key, and
    /// the first run's key (whose secret is gone with the old `demo.json`) stops working.
    #[tokio::test]
    async fn provisioning_again_reuses_the_account_with_a_fresh_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("demo.db").display());
        let db = entities::connect_and_migrate(&url).await.unwrap();
        let master = storage::keys::MasterKey::generate();
        let first = super::provision(&db, &master, "http://127.0.0.1:9", "sk_test")
            .await
            .unwrap();
        let second = super::provision(&db, &master, "http://127.0.0.1:9", "sk_test")
            .await
            .unwrap();
        assert_eq!(first.account_id, second.account_id);
        assert_eq!(first.source_id, second.source_id);
        assert!(
            repo::find_api_key(&db, &first.api_key)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            repo::find_api_key(&db, &second.api_key)
                .await
                .unwrap()
                .is_some()
        );
    }
}
