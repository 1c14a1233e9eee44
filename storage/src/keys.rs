//! age X25519 keys: the server's master key and one key per account.
//!
//! Each account's parts are encrypted to the account's recipient (`age1...`). The account's
//! identity is stored in the database sealed under the server's [`MasterKey`], so a database dump
//! alone decrypts nothing. An account owner can export the identity (`AGE-SECRET-KEY-1...`) and
//! restore with stock `age`, which is why keys are plain age X25519 keys rather than anything of
//! our own.
//!
//! `Debug` is redacted on both types: keys travel inside structs that get logged.

use std::fmt;

use age::secrecy::ExposeSecret;
use age::x25519::{Identity, Recipient};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::StorageError;

/// The server's own key; it seals account keys and other secrets kept in the database.
pub struct MasterKey(Identity);

impl MasterKey {
    pub fn generate() -> Self {
        Self(Identity::generate())
    }

    /// Parses `AGE-SECRET-KEY-1...`; surrounding whitespace (a key file's newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        parse_identity(text).map(Self)
    }

    /// The secret in age's text form, for writing the dev `master.key` file.
    pub fn to_secret_string(&self) -> String {
        self.0.to_string().expose_secret().to_owned()
    }

    /// Encrypts to this key's own recipient, in the binary age format.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
        age::encrypt(&self.0.to_public(), plaintext)
            .map_err(|e| StorageError::Crypto(format!("seal: {e}")))
    }

    pub fn open(&self, ciphertext: &[u8]) -> Result<Vec<u8>, StorageError> {
        age::decrypt(&self.0, ciphertext).map_err(|e| StorageError::Crypto(format!("open: {e}")))
    }

    /// [`seal`](Self::seal) as standard base64, for text columns.
    pub fn seal_string(&self, plaintext: &str) -> Result<String, StorageError> {
        Ok(BASE64.encode(self.seal(plaintext.as_bytes())?))
    }

    pub fn open_string(&self, sealed: &str) -> Result<String, StorageError> {
        let ciphertext = BASE64
            .decode(sealed.trim())
            .map_err(|e| StorageError::Decode(format!("sealed value is not base64: {e}")))?;
        String::from_utf8(self.open(&ciphertext)?)
            .map_err(|_| StorageError::Decode("sealed value is not UTF-8 text".into()))
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// An account's key: parts of the account's snapshots are encrypted to its recipient.
pub struct AccountKey {
    identity: Identity,
}

impl AccountKey {
    pub fn generate() -> Self {
        Self {
            identity: Identity::generate(),
        }
    }

    /// The public half, `age1...`; safe to store and show.
    pub fn recipient(&self) -> String {
        self.identity.to_public().to_string()
    }

    /// `AGE-SECRET-KEY-1...`, the content of a `key.txt` for `age -d -i key.txt`.
    pub fn to_secret_string(&self) -> String {
        self.identity.to_string().expose_secret().to_owned()
    }

    pub fn parse(text: &str) -> Result<Self, StorageError> {
        parse_identity(text).map(|identity| Self { identity })
    }

    /// The identity sealed under `master`, as base64 text for the database.
    pub fn seal_with(&self, master: &MasterKey) -> Result<String, StorageError> {
        master.seal_string(self.identity.to_string().expose_secret())
    }

    pub fn open_with(master: &MasterKey, sealed: &str) -> Result<Self, StorageError> {
        Self::parse(&master.open_string(sealed)?)
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountKey")
            .field("recipient", &self.recipient())
            .field("identity", &"<redacted>")
            .finish()
    }
}

/// Parses an `age1...` recipient (an account's, or one the customer supplied).
pub fn parse_recipient(text: &str) -> Result<Recipient, StorageError> {
    text.trim()
        .parse::<Recipient>()
        .map_err(|_| StorageError::InvalidKey("not an age X25519 recipient (age1...)"))
}

fn parse_identity(text: &str) -> Result<Identity, StorageError> {
    // age's own error text is static, but we still use our own so that no future version can
    // echo the input (a secret) into a log line.
    text.trim()
        .parse::<Identity>()
        .map_err(|_| StorageError::InvalidKey("not an age X25519 secret key (AGE-SECRET-KEY-1...)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_round_trips_through_text() {
        let key = MasterKey::generate();
        let text = key.to_secret_string();
        assert!(text.starts_with("AGE-SECRET-KEY-1"));
        let parsed = MasterKey::parse(&format!("  {text}\n")).expect("parse");
        assert_eq!(parsed.to_secret_string(), text);
    }

    #[test]
    fn master_seal_open_round_trip() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"hello secrets").expect("seal");
        assert!(
            sealed.starts_with(b"age-encryption.org/v1\n"),
            "binary age format"
        );
        assert_eq!(key.open(&sealed).expect("open"), b"hello secrets");

        let text = key.seal_string("oauth-refresh-token").expect("seal_string");
        assert_eq!(
            key.open_string(&text).expect("open_string"),
            "oauth-refresh-token"
        );
    }

    #[test]
    fn wrong_master_key_fails() {
        let sealed = MasterKey::generate().seal_string("x").expect("seal");
        let err = MasterKey::generate().open_string(&sealed).unwrap_err();
        assert!(matches!(err, StorageError::Crypto(_)), "{err:?}");
    }

    #[test]
    fn garbage_sealed_text_is_a_decode_error() {
        let err = MasterKey::generate()
            .open_string("not base64 !!")
            .unwrap_err();
        assert!(matches!(err, StorageError::Decode(_)), "{err:?}");
    }

    #[test]
    fn invalid_key_text_is_not_echoed() {
        let secret = "AGE-SECRET-KEY-1NOTREALLYAKEYBUTSECRET";
        let err = MasterKey::parse(secret).unwrap_err();
        assert!(!err.to_string().contains(secret));
        assert!(!format!("{err:?}").contains("NOTREALLY"));
        let err = AccountKey::parse(secret).unwrap_err();
        assert!(!err.to_string().contains("NOTREALLY"));
    }

    #[test]
    fn account_key_seal_with_master_round_trip() {
        let master = MasterKey::generate();
        let account = AccountKey::generate();
        assert!(account.recipient().starts_with("age1"));
        let sealed = account.seal_with(&master).expect("seal");
        assert!(!sealed.contains("AGE-SECRET-KEY"));
        let opened = AccountKey::open_with(&master, &sealed).expect("open");
        assert_eq!(opened.recipient(), account.recipient());
        assert_eq!(opened.to_secret_string(), account.to_secret_string());

        let other = MasterKey::generate();
        assert!(AccountKey::open_with(&other, &sealed).is_err());
    }

    #[test]
    fn account_key_parses_its_secret_string() {
        let account = AccountKey::generate();
        let parsed = AccountKey::parse(&account.to_secret_string()).expect("parse");
        assert_eq!(parsed.recipient(), account.recipient());
        assert!(parse_recipient(&account.recipient()).is_ok());
        assert!(parse_recipient("age1nope").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let master = MasterKey::generate();
        let account = AccountKey::generate();
        assert!(!format!("{master:?}").contains("AGE-SECRET-KEY"));
        let shown = format!("{account:?}");
        assert!(!shown.contains("AGE-SECRET-KEY"));
        assert!(shown.contains(&account.recipient()));
    }
}
