//! Access tokens: short-lived JWTs (HS256) naming a user and their sign-in session.
//!
//! An access token lives 15 minutes and carries `sub` (the user id) and `sid` (the refresh-token
//! family of the sign-in). Every request also checks that the family is still active, so signing
//! out, or a refresh token used twice, ends the access tokens of that sign-in at once rather than
//! when they expire.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL: Duration = Duration::minutes(15);
/// How long a refresh token is valid; each refresh issues a new one.
pub const REFRESH_TOKEN_TTL: Duration = Duration::days(30);
/// The shortest `LISTBACKUP_JWT_SECRET` accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

const ISSUER: &str = "listbackup";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    /// The sign-in session (refresh-token family).
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and verifies access tokens with one HMAC secret.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(<redacted>)")
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Clocks of API replicas may differ a little; tokens are short-lived anyway.
        validation.leeway = 30;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A new access token for `user_id` in session `session_id`, and when it expires.
    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<(String, DateTime<Utc>), jsonwebtoken::errors::Error> {
        let now = Utc::now();
        let expires_at = now + ACCESS_TOKEN_TTL;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user_id.into(),
            sid: session_id.into(),
            iat: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, expires_at))
    }

    /// The claims of a token this service signed and that has not expired.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|t| t.claims)
    }
}

/// The signing secret derived from the master key, for deployments that do not set
/// `LISTBACKUP_JWT_SECRET`: every replica with the same master key derives the same secret,
/// and the derivation is one-way, so a token secret never reveals the master key.
pub fn derive_secret(master_key_secret: &str) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(b"listbackup access-token signing key v1\0");
    hash.update(master_key_secret.as_bytes());
    hash.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_secret_and_before_expiry() {
        let keys = TokenKeys::new(&[7; 32]);
        let (token, expires_at) = keys.issue("usr_1", "ses_1").unwrap();
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str()),
            ("usr_1", "ses_1")
        );
        assert_eq!(claims.exp, expires_at.timestamp());
        assert!(TokenKeys::new(&[8; 32]).verify(&token).is_none());
        assert!(keys.verify(&format!("{token}x")).is_none());

        let expired = Claims {
            iss: ISSUER.into(),
            sub: "usr_1".into(),
            sid: "ses_1".into(),
            iat: 0,
            exp: (Utc::now() - Duration::minutes(5)).timestamp(),
        };
        let old =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &expired, &keys.encoding).unwrap();
        assert!(keys.verify(&old).is_none());
    }

    #[test]
    fn the_derived_secret_depends_on_the_master_key() {
        assert_eq!(derive_secret("a"), derive_secret("a"));
        assert_ne!(derive_secret("a"), derive_secret("b"));
        assert!(derive_secret("a").len() >= MIN_SECRET_LEN);
    }
}
