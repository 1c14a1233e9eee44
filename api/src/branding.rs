//! Branding: how an account presents itself — display name, logo, colours, support email — and a
//! custom domain its users reach the application at, proven by a DNS TXT record.
//!
//! Sub-accounts without branding of their own show the nearest account above that has some (an
//! agency's clients see the agency). Emails sent in an account's name (invitations) carry its
//! display name, and their links open its verified custom domain.
//!
//! Proving a domain: `PUT …/branding/domain` answers a TXT record to create,
//! `_listbackup-challenge.{domain}` = `listbackup-verification={token}`; `POST
//! …/branding/domain/verify` looks it up (through `LISTBACKUP_DNS_RESOLVER` when set, the
//! system's resolvers otherwise) and marks the domain verified when it is there. Several accounts
//! may claim a domain; the first to prove it holds it, and the others' claims end.

use crate::{
    ApiTags, activity,
    auth::BearerAuth,
    error::{ApiError, respond},
    input::{EmailAddress, Name},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, account, account_branding, repo};
use hickory_resolver::{
    Resolver,
    config::{ConnectionConfig, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
    proto::rr::RData,
};
use poem::{http::StatusCode, web::Data};
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use rand::{Rng, distributions::Alphanumeric};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    sea_query::Expr,
};
use serde_json::json;

/// The label the challenge TXT record sits under.
pub const CHALLENGE_LABEL: &str = "_listbackup-challenge";
/// The prefix of the challenge record's value.
pub const CHALLENGE_PREFIX: &str = "listbackup-verification=";

/// An account's branding as shown: its own, or inherited from an account above.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct BrandingView {
    pub account_id: String,
    /// The account whose branding this is: this one, an account above it, or absent when no
    /// account in the chain has branding (the defaults apply).
    pub inherited_from: Option<String>,
    /// The name shown to users and clients (default: the account's name).
    pub display_name: String,
    pub logo_url: Option<String>,
    pub primary_color: Option<String>,
    pub accent_color: Option<String>,
    pub support_email: Option<String>,
    pub custom_domain: Option<CustomDomain>,
}

/// A custom domain and how far its proof has come.
#[derive(Object, Debug, Clone, PartialEq)]
#[oai(skip_serializing_if_is_none)]
pub struct CustomDomain {
    pub domain: String,
    /// True once the TXT record was found.
    pub verified: bool,
    pub verified_at: Option<DateTime<Utc>>,
    /// The TXT record to create: its name …
    pub txt_record_name: String,
    /// … and its value.
    pub txt_record_value: String,
}

/// Branding to set; absent fields are cleared (the account above, or the default, shows
/// through).
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct SetBranding {
    /// 1 to 200 characters.
    pub display_name: Option<String>,
    /// An `https://` URL of at most 2048 characters.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    pub support_email: Option<String>,
}

/// A domain to prove.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct SetDomain {
    /// e.g. `backups.example-agency.com`.
    pub domain: String,
}

crate::operation_response!(GetBrandingResponse, 200, "The branding shown for the account.", Ok(BrandingView), {
    404 => NotFound: "No such account (or not yours).",
});
crate::operation_response!(SetBrandingResponse, 200, "The branding as it is now.", Ok(BrandingView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
    422 => Unprocessable: "A value is not acceptable (`invalid_field`, `details.field`).",
});
crate::operation_response!(SetDomainResponse, 200, "The domain, unverified, with the TXT record to create.", Ok(BrandingView), {
    400 => BadRequest: "The body could not be read (`invalid_request`).",
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
    409 => Conflict: "Another account has proven this domain (`domain_taken`).",
    422 => Unprocessable: "Not a domain name (`invalid_field`).",
});
crate::operation_response!(VerifyDomainResponse, 200, "The domain is verified.", Ok(BrandingView), {
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
    409 => Conflict: "No domain is set (`no_custom_domain`), the TXT record was not found (`domain_not_verified`; `details` name the record and value expected), or another account proved the domain first (`domain_taken`).",
    503 => Unavailable: "The DNS could not be asked (`dns_unavailable`); try again.",
});
crate::operation_response!(RemoveDomainResponse, 204, "The account has no custom domain now.", Removed, {
    403 => Forbidden: "Needs admin.",
    404 => NotFound: "No such account (or not yours).",
});

