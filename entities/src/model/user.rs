//! A person who signs in. API keys act on behalf of an account instead.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub name: String,
    /// argon2id PHC string; `None` for users who have not set a password yet.
    pub password_hash: Option<String>,
    pub created_at: DateTimeUtc,
    /// An IANA time zone (`Europe/Berlin`) for showing times to the user; `UTC` by default.
    pub time_zone: String,
    /// Which notifications the user wants (`api::me::NotificationPreferences` as JSON); `None`
    /// until changed, meaning the defaults.
    pub notifications: Option<Json>,
    /// The TOTP secret (RFC 6238), sealed under the master key: pending until `mfa_enabled_at`.
    pub totp_secret_sealed: Option<String>,
    /// When the second factor was confirmed; from then on signing in needs a code.
    pub mfa_enabled_at: Option<DateTimeUtc>,
    /// The last TOTP time step a code was accepted for: a code works once.
    pub totp_last_step: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
