//! The schedule of one request budget shared by every worker: the moment its next request
//! slot opens. Reservations advance it atomically (see `repo::reserve_rate_slots`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_budgets")]
pub struct Model {
    /// `connection:{id}:{budget}` or `shared:{budget}`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Microseconds since the Unix epoch, on the database's clock (Postgres) or the host's
    /// (SQLite, whose workers share one host).
    pub next_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
