//! How an account presents itself to its users and clients: a display name, a logo, colours and
//! a custom domain proven by a DNS TXT record. Sub-accounts without their own use the nearest
//! account above that has one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_brandings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub account_id: String,
    pub display_name: Option<String>,
    /// An `https://` URL.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    /// Where replies to emails sent in the account's name go.
    pub support_email: Option<String>,
    /// A domain the account's users reach the application at (lower case, no trailing dot).
    /// Several accounts may claim one; the first to prove it holds it.
    pub custom_domain: Option<String>,
    /// The value the domain's `_listbackup-challenge` TXT record must hold.
    pub domain_token: Option<String>,
    pub domain_verified_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
