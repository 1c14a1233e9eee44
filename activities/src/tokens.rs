//! OAuth tokens kept in the connection's row, refreshed once across every worker.
//!
//! A refresh opens a transaction and first writes the connection's row (a no-op update), which
//! takes the row lock on Postgres and the write lock on SQLite. A second refresher — another
//! job, another worker process — waits there, then finds the tokens already replaced and uses
//! them. The new tokens are sealed and stored in the same transaction, before any request uses
//! them, so a rotated refresh token is saved exactly once.

use connectors::{
    ConnectorError, ErrorKind,
    oauth::{RefreshFn, TokenSet, TokenStore},
};
use entities::connection;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    Set, TransactionTrait, sea_query::Expr,
};
use std::sync::Arc;
use storage::keys::MasterKey;

/// The token store of one connection.
pub struct DbTokenStore {
    db: DatabaseConnection,
    master: Arc<MasterKey>,
    connection_id: String,
    platform: &'static str,
}

impl DbTokenStore {
    pub fn new(
        db: DatabaseConnection,
        master: Arc<MasterKey>,
        connection_id: &str,
        platform: &'static str,
    ) -> Self {
        Self {
            db,
            master,
            connection_id: connection_id.to_owned(),
            platform,
        }
    }

    fn error(&self, message: String) -> ConnectorError {
        ConnectorError::new(self.platform, ErrorKind::Unavailable, message)
    }

    fn open(&self, row: &connection::Model) -> Result<TokenSet, ConnectorError> {
        let text = self
            .master
            .open_string(&row.credentials_sealed)
            .map_err(|e| {
                ConnectorError::new(
                    self.platform,
                    ErrorKind::Config,
                    format!("credentials of connection {} cannot be opened: {e}", row.id),
                )
            })?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
            ConnectorError::new(
                self.platform,
                ErrorKind::Config,
                "stored credentials are not JSON",
            )
        })?;
        TokenSet::from_credentials(self.platform, &value)
    }
}

#[async_trait::async_trait]
impl TokenStore for DbTokenStore {
    async fn load(&self) -> Result<TokenSet, ConnectorError> {
        let row = connection::Entity::find_by_id(&self.connection_id)
            .one(&self.db)
            .await
            .map_err(|e| self.error(format!("loading tokens: {e}")))?
            .ok_or_else(|| {
                ConnectorError::new(
                    self.platform,
                    ErrorKind::Config,
                    format!("connection {} is gone", self.connection_id),
                )
            })?;
        self.open(&row)
    }

    async fn refresh_once(
        &self,
        stale: &TokenSet,
        refresh: RefreshFn<'_>,
    ) -> Result<TokenSet, ConnectorError> {
        let db_error = |e: sea_orm::DbErr| self.error(format!("storing refreshed tokens: {e}"));
        let txn = self.db.begin().await.map_err(db_error)?;
        connection::Entity::update_many()
            .col_expr(
                connection::Column::UpdatedAt,
                Expr::col(connection::Column::UpdatedAt),
            )
            .filter(connection::Column::Id.eq(self.connection_id.as_str()))
            .exec(&txn)
            .await
            .map_err(db_error)?;
        let row = connection::Entity::find_by_id(&self.connection_id)
            .one(&txn)
            .await
            .map_err(db_error)?
            .ok_or_else(|| {
                ConnectorError::new(
                    self.platform,
                    ErrorKind::Config,
                    format!("connection {} is gone", self.connection_id),
                )
            })?;
        let stored = self.open(&row)?;
        if stored != *stale {
            txn.commit().await.map_err(db_error)?;
            return Ok(stored);
        }
        // The lock is held across the token request on purpose: that is the single flight.
        let fresh = match refresh(stored).await {
            Ok(t) => t,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(e);
            }
        };
        let sealed = self
            .master
            .seal_string(&fresh.to_credentials().to_string())
            .map_err(|e| self.error(format!("sealing tokens: {e}")))?;
        let mut update = row.into_active_model();
        update.credentials_sealed = Set(sealed);
        update.updated_at = Set(chrono::Utc::now());
        update.update(&txn).await.map_err(db_error)?;
        txn.commit().await.map_err(db_error)?;
        Ok(fresh)
    }
}
