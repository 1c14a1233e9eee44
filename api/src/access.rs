//! Who is calling and what they may do in each account.
//!
//! A request carries either a user's access token or an API key; both become one [`Caller`]:
//! the grants it holds directly (a user's memberships, or the key's one account and role) and,
//! resolved from those, its role in every account it reaches. The account tree decides: a role
//! on an account applies to every account below it; a role on a sub-account never reaches its
//! parent. Where a caller holds roles at several levels, the highest applies.
//!
//! Roles rank owner > admin > operator > viewer, each including everything below it:
//!
//! | role | may |
//! |---|---|
//! | viewer | read the account and everything in it |
//! | operator | also start, cancel and retry jobs |
//! | admin | also manage connections, sources, schedules, sub-accounts, members (not owners) and API keys (up to their own role) |
//! | owner | everything: also owners, and deleting the account |
//!
//! An account that requires a second factor (`require_mfa`), and every account below it, is out
//! of reach of users who have none: it answers 404 as if not reached (its message names the
//! reason, to the account's own members only), and `GET /v1/me/accounts` lists it with
//! `mfa_required`. API keys are not people and are not held back.
//!
//! Handlers check with [`Caller::require`]: an account the caller does not reach answers 404,
//! exactly like one that does not exist (no existence leak); one it reaches with too low a role
//! answers 403. For an object addressed by its own id (`/v1/jobs/{id}`), look it up, then
//! `require` its `account_id`.

use crate::error::ApiError;
use entities::{Role, account, repo};
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::{HashMap, HashSet};

/// Whose credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user; `session_id` is the refresh-token family their access token names.
    User { user_id: String, session_id: String },
    /// An API key of one account.
    ApiKey { key_id: String, account_id: String },
}

/// A role held directly on an account: a membership, or an API key's own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub account_id: String,
    pub role: Role,
}

/// The caller of a request and its role in every account it reaches.
#[derive(Debug, Clone)]
pub struct Caller {
    principal: Principal,
    grants: Vec<Grant>,
    roles: HashMap<String, Role>,
    /// Accounts the caller would reach (with this role) but for the second factor they lack.
    withheld: HashMap<String, Role>,
}

impl Caller {
    /// Loads the caller's reach: the accounts below its grants, one query per tree level.
    /// `second_factor` says whether a user has one; without, accounts that require it (and those
    /// below them) are withheld.
    pub async fn load(
        db: &impl ConnectionTrait,
        principal: Principal,
        grants: Vec<Grant>,
        second_factor: bool,
    ) -> Result<Self, DbErr> {
        let roots: Vec<String> = grants.iter().map(|g| g.account_id.clone()).collect();
        let accounts = repo::accounts_below(db, &roots).await?;
        let mut caller = Self::resolve(principal, grants, &accounts);
        if !second_factor && matches!(caller.principal, Principal::User { .. }) {
            // A requirement above a grant applies below it too (a top-level root has nothing
            // above it to ask about).
            let mut required_above = HashSet::new();
            let top_level: HashSet<&str> = accounts
                .iter()
                .filter(|a| a.parent_id.is_none())
                .map(|a| a.id.as_str())
                .collect();
            for root in roots.iter().filter(|r| !top_level.contains(r.as_str())) {
                if repo::account_ancestors(db, root)
                    .await?
                    .iter()
                    .any(|a| a.require_mfa)
                {
                    required_above.insert(root.clone());
                }
            }
            caller.withhold(&accounts, &required_above);
        }
        Ok(caller)
    }

    /// Moves every account that requires a second factor — itself, through an account above it
    /// in `accounts`, or through `required_above` (grant roots whose ancestors require it) — from
    /// the caller's reach to `withheld`.
    fn withhold(&mut self, accounts: &[account::Model], required_above: &HashSet<String>) {
        let by_id: HashMap<&str, &account::Model> =
            accounts.iter().map(|a| (a.id.as_str(), a)).collect();
        for a in accounts {
            let mut at = Some(a);
            let mut steps = 0;
            let required = loop {
                let Some(acct) = at else { break false };
                if acct.require_mfa || required_above.contains(&acct.id) {
                    break true;
                }
                at = acct
                    .parent_id
                    .as_deref()
                    .and_then(|p| by_id.get(p).copied());
                steps += 1;
                if steps > accounts.len() {
                    break false;
                }
            };
            if required && let Some(role) = self.roles.remove(&a.id) {
                self.withheld.insert(a.id.clone(), role);
            }
        }
    }

