//! Accounts: tenants, arranged in a tree. A role on an account reaches every sub-account below
//! it; a role on a sub-account never reaches its parent.

use crate::{
    ApiTags,
    access::{Caller, RoleName},
    activity,
    auth::BearerAuth,
    error::{ApiError, ErrorEnvelope, respond},
    error_responses,
    input::Name,
    pagination::{Page, PageRequest},
    state::AppState,
};
use chrono::{DateTime, Utc};
use entities::{Role, account, repo};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    types::Example,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, Set, TransactionTrait,
};
use serde_json::json;
use storage::keys::{AccountKey, MasterKey};

/// An account, with the caller's `role` in it: held on this account or inherited from one above it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    /// The account this one is a sub-account of.
    pub parent_id: Option<String>,
    // Documented on the struct: a doc comment on an enum field becomes an `allOf` that
    // generated clients cannot read.
    pub role: RoleName,
    /// The age recipient every part of this account's snapshots is encrypted to.
    pub encryption_recipient: String,
    /// True when only the customer holds the decryption key (the service cannot decrypt).
    pub customer_held_key: bool,
    /// Members reach this account (and those below it) only once they have a second factor.
    pub require_mfa: bool,
    pub created_at: DateTime<Utc>,
}

impl Example for AccountView {
    fn example() -> Self {
        Self {
            id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            name: "Acme Inc".into(),
            parent_id: None,
            role: RoleName::Owner,
            encryption_recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
                .into(),
            customer_held_key: false,
            require_mfa: false,
            created_at: DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        }
    }
}

pub fn view(a: account::Model, role: Role) -> AccountView {
    AccountView {
        customer_held_key: a.encryption_identity_sealed.is_none(),
        id: a.id,
        name: a.name,
        parent_id: a.parent_id,
        role: role.into(),
        encryption_recipient: a.encryption_recipient,
        require_mfa: a.require_mfa,
        created_at: a.created_at,
    }
}

/// An account and, below it, its sub-accounts.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AccountTree {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub role: RoleName,
    pub children: Vec<AccountTree>,
}

/// A new account.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields, example)]
pub struct CreateAccount {
    /// 1 to 200 characters; unique among the sub-accounts of one parent.
    pub name: String,
}

impl Example for CreateAccount {
    fn example() -> Self {
        Self {
            name: "Acme Inc".into(),
        }
    }
}

/// Changes to an account; absent fields stay as they are.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, deny_unknown_fields)]
pub struct UpdateAccount {
    pub name: Option<String>,
    /// Require a second factor of every member of this account and those below it. Members
    /// without one do not reach them (404, naming the reason) until they set one up. Turning it
    /// on needs your own second factor first (409 `mfa_not_enabled`).
    pub require_mfa: Option<bool>,
}

