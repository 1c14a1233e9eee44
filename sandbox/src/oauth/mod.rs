//! A platform-neutral OAuth 2.0 authorization server for the fakes: authorization code with
//! PKCE, refresh tokens (optionally single-use and rotating, as Keap's are), expiring access
//! tokens, and revocation. Each OAuth platform's fake checks bearer tokens against it.
//!
//! Routes (`/oauth/{platform}/…`): `GET authorize` approves at once and redirects back with a
//! code, `POST token` exchanges a code or a refresh token (`client_secret_basic` or
//! `client_secret_post`), `POST revoke` revokes a token.
//!
//! Time is the wall clock shifted by a test-controlled offset ([`OAuthAuthority::advance`]),
//! so "the access token expired mid-run" is a deterministic step in a test.

mod routes;

pub(crate) use routes::{client_authenticated, routes};

use rand::{Rng, distributions::Alphanumeric};
use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicI64, AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

/// The client the fakes accept.
pub const CLIENT_ID: &str = "listbackup-sandbox-client";
pub const CLIENT_SECRET: &str = "listbackup-sandbox-secret";

/// How one platform's tokens behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Access token lifetime.
    pub access_ttl_secs: i64,
    /// Each refresh returns a new refresh token and invalidates the old one (Keap).
    pub rotate_refresh_tokens: bool,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            access_ttl_secs: 3600,
            rotate_refresh_tokens: false,
        }
    }
}

/// Tokens handed out by a successful grant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IssuedTokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: i64,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Unknown,
    Expired,
    Revoked,
}

#[derive(Debug)]
struct AccessToken {
    platform: String,
    expires_at: i64,
    revoked: bool,
}

#[derive(Debug)]
struct RefreshToken {
    platform: String,
    used: bool,
    revoked: bool,
}

#[derive(Debug)]
struct PendingCode {
    platform: String,
    redirect_uri: String,
    challenge: Option<String>,
    expires_at: i64,
}

#[derive(Debug, Default)]
struct State {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, PendingCode>,
    policies: HashMap<String, TokenPolicy>,
}

/// The authorization server shared by every OAuth fake.
#[derive(Debug, Default)]
pub struct OAuthAuthority {
    state: Mutex<State>,
    clock_offset: AtomicI64,
    refreshes: AtomicU64,
}

fn token(prefix: &str) -> String {
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    format!("{prefix}_{random}")
}

impl OAuthAuthority {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Now, in unix seconds, on the authority's clock.
    pub fn now(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        wall + self.clock_offset.load(Ordering::SeqCst)
    }

    /// Moves the clock forward, e.g. past every access token's expiry.
    pub fn advance(&self, secs: i64) {
        self.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }

    pub fn set_policy(&self, platform: &str, policy: TokenPolicy) {
        self.lock().policies.insert(platform.to_owned(), policy);
    }

    pub fn policy(&self, platform: &str) -> TokenPolicy {
        self.lock()
            .policies
            .get(platform)
            .copied()
            .unwrap_or_default()
    }

    /// Issues tokens directly, as a completed authorization would.
    pub fn issue(&self, platform: &str) -> IssuedTokens {
        let expires_at = self.now() + self.policy(platform).access_ttl_secs;
        let mut state = self.lock();
        let access_token = token("at");
        let refresh_token = token("rt");
        state.access.insert(
            access_token.clone(),
            AccessToken {
                platform: platform.to_owned(),
                expires_at,
                revoked: false,
            },
        );
        state.refresh.insert(
            refresh_token.clone(),
            RefreshToken {
                platform: platform.to_owned(),
                used: false,
                revoked: false,
            },
        );
        IssuedTokens {
            access_token,
            refresh_token,
            expires_at,
        }
    }

    /// Checks a bearer token presented to `platform`'s API.
    pub fn check(&self, platform: &str, access_token: &str) -> Result<(), TokenRejection> {
        let now = self.now();
        let state = self.lock();
        match state.access.get(access_token) {
            Some(t) if t.platform != platform => Err(TokenRejection::Unknown),
            Some(t) if t.revoked => Err(TokenRejection::Revoked),
            Some(t) if t.expires_at <= now => Err(TokenRejection::Expired),
            Some(_) => Ok(()),
            None => Err(TokenRejection::Unknown),
        }
    }

    /// Revokes every token of `platform` (the user disconnected the app).
    pub fn revoke_all(&self, platform: &str) {
        let mut state = self.lock();
        state
            .access
            .values_mut()
            .filter(|t| t.platform == platform)
            .for_each(|t| t.revoked = true);
        state
            .refresh
            .values_mut()
            .filter(|t| t.platform == platform)
            .for_each(|t| t.revoked = true);
    }