fn color(field: &str, value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim().to_ascii_lowercase();
    let ok = v.len() == 7 && v.starts_with('#') && v[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(ApiError::invalid_field(
            field,
            format!("`{field}` must be a colour as `#rrggbb`"),
        ));
    }
    Ok(Some(v))
}

fn logo(value: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(v) = value else { return Ok(None) };
    let bad = || {
        ApiError::invalid_field(
            "logo_url",
            "`logo_url` must be an https:// URL of at most 2048 characters",
        )
    };
    if v.len() > 2048 {
        return Err(bad());
    }
    let url = url::Url::parse(v.trim()).map_err(|_| bad())?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(bad());
    }
    Ok(Some(url.to_string()))
}

/// A domain name as stored: lower case, no trailing dot, at least two labels of letters, digits
/// and inner hyphens.
fn domain_name(text: &str) -> Result<String, ApiError> {
    let d = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = d.split('.').collect();
    let ok = d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(d)
    } else {
        Err(ApiError::invalid_field(
            "domain",
            "`domain` must be a domain name such as backups.example.com",
        ))
    }
}

fn domain_taken(domain: &str) -> ApiError {
    ApiError::conflict(
        "domain_taken",
        format!("another account has proven {domain} already"),
    )
}

fn custom_domain(b: &account_branding::Model) -> Option<CustomDomain> {
    let domain = b.custom_domain.clone()?;
    Some(CustomDomain {
        verified: b.domain_verified_at.is_some(),
        verified_at: b.domain_verified_at,
        txt_record_name: format!("{CHALLENGE_LABEL}.{domain}"),
        txt_record_value: format!(
            "{CHALLENGE_PREFIX}{}",
            b.domain_token.clone().unwrap_or_default()
        ),
        domain,
    })
}

/// The branding shown for `account_id`: its own, or the nearest above it.
pub(crate) async fn effective(
    db: &impl ConnectionTrait,
    acct: &account::Model,
) -> Result<BrandingView, ApiError> {
    let mut chain = vec![acct.clone()];
    chain.extend(repo::account_ancestors(db, &acct.id).await?);
    for a in &chain {
        if let Some(b) = account_branding::Entity::find_by_id(a.id.as_str())
            .one(db)
            .await?
        {
            return Ok(BrandingView {
                account_id: acct.id.clone(),
                inherited_from: Some(a.id.clone()),
                display_name: b.display_name.clone().unwrap_or_else(|| acct.name.clone()),
                logo_url: b.logo_url.clone(),
                primary_color: b.primary_color.clone(),
                accent_color: b.accent_color.clone(),
                support_email: b.support_email.clone(),
                custom_domain: custom_domain(&b),
            });
        }
    }
    Ok(BrandingView {
        account_id: acct.id.clone(),
        inherited_from: None,
        display_name: acct.name.clone(),
        logo_url: None,
        primary_color: None,
        accent_color: None,
        support_email: None,
        custom_domain: None,
    })
}

/// The verified custom domain links for `acct` should open, if its branding has one.
pub(crate) fn verified_domain(view: &BrandingView) -> Option<&str> {
    view.custom_domain
        .as_ref()
        .filter(|d| d.verified)
        .map(|d| d.domain.as_str())
}

async fn find_account(state: &AppState, id: &str) -> Result<account::Model, ApiError> {
    account::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("account", id))
}

/// The account's own branding row, created empty if it has none.
async fn own_row(
    db: &impl ConnectionTrait,
    account_id: &str,
) -> Result<account_branding::Model, ApiError> {
    if let Some(b) = account_branding::Entity::find_by_id(account_id)
        .one(db)
        .await?
    {
        return Ok(b);
    }
    Ok(account_branding::ActiveModel {
        account_id: Set(account_id.to_owned()),
        display_name: Set(None),
        logo_url: Set(None),
        primary_color: Set(None),
        accent_color: Set(None),
        support_email: Set(None),
        custom_domain: Set(None),
        domain_token: Set(None),
        domain_verified_at: Set(None),
        updated_at: Set(Utc::now()),
    }
    .insert(db)
    .await?)
}

/// The TXT values at `name`, from `resolver` (`ip:port`) or the system's resolvers. `Ok(empty)`
/// when the name or record does not exist; `Err` when DNS could not be asked.
async fn txt_values(
    resolver: Option<std::net::SocketAddr>,
    name: &str,
) -> Result<Vec<String>, String> {
    let builder = match resolver {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            Resolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => Resolver::builder_tokio().map_err(|e| e.to_string())?,
    };
    let resolver = builder.build().map_err(|e| e.to_string())?;
    match resolver.txt_lookup(format!("{name}.")).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.to_string()),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

