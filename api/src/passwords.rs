//! Passwords: argon2id (the crate's defaults, OWASP's minimum: 19 MiB, 2 passes), stored as
//! PHC strings. Hashing is slow on purpose, so it runs on the blocking pool.

use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use std::sync::OnceLock;

/// The shortest password accepted, in characters.
pub const MIN_LEN: usize = 10;
/// The longest password accepted, in characters (hashing cost grows with the input).
pub const MAX_LEN: usize = 1024;

/// The PHC string for `password`.
pub async fn hash(password: String) -> Result<String, String> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| e.to_string())?
}

fn hash_now(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// True when `password` matches `stored`. With no stored hash (an unknown email, or a user
/// without a password) a hash is still checked, so the answer takes as long either way.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("no user has this password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let stored = super::hash("correct horse battery".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery".into(), Some(stored.clone())).await);
        assert!(!super::verify("wrong horse battery".into(), Some(stored)).await);
        assert!(!super::verify("no user has this password".into(), None).await);
        assert!(!super::verify("x".into(), Some("not a phc string".into())).await);
    }
}