    /// The caller, given its grants and the accounts below them (each with its parent).
    pub fn resolve(principal: Principal, grants: Vec<Grant>, accounts: &[account::Model]) -> Self {
        let parent: HashMap<&str, Option<&str>> = accounts
            .iter()
            .map(|a| (a.id.as_str(), a.parent_id.as_deref()))
            .collect();
        let mut direct: HashMap<&str, Role> = HashMap::new();
        for g in &grants {
            let role = direct.entry(g.account_id.as_str()).or_insert(g.role);
            *role = (*role).max(g.role);
        }
        let mut roles = HashMap::new();
        for a in accounts {
            // The highest grant on the account or any account above it.
            let mut best: Option<Role> = None;
            let mut at = Some(a.id.as_str());
            let mut steps = 0;
            while let Some(id) = at {
                if let Some(&r) = direct.get(id) {
                    best = best.max(Some(r));
                }
                at = parent.get(id).copied().flatten();
                steps += 1;
                if steps > accounts.len() {
                    break;
                }
            }
            if let Some(role) = best {
                roles.insert(a.id.clone(), role);
            }
        }
        Self {
            principal,
            grants,
            roles,
            withheld: HashMap::new(),
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The user behind the request, when it is a user's access token.
    pub fn user_id(&self) -> Option<&str> {
        match &self.principal {
            Principal::User { user_id, .. } => Some(user_id),
            Principal::ApiKey { .. } => None,
        }
    }

    /// The roles the caller holds directly.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Who did it, for the activity log: `user:{id}` or `api_key:{id}`.
    pub fn actor(&self) -> String {
        match &self.principal {
            Principal::User { user_id, .. } => format!("user:{user_id}"),
            Principal::ApiKey { key_id, .. } => format!("api_key:{key_id}"),
        }
    }

    /// The caller's role in `account_id`, if it reaches the account at all.
    pub fn role_in(&self, account_id: &str) -> Option<Role> {
        self.roles.get(account_id).copied()
    }

    /// The accounts held back for want of a second factor, with the role the caller would have.
    pub fn withheld(&self) -> impl Iterator<Item = (&str, Role)> {
        self.withheld.iter().map(|(id, role)| (id.as_str(), *role))
    }

    /// The role the caller would have in `account_id` with a second factor, if it is held back.
    pub fn withheld_role(&self, account_id: &str) -> Option<Role> {
        self.withheld.get(account_id).copied()
    }

    /// True when the caller may see `account_id` and the objects in it.
    pub fn reaches(&self, account_id: &str) -> bool {
        self.roles.contains_key(account_id)
    }

    /// True when the caller may start, cancel and retry jobs in `account_id`.
    pub fn can_operate(&self, account_id: &str) -> bool {
        self.role_in(account_id)
            .is_some_and(|r| r >= Role::Operator)
    }

    /// Every account the caller reaches, in no particular order.
    pub fn reachable(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// The caller's role in `account_id` if it is at least `needed`: 404 when the caller does not
    /// reach the account (as if it did not exist), 403 when its role is lower.
    pub fn require(&self, account_id: &str, needed: Role) -> Result<Role, ApiError> {
        match self.role_in(account_id) {
            None if self.withheld.contains_key(account_id) => Err(ApiError::new(
                poem::http::StatusCode::NOT_FOUND,
                "not_found",
                format!(
                    "account {account_id} is out of your reach until you have a second factor: \
                     it requires one (set it up at POST /v1/me/mfa/totp)"
                ),
            )),
            None => Err(ApiError::not_found("account", account_id)),
            Some(role) if role >= needed => Ok(role),
            Some(role) => Err(ApiError::forbidden(
                "forbidden",
                format!("this needs the {needed} role or above; yours here is {role}"),
            )),
        }
    }

    /// 403 `user_required` for API keys: some things only a person may do.
    pub fn require_user(&self) -> Result<&str, ApiError> {
        self.user_id().ok_or_else(|| {
            ApiError::forbidden(
                "user_required",
                "this needs a signed-in user; API keys may not do it",
            )
        })
    }
}

/// A role, as the API reads and writes it: `owner`, `admin`, `operator` or `viewer`.
#[derive(poem_openapi::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename = "Role", rename_all = "lowercase")]
pub enum RoleName {
    Owner,
    Admin,
    Operator,
    Viewer,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Owner => Self::Owner,
            Role::Admin => Self::Admin,
            Role::Operator => Self::Operator,
            Role::Viewer => Self::Viewer,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Owner => Self::Owner,
            RoleName::Admin => Self::Admin,
            RoleName::Operator => Self::Operator,
            RoleName::Viewer => Self::Viewer,
        }
    }
}

/// 403 `role_too_high` unless `granted` is at most the caller's own `role`: nobody hands out
/// more than they hold.
pub fn require_grantable(role: Role, granted: Role) -> Result<(), ApiError> {
    if granted > role {
        return Err(ApiError::forbidden(
            "role_too_high",
            format!("you may grant roles up to your own ({role}), not {granted}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, parent: Option<&str>) -> account::Model {
        account::Model {
            id: id.into(),
            name: id.into(),
            parent_id: parent.map(Into::into),
            encryption_recipient: "age1".into(),
            encryption_identity_sealed: None,
            created_at: chrono::Utc::now(),
            require_mfa: false,
        }
    }

    fn user() -> Principal {
        Principal::User {
            user_id: "usr_1".into(),
            session_id: "ses_1".into(),
        }
    }

    #[test]
    fn a_role_reaches_down_the_tree_and_never_up() {
        // root -> child -> grandchild; the user is a viewer of root and an admin of child.
        let accounts = [
            account("root", None),
            account("child", Some("root")),
            account("grandchild", Some("child")),
        ];
        let grants = vec![
            Grant {
                account_id: "root".into(),
                role: Role::Viewer,
            },
            Grant {
                account_id: "child".into(),
                role: Role::Admin,
            },
        ];
        let caller = Caller::resolve(user(), grants, &accounts);
        assert_eq!(caller.role_in("root"), Some(Role::Viewer));
        assert_eq!(caller.role_in("child"), Some(Role::Admin));
        assert_eq!(caller.role_in("grandchild"), Some(Role::Admin));
        assert!(!caller.can_operate("root"));
        assert!(caller.can_operate("grandchild"));
        assert_eq!(caller.actor(), "user:usr_1");

        // A key of the child reaches the grandchild, not the root.
        let key = Caller::resolve(
            Principal::ApiKey {
                key_id: "key_1".into(),
                account_id: "child".into(),
            },
            vec![Grant {
                account_id: "child".into(),
                role: Role::Operator,
            }],
            &accounts[1..],
        );
        assert!(!key.reaches("root"));
        assert_eq!(key.role_in("grandchild"), Some(Role::Operator));
        assert_eq!(key.require("root", Role::Viewer).unwrap_err().status(), 404);
        assert_eq!(key.require("child", Role::Admin).unwrap_err().status(), 403);
        assert_eq!(
            key.require("child", Role::Operator).unwrap(),
            Role::Operator
        );
        assert_eq!(key.require_user().unwrap_err().code(), "user_required");
    }

    #[test]
    fn an_account_requiring_a_second_factor_is_withheld_with_those_below_it() {
        let mut strict = account("strict", Some("root"));
        strict.require_mfa = true;
        let accounts = [
            account("root", None),
            strict,
            account("below", Some("strict")),
            account("beside", Some("root")),
        ];
        let grants = vec![Grant {
            account_id: "root".into(),
            role: Role::Admin,
        }];
        let mut caller = Caller::resolve(user(), grants, &accounts);
        caller.withhold(&accounts, &HashSet::new());
        assert!(caller.reaches("root") && caller.reaches("beside"));
        assert!(!caller.reaches("strict") && !caller.reaches("below"));
        let err = caller.require("below", Role::Viewer).unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.message().contains("second factor"), "{err:?}");
        assert_eq!(
            caller
                .require("nowhere", Role::Viewer)
                .unwrap_err()
                .status(),
            404
        );

        // A grant below an account that requires it, known from the grant's ancestors.
        let grants = vec![Grant {
            account_id: "below".into(),
            role: Role::Viewer,
        }];
        let mut caller = Caller::resolve(user(), grants, &accounts[2..3]);
        caller.withhold(&accounts[2..3], &HashSet::from(["below".to_owned()]));
        assert!(!caller.reaches("below"));
    }

    #[test]
    fn roles_rank_owner_admin_operator_viewer() {
        assert!(Role::Owner > Role::Admin);
        assert!(Role::Admin > Role::Operator);
        assert!(Role::Operator > Role::Viewer);
        assert_eq!(Role::ALL.iter().max(), Some(&Role::Owner));
    }
}