pub struct BrandingApi;

#[OpenApi(tag = "ApiTags::Accounts")]
impl BrandingApi {
    /// The account's branding: its own, or the nearest account's above it, or the defaults.
    #[oai(
        path = "/v1/accounts/:account_id/branding",
        method = "get",
        operation_id = "getBranding"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> GetBrandingResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let acct = find_account(&state, &account_id).await?;
            Ok(GetBrandingResponse::Ok(Json(
                effective(&state.db, &acct).await?,
            )))
        })
        .await
    }

    /// Sets the account's own branding (its custom domain stays). Absent fields are cleared.
    /// Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/branding",
        method = "put",
        operation_id = "setBranding"
    )]
    async fn set(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<SetBranding>,
    ) -> SetBrandingResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let acct = find_account(&state, &account_id).await?;
            let SetBranding {
                display_name,
                logo_url,
                primary_color,
                accent_color,
                support_email,
            } = body.0;
            let display_name = display_name
                .map(|n| Name::parse("display_name", &n).map(Name::into_string))
                .transpose()?;
            let logo_url = logo(logo_url)?;
            let primary_color = color("primary_color", primary_color)?;
            let accent_color = color("accent_color", accent_color)?;
            let support_email = support_email
                .map(|e| EmailAddress::parse("support_email", &e).map(|e| e.as_str().to_owned()))
                .transpose()?;
            let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
            let mut row = own_row(&txn, &acct.id).await?.into_active_model();
            row.display_name = Set(display_name);
            row.logo_url = Set(logo_url);
            row.primary_color = Set(primary_color);
            row.accent_color = Set(accent_color);
            row.support_email = Set(support_email);
            row.updated_at = Set(Utc::now());
            row.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "branding.updated",
                ("account", &acct.id),
                json!({}),
            )
            .await?;
            txn.commit().await?;
            Ok(SetBrandingResponse::Ok(Json(
                effective(&state.db, &acct).await?,
            )))
        })
        .await
    }

    /// Sets the account's custom domain (unverified) and answers the TXT record that proves it.
    /// Setting another domain, or the same again, starts a new proof. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/branding/domain",
        method = "put",
        operation_id = "setCustomDomain"
    )]
    async fn set_domain(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<SetDomain>,
    ) -> SetDomainResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let acct = find_account(&state, &account_id).await?;
            let domain = domain_name(&body.domain)?;
            let token: String = rand::thread_rng()
                .sample_iter(&Alphanumeric)
                .take(32)
                .map(char::from)
                .collect();
            let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
            let verified_elsewhere = account_branding::Entity::find()
                .filter(account_branding::Column::CustomDomain.eq(domain.as_str()))
                .filter(account_branding::Column::DomainVerifiedAt.is_not_null())
                .filter(account_branding::Column::AccountId.ne(acct.id.as_str()))
                .one(&txn)
                .await?
                .is_some();
            if verified_elsewhere {
                return Err(domain_taken(&domain));
            }
            let mut row = own_row(&txn, &acct.id).await?.into_active_model();
            row.custom_domain = Set(Some(domain.clone()));
            row.domain_token = Set(Some(token));
            row.domain_verified_at = Set(None);
            row.updated_at = Set(Utc::now());
            row.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "branding.domain_set",
                ("account", &acct.id),
                json!({"domain": domain}),
            )
            .await?;
            txn.commit().await?;
            Ok(SetDomainResponse::Ok(Json(
                effective(&state.db, &acct).await?,
            )))
        })
        .await
    }

    /// Looks up the domain's challenge TXT record and marks the domain verified when it holds
    /// the expected value. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/branding/domain/verify",
        method = "post",
        operation_id = "verifyCustomDomain"
    )]
    async fn verify_domain(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> VerifyDomainResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let acct = find_account(&state, &account_id).await?;
            let row = account_branding::Entity::find_by_id(acct.id.as_str())
                .one(&state.db)
                .await?
                .filter(|b| b.custom_domain.is_some())
                .ok_or_else(|| {
                    ApiError::conflict(
                        "no_custom_domain",
                        "set a domain first (PUT …/branding/domain)",
                    )
                })?;
            let Some(domain) = custom_domain(&row) else {
                return Err(ApiError::internal("a custom domain without its record"));
            };
            let found = txt_values(state.connections.dns_resolver, &domain.txt_record_name)
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, domain = %domain.domain, "TXT lookup failed");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "dns_unavailable",
                        "the DNS could not be asked; try again",
                    )
                })?;
            if !found.iter().any(|v| v.trim() == domain.txt_record_value) {
                return Err(ApiError::conflict(
                    "domain_not_verified",
                    format!(
                        "no TXT record `{}` with the value `{}` was found (DNS changes can take a while to show)",
                        domain.txt_record_name, domain.txt_record_value
                    ),
                )
                .with_details(json!({
                    "txt_record_name": domain.txt_record_name,
                    "txt_record_value": domain.txt_record_value,
                    "found": found,
                })));
            }
            let txn = sea_orm::TransactionTrait::begin(&state.db).await?;
            // Proven while nobody else holds it verified; and only what was looked up: a
            // domain or token changed during the lookup is not verified by it.
            let taken = account_branding::Entity::find()
                .filter(account_branding::Column::CustomDomain.eq(domain.domain.as_str()))
                .filter(account_branding::Column::DomainVerifiedAt.is_not_null())
                .filter(account_branding::Column::AccountId.ne(acct.id.as_str()))
                .one(&txn)
                .await?
                .is_some();
            if taken {
                return Err(domain_taken(&domain.domain));
            }
            let done = account_branding::Entity::update_many()
                .col_expr(
                    account_branding::Column::DomainVerifiedAt,
                    Expr::value(Utc::now()),
                )
                .filter(account_branding::Column::AccountId.eq(acct.id.as_str()))
                .filter(account_branding::Column::CustomDomain.eq(row.custom_domain.clone()))
                .filter(account_branding::Column::DomainToken.eq(row.domain_token.clone()))
                .exec(&txn)
                .await?;
            if done.rows_affected != 1 {
                return Err(ApiError::conflict(
                    "domain_not_verified",
                    "the domain or its token changed while it was being looked up; verify again",
                ));
            }
            // Other accounts' unproven claims on the domain end here.
            account_branding::Entity::update_many()
                .col_expr(
                    account_branding::Column::CustomDomain,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    account_branding::Column::DomainToken,
                    Expr::value(Option::<String>::None),
                )
                .filter(account_branding::Column::CustomDomain.eq(domain.domain.as_str()))
                .filter(account_branding::Column::AccountId.ne(acct.id.as_str()))
                .exec(&txn)
                .await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "branding.domain_verified",
                ("account", &acct.id),
                json!({"domain": domain.domain}),
            )
            .await?;
            txn.commit().await?;
            Ok(VerifyDomainResponse::Ok(Json(effective(&state.db, &acct).await?)))
        })
        .await
    }

    /// Removes the account's custom domain. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id/branding/domain",
        method = "delete",
        operation_id = "removeCustomDomain"
    )]
    async fn remove_domain(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> RemoveDomainResponse {
        respond(async {
            auth.0.require(&account_id, Role::Admin)?;
            let acct = find_account(&state, &account_id).await?;
            if let Some(row) = account_branding::Entity::find_by_id(acct.id.as_str())
                .one(&state.db)
                .await?
            {
                let mut cleared = row.into_active_model();
                cleared.custom_domain = Set(None);
                cleared.domain_token = Set(None);
                cleared.domain_verified_at = Set(None);
                cleared.updated_at = Set(Utc::now());
                cleared.update(&state.db).await?;
            }
            Ok(RemoveDomainResponse::Removed)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_logos_and_domains_are_checked() {
        assert_eq!(
            color("c", Some(" #A1B2C3 ".into())).unwrap().as_deref(),
            Some("#a1b2c3")
        );
        for bad in ["a1b2c3", "#a1b2c", "#ggg000", "#a1b2c3d"] {
            assert!(color("c", Some(bad.into())).is_err(), "{bad}");
        }
        assert!(logo(Some("https://cdn.example.com/logo.png".into())).is_ok());
        for bad in [
            "http://cdn.example.com/logo.png",
            "javascript:alert(1)",
            "logo.png",
        ] {
            assert!(logo(Some(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(
            domain_name(" Backups.Example.COM. ").unwrap(),
            "backups.example.com"
        );
        for bad in [
            "localhost",
            "-a.example.com",
            "a..example.com",
            "a b.com",
            "x_y.example.com",
        ] {
            assert!(domain_name(bad).is_err(), "{bad}");
        }
    }
}
