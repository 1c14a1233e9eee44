//! A request made with an `Idempotency-Key`: who sent it, what it asked (a fingerprint of the
//! operation, its target and its body), and — once it succeeded — the answer to replay.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `user:{id}` or `api_key:{id}`: keys are scoped to their sender.
    pub principal: String,
    /// The client's key, unique per principal.
    pub key: String,
    /// SHA-256 (hex) of the operation, its target and its body.
    pub fingerprint: String,
    /// The answer's HTTP status; `None` while the first request is still being answered.
    pub status_code: Option<i32>,
    /// The answer's JSON body.
    pub response: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
