//! Throw-away Postgres databases for tests: one per test, dropped afterwards.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

/// The server tests use: `$LISTBACKUP_TEST_POSTGRES`, else the local trust-auth server.
pub fn admin_url() -> String {
    std::env::var("LISTBACKUP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A new, empty database on the test server; returns its name and URL.
///
/// The name is `prefix` plus a UUIDv7 in hex without hyphens, so it needs no quoting and sorts by
/// creation (leftovers of a crashed run are easy to spot).
pub async fn create_database(prefix: &str) -> Result<(String, String), DbErr> {
    let admin_url = admin_url();
    let admin = crate::connect(&admin_url).await?;
    let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    admin.close().await?;
    Ok((name.clone(), with_database(&admin_url, &name)))
}

/// `url` with its database replaced by `name`, its parameters (`?sslmode=…`) kept.
fn with_database(url: &str, name: &str) -> String {
    let (path, params) = url
        .split_once('?')
        .map_or((url, None), |(p, q)| (p, Some(q)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match params {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Closes `db` and drops the database `name`, ending any connection still open to it.
pub async fn drop_database(db: DatabaseConnection, name: &str) -> Result<(), DbErr> {
    db.close().await?;
    let admin = crate::connect(&admin_url()).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_database_keeps_the_servers_parameters() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/postgres", "t_1"),
            "postgres://u@h:5432/t_1"
        );
        assert_eq!(
            super::with_database("postgres://u@h/postgres?sslmode=disable&x=a/b", "t_1"),
            "postgres://u@h/t_1?sslmode=disable&x=a/b"
        );
    }
}