#[derive(ApiResponse)]
pub enum CreateAccountResponse {
    /// The account; you have the role shown in it.
    #[oai(status = 201)]
    Created(Json<AccountView>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// API keys cannot create top-level accounts (`user_required`); a sub-account needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// The parent account does not exist or is not yours.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The parent already has a sub-account of that name (`duplicate_name`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The name is empty or too long (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(CreateAccountResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum ListAccountsResponse {
    /// A page of accounts.
    #[oai(status = 200)]
    Ok(Json<Page<AccountView>>),
    /// A bad `limit` or `cursor`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ListAccountsResponse { 400 => BadRequest });

#[derive(ApiResponse)]
pub enum GetAccountResponse {
    /// The account.
    #[oai(status = 200)]
    Ok(Json<AccountView>),
    /// No such account, or not yours.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetAccountResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum GetAccountTreeResponse {
    /// The tree below the account, children sorted by id.
    #[oai(status = 200)]
    Ok(Json<AccountTree>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(GetAccountTreeResponse { 404 => NotFound });

#[derive(ApiResponse)]
pub enum UpdateAccountResponse {
    /// The account as it is now.
    #[oai(status = 200)]
    Ok(Json<AccountView>),
    /// The body or a parameter could not be read (`invalid_request`; `details.field` names it when known).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Changing an account needs admin.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A sibling has that name (`duplicate_name`), or `require_mfa` was asked by a user who has
    /// no second factor themselves (`mfa_not_enabled`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// A value is not acceptable (`invalid_field`; `details.field` names it).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UpdateAccountResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

#[derive(ApiResponse)]
pub enum DeleteAccountResponse {
    /// Deleted, with its members, API keys and connections.
    #[oai(status = 204)]
    Deleted,
    /// Deleting needs owner.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The account still has sub-accounts or sources (`account_not_empty`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// The workflow service, which holds the account's verification schedule, is unavailable;
    /// nothing was deleted.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
}
error_responses!(DeleteAccountResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict, 503 => Unavailable });

/// The account's decryption key, for restoring its snapshots with standard tools.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none, example)]
pub struct AccountEncryptionKey {
    pub account_id: String,
    /// The age recipient (public key) every part and blob of the account is encrypted to.
    pub recipient: String,
    /// The age identity (`AGE-SECRET-KEY-1…`): save it as `key.txt` and decrypt with
    /// `age -d -i key.txt`. Anyone holding it can read every backup of the account.
    pub identity: String,
}

impl Example for AccountEncryptionKey {
    fn example() -> Self {
        Self {
            account_id: "019b76da-a800-7a3c-9e0d-5f2a41b8c6d3".into(),
            recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
            identity: "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
                .into(),
        }
    }
}

#[derive(ApiResponse)]
pub enum ExportAccountKeyResponse {
    /// The account's key. Sent with `Cache-Control: no-store`.
    #[oai(status = 200)]
    Ok(
        Json<AccountEncryptionKey>,
        #[oai(header = "Cache-Control")] String,
    ),
    /// Exporting the key needs owner.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The account holds its own key; the service has none to give (`key_not_held`).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(ExportAccountKeyResponse { 403 => Forbidden, 404 => NotFound, 409 => Conflict });

/// Hands the account's encryption over to a key only the customer holds.
#[derive(Object, Debug, Clone)]
#[oai(deny_unknown_fields, example)]
pub struct UseCustomerKey {
    /// The customer's age recipient (`age1…`): every part and file written from now on is
    /// encrypted to it.
    pub recipient: String,
    /// Must be `true`: the service discards its own key of this account and can no longer
    /// decrypt any of its snapshots. Export that key first (`GET …/encryption-key`) to keep the
    /// snapshots written so far readable.
    pub discard_service_key: bool,
}

impl Example for UseCustomerKey {
    fn example() -> Self {
        Self {
            recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into(),
            discard_service_key: true,
        }
    }
}

#[derive(ApiResponse)]
pub enum UseCustomerKeyResponse {
    /// The account now holds its own key (`customer_held_key: true`).
    #[oai(status = 200)]
    Ok(Json<AccountView>),
    /// The body cannot be read (`invalid_request`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Handing the key over needs owner.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such account (or not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// A job of the account is queued or running (`jobs_active`): its snapshot would mix keys.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// `recipient` is not an age recipient, or `discard_service_key` is not `true`
    /// (`invalid_field`).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// An internal error; quote the request id.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
}
error_responses!(UseCustomerKeyResponse { 400 => BadRequest, 403 => Forbidden, 404 => NotFound, 409 => Conflict, 422 => Unprocessable });

/// Creates an account with a fresh age identity sealed under the master key. A sibling with
/// the same name is a 409 `duplicate_name`.
pub async fn insert_account(
    db: &impl ConnectionTrait,
    master: &MasterKey,
    name: &Name,
    parent_id: Option<&str>,
) -> Result<account::Model, ApiError> {
    let key = AccountKey::generate();
    let sealed = key.seal_with(master).map_err(ApiError::internal)?;
    repo::create_account(db, name.as_str(), parent_id, &key.recipient(), Some(sealed))
        .await
        .map_err(|e| name_conflict(e, name))
}

fn name_conflict(e: sea_orm::DbErr, name: &Name) -> ApiError {
    ApiError::name_taken(
        e,
        format!("an account named `{}` already exists here", name.as_str()),
    )
}

async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<account::Model, ApiError> {
    if !caller.reaches(id) {
        return Err(ApiError::not_found("account", id));
    }
    account::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::not_found("account", id))
}

pub struct AccountsApi;

#[OpenApi(tag = "ApiTags::Accounts")]
impl AccountsApi {
    /// Creates a top-level account; you become its owner. Only users may (not API keys).
    #[oai(path = "/v1/accounts", method = "post", operation_id = "createAccount")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<CreateAccount>,
    ) -> CreateAccountResponse {
        respond(async {
            let user_id = auth.0.require_user()?;
            let name = Name::parse("name", &body.name)?;
            let txn = state.db.begin().await?;
            let acct = insert_account(&txn, &state.master, &name, None).await?;
            repo::add_membership(&txn, user_id, &acct.id, Role::Owner).await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "account.created",
                ("account", &acct.id),
                json!({"name": acct.name}),
            )
            .await?;
            txn.commit().await?;
            Ok(CreateAccountResponse::Created(Json(view(
                acct,
                Role::Owner,
            ))))
        })
        .await
    }

    /// Lists the accounts you reach: those you are a member of (or your API key's) and every
    /// sub-account below them, by id.
    #[oai(path = "/v1/accounts", method = "get", operation_id = "listAccounts")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Items per page, 1 to 200 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
    ) -> ListAccountsResponse {
        respond(async {
            let page = PageRequest::parse(limit.0, cursor.0)?;
            let reachable: Vec<String> = auth.0.reachable().map(str::to_owned).collect();
            let rows = page
                .apply(
                    account::Entity::find().filter(account::Column::Id.is_in(reachable)),
                    account::Column::Id,
                )
                .all(&state.db)
                .await?;
            let page = page.finish(rows, |a| a.id.clone()).map(|a| {
                let role = auth.0.role_in(&a.id).unwrap_or(Role::Viewer);
                view(a, role)
            });
            Ok(ListAccountsResponse::Ok(Json(page)))
        })
        .await
    }

    /// Gets an account.
    #[oai(
        path = "/v1/accounts/:account_id",
        method = "get",
        operation_id = "getAccount"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> GetAccountResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Viewer)?;
            let acct = find(&state, &auth.0, &account_id).await?;
            Ok(GetAccountResponse::Ok(Json(view(acct, role))))
        })
        .await
    }

    /// Exports the account's decryption key (its age identity), so its snapshots can be
    /// restored with `aws s3 cp`, `age -d` and `zstd -d` alone (`docs/restore-by-hand.md`).
    /// Needs owner; every export is in the activity log (`account.key_exported`).
    #[oai(
        path = "/v1/accounts/:account_id/encryption-key",
        method = "get",
        operation_id = "exportAccountKey"
    )]
    async fn export_key(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> ExportAccountKeyResponse {
        respond(async {
            auth.0.require(&account_id, Role::Owner)?;
            let acct = find(&state, &auth.0, &account_id).await?;
            let sealed = acct.encryption_identity_sealed.as_deref().ok_or_else(|| {
                ApiError::conflict(
                    "key_not_held",
                    "this account holds its own key; the service has none to export",
                )
            })?;
            let key = AccountKey::open_with(&state.master, sealed).map_err(ApiError::internal)?;
            activity::record(
                &state.db,
                &auth.0,
                &acct.id,
                "account.key_exported",
                ("account", &acct.id),
                json!({}),
            )
            .await?;
            Ok(ExportAccountKeyResponse::Ok(
                Json(AccountEncryptionKey {
                    account_id: acct.id,
                    recipient: key.recipient(),
                    identity: key.to_secret_string(),
                }),
                "no-store".into(),
            ))
        })
        .await
    }

    /// Renames an account, or requires a second factor of its members. Needs admin.
    #[oai(
        path = "/v1/accounts/:account_id",
        method = "patch",
        operation_id = "updateAccount"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<UpdateAccount>,
    ) -> UpdateAccountResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let acct = find(&state, &auth.0, &account_id).await?;
            let UpdateAccount { name, require_mfa } = body.0;
            let name = name.map(|n| Name::parse("name", &n)).transpose()?;
            if require_mfa == Some(true)
                && let Some(user_id) = auth.0.user_id()
                && !crate::mfa::has_second_factor(&state.db, user_id).await?
            {
                return Err(ApiError::conflict(
                    "mfa_not_enabled",
                    "set up your own second factor (POST /v1/me/mfa/totp) before requiring one of others",
                ));
            }
            let mut details = serde_json::Map::new();
            let mut changed = acct.clone().into_active_model();
            if let Some(name) = &name
                && name.as_str() != acct.name
            {
                details.insert("name".into(), json!({"from": acct.name, "to": name.as_str()}));
                changed.name = Set(name.as_str().to_owned());
            }
            if let Some(required) = require_mfa
                && required != acct.require_mfa
            {
                details.insert(
                    "require_mfa".into(),
                    json!({"from": acct.require_mfa, "to": required}),
                );
                changed.require_mfa = Set(required);
            }
            if details.is_empty() {
                return Ok(UpdateAccountResponse::Ok(Json(view(acct, role))));
            }
            let txn = state.db.begin().await?;
            let acct = match &name {
                Some(name) => changed
                    .update(&txn)
                    .await
                    .map_err(|e| name_conflict(e, name))?,
                None => changed.update(&txn).await?,
            };
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "account.updated",
                ("account", &acct.id),
                details.into(),
            )
            .await?;
            txn.commit().await?;
            Ok(UpdateAccountResponse::Ok(Json(view(acct, role))))
        })
        .await
    }

    /// Hands the account's encryption over to a key only the customer holds: from now on every
    /// part and file is encrypted to `recipient`, and the service's own key of the account is
    /// discarded, so the service can no longer decrypt. Reading snapshots through the API then
    /// needs the identity in `X-Listbackup-Identity`; exports need the service's key and are
    /// refused. Refused while a job of the account is queued or running. Needs owner.
    #[oai(
        path = "/v1/accounts/:account_id/encryption-key",
        method = "put",
        operation_id = "useCustomerKey"
    )]
    async fn use_customer_key(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<UseCustomerKey>,
    ) -> UseCustomerKeyResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Owner)?;
            let acct = find(&state, &auth.0, &account_id).await?;
            let recipient = storage::keys::parse_recipient(&body.recipient)
                .map_err(|_| {
                    ApiError::invalid_field(
                        "recipient",
                        "`recipient` must be an age X25519 recipient (age1…)",
                    )
                })?
                .to_string();
            if !body.discard_service_key {
                return Err(ApiError::invalid_field(
                    "discard_service_key",
                    "`discard_service_key` must be true: the service's key of this account is \
                     discarded (export it first to keep older snapshots readable)",
                ));
            }
            let txn = state.db.begin().await?;
            let active = entities::job::Entity::find()
                .filter(entities::job::Column::AccountId.eq(acct.id.as_str()))
                .filter(entities::job::Column::Status.is_in(entities::JobStatus::ACTIVE))
                .count(&txn)
                .await?;
            if active > 0 {
                return Err(ApiError::conflict(
                    "jobs_active",
                    format!(
                        "account {} has {active} queued or running job(s); hand the key over once they have finished",
                        acct.id
                    ),
                ));
            }
            let previous = acct.encryption_recipient.clone();
            let mut model = acct.into_active_model();
            model.encryption_recipient = Set(recipient.clone());
            model.encryption_identity_sealed = Set(None);
            let acct = model.update(&txn).await?;
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "account.key_handed_over",
                ("account", &acct.id),
                json!({"recipient": recipient, "previous_recipient": previous}),
            )
            .await?;
            txn.commit().await?;
            Ok(UseCustomerKeyResponse::Ok(Json(view(acct, role))))
        })
        .await
    }

    /// Deletes an account with its members, API keys and connections. Refused while it has
    /// sub-accounts or sources. Needs owner.
    #[oai(
        path = "/v1/accounts/:account_id",
        method = "delete",
        operation_id = "deleteAccount"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> DeleteAccountResponse {
        respond(async {
            auth.0.require(&account_id, Role::Owner)?;
            let acct = find(&state, &auth.0, &account_id).await?;
            let txn = state.db.begin().await?;
            if let Err(in_use) = repo::delete_account(&txn, &acct.id).await? {
                let what = match in_use {
                    repo::AccountInUse::SubAccounts => "sub-accounts",
                    repo::AccountInUse::Sources => "sources",
                };
                return Err(ApiError::conflict(
                    "account_not_empty",
                    format!("account {} still has {what}; delete them first", acct.id),
                ));
            }
            crate::verification_schedules::delete_for_account(
                &txn,
                &state.temporal.client,
                &acct.id,
            )
            .await?;
            // The log outlives the account: on its parent, or on the account's own id.
            let logged_on = acct.parent_id.as_deref().unwrap_or(&acct.id);
            activity::record(
                &txn,
                &auth.0,
                logged_on,
                "account.deleted",
                ("account", &acct.id),
                json!({"name": acct.name}),
            )
            .await?;
            txn.commit().await?;
            // Its policies went with it (cascade); so does its retention schedule, if it had one.
            if let Err(e) =
                temporal::delete_retention_schedule(&state.temporal.client, &acct.id).await
            {
                tracing::warn!(account_id = %acct.id, error = %e, "could not delete the retention schedule");
            }
            Ok(DeleteAccountResponse::Deleted)
        })
        .await
    }

    /// Creates a sub-account. Whoever has a role on the parent has it here too. Needs admin
    /// on the parent.
    #[oai(
        path = "/v1/accounts/:account_id/sub-accounts",
        method = "post",
        operation_id = "createSubAccount"
    )]
    async fn create_sub_account(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
        body: Json<CreateAccount>,
    ) -> CreateAccountResponse {
        respond(async {
            let role = auth.0.require(&account_id, Role::Admin)?;
            let parent = find(&state, &auth.0, &account_id).await?;
            let name = Name::parse("name", &body.name)?;
            let txn = state.db.begin().await?;
            let acct = insert_account(&txn, &state.master, &name, Some(&parent.id)).await?;
            let details = json!({"name": acct.name, "parent_id": parent.id});
            activity::record(
                &txn,
                &auth.0,
                &acct.id,
                "account.created",
                ("account", &acct.id),
                details,
            )
            .await?;
            txn.commit().await?;
            Ok(CreateAccountResponse::Created(Json(view(acct, role))))
        })
        .await
    }

    /// The account and every sub-account below it, as a tree.
    #[oai(
        path = "/v1/accounts/:account_id/tree",
        method = "get",
        operation_id = "getAccountTree"
    )]
    async fn tree(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        account_id: Path<String>,
    ) -> GetAccountTreeResponse {
        respond(async {
            auth.0.require(&account_id, Role::Viewer)?;
            let accounts =
                repo::accounts_below(&state.db, std::slice::from_ref(&account_id.0)).await?;
            let tree = build_tree(&auth.0, &account_id, &accounts)
                .ok_or_else(|| ApiError::not_found("account", &account_id))?;
            Ok(GetAccountTreeResponse::Ok(Json(tree)))
        })
        .await
    }
}

fn build_tree(caller: &Caller, id: &str, accounts: &[account::Model]) -> Option<AccountTree> {
    let a = accounts.iter().find(|a| a.id == id)?;
    let mut children: Vec<AccountTree> = accounts
        .iter()
        .filter(|c| c.parent_id.as_deref() == Some(id))
        .filter_map(|c| build_tree(caller, &c.id, accounts))
        .collect();
    children.sort_by(|x, y| x.id.cmp(&y.id));
    Some(AccountTree {
        id: a.id.clone(),
        name: a.name.clone(),
        parent_id: a.parent_id.clone(),
        role: caller.role_in(&a.id).unwrap_or(Role::Viewer).into(),
        children,
    })
}
