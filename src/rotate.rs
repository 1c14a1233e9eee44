//! `listbackup rotate-master-key`: re-seals every secret the database holds under the current
//! master key, opening the old values with the keys in `LISTBACKUP_MASTER_KEY_PREVIOUS`.
//!
//! Each value is replaced only if it is still the value that was read (`UPDATE … WHERE id = ? AND
//! column = old`), so a secret a running worker rewrote meanwhile (a refreshed OAuth token,
//! already sealed under the current key) is never overwritten. Running it again is harmless:
//! values already under the current key are left alone.

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, DatabaseConnection,
    sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement},
};
use storage::keys::MasterKey;

/// Every column that holds a value sealed under the master key: (table, column).
pub const SEALED_COLUMNS: [(&str, &str); 5] = [
    ("accounts", "encryption_identity_sealed"),
    ("connections", "credentials_sealed"),
    ("oauth_states", "verifier_sealed"),
    ("webhooks", "secret_sealed"),
    ("users", "totp_secret_sealed"),
];

/// What a rotation pass did, per sealed column.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ColumnReport {
    pub table: &'static str,
    pub column: &'static str,
    /// Values re-sealed under the current key.
    pub resealed: u64,
    /// Values that were already under the current key.
    pub current: u64,
    /// Values changed by someone else between the read and the write (already current then).
    pub changed_meanwhile: u64,
    /// Row ids whose value opens with none of the keys given.
    pub unreadable: Vec<String>,
}

impl ColumnReport {
    pub fn line(&self) -> String {
        format!(
            "{}.{}: {} re-sealed, {} already under the current key{}{}",
            self.table,
            self.column,
            self.resealed,
            self.current,
            if self.changed_meanwhile > 0 {
                format!(", {} rewritten meanwhile", self.changed_meanwhile)
            } else {
                String::new()
            },
            if self.unreadable.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} open with no key given (ids: {})",
                    self.unreadable.len(),
                    self.unreadable.join(", ")
                )
            }
        )
    }
}

/// Re-seals every sealed value under `master`'s current key.
pub async fn reseal_all(
    db: &DatabaseConnection,
    master: &MasterKey,
) -> anyhow::Result<Vec<ColumnReport>> {
    let mut reports = Vec::new();
    for (table, column) in SEALED_COLUMNS {
        reports.push(
            reseal_column(db, master, table, column)
                .await
                .with_context(|| format!("re-sealing {table}.{column}"))?,
        );
    }
    Ok(reports)
}

async fn reseal_column(
    db: &DatabaseConnection,
    master: &MasterKey,
    table: &'static str,
    column: &'static str,
) -> anyhow::Result<ColumnReport> {
    let mut report = ColumnReport {
        table,
        column,
        ..Default::default()
    };
    let rows = db.query_all(&select_sealed(table, column)).await?;
    for row in rows {
        let id: String = row.try_get("", "id")?;
        let sealed: String = row.try_get("", column)?;
        if master.sealed_under_current(&sealed) {
            report.current += 1;
            continue;
        }
        let Ok(plain) = master.open_string(&sealed) else {
            report.unreadable.push(id);
            continue;
        };
        let resealed = master.seal_string(&plain)?;
        let update = Query::update()
            .table(Alias::new(table))
            .value(Alias::new(column), resealed)
            .and_where(Expr::col(Alias::new("id")).eq(id.as_str()))
            .and_where(Expr::col(Alias::new(column)).eq(sealed.as_str()))
            .to_owned();
        let result = db.execute(&update).await?;
        if result.rows_affected() == 1 {
            report.resealed += 1;
        } else {
            report.changed_meanwhile += 1;
        }
    }
    Ok(report)
}

/// Runs a rotation pass and prints one line per column; fails if any value opens with none of
/// the keys given (the database then still needs the key that sealed it).
pub async fn run(db: &DatabaseConnection, master: &MasterKey) -> anyhow::Result<()> {
    let reports = reseal_all(db, master).await?;
    for report in &reports {
        println!("{}", report.line());
    }
    let unreadable: usize = reports.iter().map(|r| r.unreadable.len()).sum();
    anyhow::ensure!(
        unreadable == 0,
        "{unreadable} sealed values open with neither LISTBACKUP_MASTER_KEY nor \
         LISTBACKUP_MASTER_KEY_PREVIOUS: add the key that sealed them to LISTBACKUP_MASTER_KEY_PREVIOUS \
         and run again"
    );
    println!(
        "every sealed value is under the current master key: LISTBACKUP_MASTER_KEY_PREVIOUS can be removed"
    );
    Ok(())
}

/// The ids and sealed values of one column (non-null ones).
pub fn select_sealed(table: &str, column: &str) -> SelectStatement {
    Query::select()
        .columns([Alias::new("id"), Alias::new(column)])
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).is_not_null())
        .to_owned()
}