    /// How many refresh grants succeeded (all platforms).
    pub fn refresh_count(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    /// Records an authorization request; returns the code to redirect back with.
    fn authorize(&self, platform: &str, redirect_uri: &str, challenge: Option<String>) -> String {
        let code = token("code");
        let expires_at = self.now() + 600;
        self.lock().codes.insert(
            code.clone(),
            PendingCode {
                platform: platform.to_owned(),
                redirect_uri: redirect_uri.to_owned(),
                challenge,
                expires_at,
            },
        );
        code
    }

    /// The authorization-code grant: single use, bound to the redirect URI and the PKCE challenge.
    pub(crate) fn exchange_code(
        &self,
        platform: &str,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Result<IssuedTokens, GrantError> {
        let pending = self
            .lock()
            .codes
            .remove(code)
            .ok_or(GrantError::InvalidGrant("unknown or used code"))?;
        if pending.platform != platform || pending.redirect_uri != redirect_uri {
            return Err(GrantError::InvalidGrant(
                "code was issued for another client or redirect URI",
            ));
        }
        if pending.expires_at <= self.now() {
            return Err(GrantError::InvalidGrant("code expired"));
        }
        if let Some(challenge) = pending.challenge {
            use base64::Engine;
            use sha2::Digest;
            let verifier = verifier.ok_or(GrantError::InvalidGrant("code_verifier missing"))?;
            let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge {
                return Err(GrantError::InvalidGrant(
                    "code_verifier does not match the challenge",
                ));
            }
        }
        Ok(self.issue(platform))
    }

    /// The refresh grant. With rotation, a refresh token works once; presenting a used one
    /// revokes the whole family, as a token-theft defence.
    pub(crate) fn exchange_refresh(
        &self,
        platform: &str,
        refresh_token: &str,
    ) -> Result<IssuedTokens, GrantError> {
        let policy = self.policy(platform);
        let expires_at = self.now() + policy.access_ttl_secs;
        let mut state = self.lock();
        let entry = state
            .refresh
            .get_mut(refresh_token)
            .filter(|t| t.platform == platform)
            .ok_or(GrantError::InvalidGrant("unknown refresh token"))?;
        if entry.revoked {
            return Err(GrantError::InvalidGrant("refresh token revoked"));
        }
        if entry.used {
            drop(state);
            self.revoke_all(platform);
            return Err(GrantError::InvalidGrant("refresh token already used"));
        }
        let next_refresh = if policy.rotate_refresh_tokens {
            entry.used = true;
            let fresh = token("rt");
            state.refresh.insert(
                fresh.clone(),
                RefreshToken {
                    platform: platform.to_owned(),
                    used: false,
                    revoked: false,
                },
            );
            fresh
        } else {
            refresh_token.to_owned()
        };
        let access_token = token("at");
        state.access.insert(
            access_token.clone(),
            AccessToken {
                platform: platform.to_owned(),
                expires_at,
                revoked: false,
            },
        );
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(IssuedTokens {
            access_token,
            refresh_token: next_refresh,
            expires_at,
        })
    }
}

/// An OAuth error response (`error` as RFC 6749 §5.2 names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GrantError {
    InvalidClient,
    InvalidGrant(&'static str),
    InvalidRequest(&'static str),
    UnsupportedGrantType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotating_refresh_tokens_work_once_and_reuse_revokes_the_family() {
        let authority = OAuthAuthority::default();
        authority.set_policy(
            "keap",
            TokenPolicy {
                access_ttl_secs: 60,
                rotate_refresh_tokens: true,
            },
        );
        let first = authority.issue("keap");
        let second = authority
            .exchange_refresh("keap", &first.refresh_token)
            .unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert!(authority.check("keap", &second.access_token).is_ok());
        assert_eq!(
            authority.exchange_refresh("keap", &first.refresh_token),
            Err(GrantError::InvalidGrant("refresh token already used"))
        );
        assert_eq!(
            authority.check("keap", &second.access_token),
            Err(TokenRejection::Revoked)
        );
        assert!(
            authority
                .exchange_refresh("keap", &second.refresh_token)
                .is_err()
        );
        assert_eq!(authority.refresh_count(), 1);
    }

    #[test]
    fn access_tokens_expire_on_the_authority_clock() {
        let authority = OAuthAuthority::default();
        authority.set_policy(
            "drive",
            TokenPolicy {
                access_ttl_secs: 60,
                rotate_refresh_tokens: false,
            },
        );
        let tokens = authority.issue("drive");
        assert!(authority.check("drive", &tokens.access_token).is_ok());
        assert_eq!(
            authority.check("dropbox", &tokens.access_token),
            Err(TokenRejection::Unknown)
        );
        authority.advance(61);
        assert_eq!(
            authority.check("drive", &tokens.access_token),
            Err(TokenRejection::Expired)
        );
        let again = authority
            .exchange_refresh("drive", &tokens.refresh_token)
            .unwrap();
        assert_eq!(
            again.refresh_token, tokens.refresh_token,
            "without rotation the refresh token stays"
        );
        assert!(authority.check("drive", &again.access_token).is_ok());
    }

    #[test]
    fn codes_are_single_use_and_bound_to_pkce() {
        use base64::Engine;
        use sha2::Digest;
        let authority = OAuthAuthority::default();
        let verifier = "a-long-random-verifier-string-of-enough-length-1234567890";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let code = authority.authorize("slack", "https://app/cb", Some(challenge));
        assert!(
            authority
                .exchange_code("slack", &code, "https://app/cb", Some("wrong"))
                .is_err()
        );
        let code = authority.authorize(
            "slack",
            "https://app/cb",
            Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes())),
            ),
        );
        assert!(
            authority
                .exchange_code("slack", &code, "https://app/cb", Some(verifier))
                .is_ok()
        );
        assert!(
            authority
                .exchange_code("slack", &code, "https://app/cb", Some(verifier))
                .is_err(),
            "single use"
        );
    }
}
