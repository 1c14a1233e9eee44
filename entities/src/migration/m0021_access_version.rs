//! The access version: one counter the database raises, in the same transaction, whenever
//! anything a caller's access is derived from changes — users, sessions (refresh tokens), API
//! keys (but not their `last_used_at`), memberships, teams' members and grants, accounts. An
//! API process may keep the access it resolved for a credential for as long as the counter has
//! not moved, so authenticating a request costs one read of the counter instead of the queries
//! that resolve it, and a change made anywhere (another API process, the CLI, by hand) applies
//! to the very next request everywhere.
//!
//! Triggers rather than application code, so no write path can forget it. Statement-level on
//! Postgres; SQLite has row-level triggers only, one per event.

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose every change counts, and the API keys' columns that do.
const TABLES: [&str; 6] = [
    "users",
    "refresh_tokens",
    "memberships",
    "team_members",
    "team_grants",
    "accounts",
];
const API_KEY_COLUMNS: &str = "account_id, user_id, role, key_hash, revoked_at";

const BUMP: &str = "UPDATE access_version SET version = version + 1 WHERE id = 1";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "CREATE TABLE access_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL)",
        )
        .await?;
        db.execute_unprepared("INSERT INTO access_version (id, version) VALUES (1, 0)")
            .await?;
        match m.get_database_backend() {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "CREATE FUNCTION bump_access_version() RETURNS trigger AS $$ \
                     BEGIN {BUMP}; RETURN NULL; END $$ LANGUAGE plpgsql"
                ))
                .await?;
                for table in TABLES {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER access_{table} AFTER INSERT OR UPDATE OR DELETE ON \
                         {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_access_version()"
                    ))
                    .await?;
                }
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER access_api_keys AFTER INSERT OR DELETE OR UPDATE OF \
                     {API_KEY_COLUMNS} ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION \
                     bump_access_version()"
                ))
                .await?;
            }
            _ => {
                let events = TABLES
                    .iter()
                    .flat_map(|t| {
                        [
                            ("insert", "INSERT"),
                            ("update", "UPDATE"),
                            ("delete", "DELETE"),
                        ]
                        .map(|(name, event)| (*t, name, event.to_owned()))
                    })
                    .chain([
                        ("api_keys", "insert", "INSERT".to_owned()),
                        ("api_keys", "delete", "DELETE".to_owned()),
                        ("api_keys", "update", format!("UPDATE OF {API_KEY_COLUMNS}")),
                    ]);
                for (table, name, event) in events {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER access_{table}_{name} AFTER {event} ON {table} \
                         BEGIN {BUMP}; END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        let tables = TABLES.iter().copied().chain(["api_keys"]);
        match m.get_database_backend() {
            DbBackend::Postgres => {
                for table in tables {
                    db.execute_unprepared(&format!("DROP TRIGGER access_{table} ON {table}"))
                        .await?;
                }
                db.execute_unprepared("DROP FUNCTION bump_access_version()")
                    .await?;
            }
            _ => {
                for table in tables {
                    for name in ["insert", "update", "delete"] {
                        db.execute_unprepared(&format!("DROP TRIGGER access_{table}_{name}"))
                            .await?;
                    }
                }
            }
        }
        db.execute_unprepared("DROP TABLE access_version").await?;
        Ok(())
    }
}
