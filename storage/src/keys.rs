//! age X25519 keys: the server's master key and one key per account.
//!
//! Each account's parts are encrypted to the account's recipient (`age1...`). The account's
//! identity is stored in the database sealed under the server's [`MasterKey`], so a database dump
//! alone decrypts nothing. An account owner can export the identity (`AGE-SECRET-KEY-1...`) and
//! restore with stock `age`, which is why keys are plain age X25519 keys rather than anything of
//! our own.
//!
//! `Debug` is redacted on both types: keys travel inside structs that get logged.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use age::secrecy::ExposeSecret;
use age::x25519::{Identity, Recipient};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::StorageError;

/// The server's own key; it seals account keys and other secrets kept in the database.
///
/// While the key is being rotated, the keys it replaces are kept as *previous* keys: values
/// sealed under them still open, and everything new is sealed under the current key.
/// `listbackup rotate-master-key` then re-seals what the database holds (see
/// `docs/operations.md`).
pub struct MasterKey {
    current: Identity,
    previous: Vec<Identity>,
}

impl MasterKey {
    pub fn generate() -> Self {
        Self::from_identity(Identity::generate())
    }

    fn from_identity(current: Identity) -> Self {
        Self {
            current,
            previous: Vec::new(),
        }
    }

    /// Parses `AGE-SECRET-KEY-1...`; surrounding whitespace (a key file's newline) is ignored.
    pub fn parse(text: &str) -> Result<Self, StorageError> {
        parse_identity(text).map(Self::from_identity)
    }

    /// The same key, also opening values sealed under `previous` (keys being rotated out).
    /// `previous` is one or more `AGE-SECRET-KEY-1...`, separated by whitespace or commas.
    pub fn with_previous(mut self, previous: &str) -> Result<Self, StorageError> {
        self.previous = previous
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|k| !k.is_empty())
            .map(parse_identity)
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// How many previous keys this key still opens values of.
    pub fn previous_keys(&self) -> usize {
        self.previous.len()
    }

    /// The secret in age's text form, for writing the dev `master.key` file.
    pub fn to_secret_string(&self) -> String {
        self.current.to_string().expose_secret().to_owned()
    }

    /// Encrypts to the current key's recipient, in the binary age format.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
        age::encrypt(&self.current.to_public(), plaintext)
            .map_err(|e| StorageError::Crypto(format!("seal: {e}")))
    }

    /// Decrypts a value sealed under the current key or one of the previous keys.
    pub fn open(&self, ciphertext: &[u8]) -> Result<Vec<u8>, StorageError> {
        let decryptor = age::Decryptor::new_buffered(ciphertext)
            .map_err(|e| StorageError::Crypto(format!("open: {e}")))?;
        let identities = std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|i| i as &dyn age::Identity);
        let mut reader = decryptor
            .decrypt(identities)
            .map_err(|e| StorageError::Crypto(format!("open: {e}")))?;
        let mut plaintext = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut plaintext)
            .map_err(|e| StorageError::Crypto(format!("open: {e}")))?;
        Ok(plaintext)
    }

    /// Whether a sealed text value (see [`seal_string`](Self::seal_string)) opens with the
    /// current key alone, i.e. needs no re-sealing.
    pub fn sealed_under_current(&self, sealed: &str) -> bool {
        BASE64
            .decode(sealed.trim())
            .is_ok_and(|ciphertext| age::decrypt(&self.current, &ciphertext).is_ok())
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

/// Identities that accounts holding their own key handed over for one piece of work (an
/// export, a verification), in this process's memory only: never written anywhere, dropped when
/// the work lets them go, or once unused for their time to live (each use restarts it, so a
/// long piece of work keeps its key while it uses it). Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct HeldIdentities {
    held: Arc<Mutex<Held>>,
}

/// Work id -> the key, its deadline and its time to live.
type Held = HashMap<String, (Arc<AccountKey>, Instant, Duration)>;

impl HeldIdentities {
    /// Holds `key` for the work `id`, until unused for `ttl`.
    pub fn hold(&self, id: &str, key: AccountKey, ttl: Duration) {
        let mut held = self.lock();
        held.insert(id.to_owned(), (Arc::new(key), Instant::now() + ttl, ttl));
    }

    /// The key held for `id`, unless its time ran out; using it restarts its time to live.
    pub fn get(&self, id: &str) -> Option<Arc<AccountKey>> {
        let mut held = self.lock();
        let (key, until, ttl) = held.get_mut(id)?;
        *until = Instant::now() + *ttl;
        Some(key.clone())
    }

    /// Drops the key held for `id`.
    pub fn release(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map, with every key whose time ran out dropped first.
    fn lock(&self) -> MutexGuard<'_, Held> {
        // A panic while holding the lock leaves a consistent map: keep using it.
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        held.retain(|_, (_, until, _)| *until > now);
        held
    }
}

impl fmt::Debug for HeldIdentities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeldIdentities({} held)", self.len())
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
    #[test]
    fn held_identities_expire_and_are_released() {
        let held = HeldIdentities::default();
        let key = AccountKey::generate();
        let recipient = key.recipient();
        held.hold("e1", key, Duration::from_secs(60));
        held.hold("e2", AccountKey::generate(), Duration::ZERO);
        assert_eq!(held.get("e1").unwrap().recipient(), recipient);
        assert!(held.get("e2").is_none(), "past its deadline");
        held.release("e1");
        assert!(held.get("e1").is_none());
        held.hold("e3", AccountKey::generate(), Duration::from_secs(60));
        assert_eq!(
            held.len(),
            1,
            "expired keys are dropped when another is held"
        );
        assert!(!format!("{held:?}").contains("AGE-SECRET"));
    }

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
    fn a_rotated_key_opens_values_of_its_previous_keys_and_seals_under_the_new_one() {
        let old = MasterKey::generate();
        let older = MasterKey::generate();
        let sealed_old = old.seal_string("old secret").expect("seal");
        let sealed_older = older.seal_string("older secret").expect("seal");
        let previous = format!("{}, {}\n", old.to_secret_string(), older.to_secret_string());
        let new = MasterKey::generate()
            .with_previous(&previous)
            .expect("previous keys");
        assert_eq!(new.previous_keys(), 2);
        assert_eq!(new.open_string(&sealed_old).unwrap(), "old secret");
        assert_eq!(new.open_string(&sealed_older).unwrap(), "older secret");
        assert!(!new.sealed_under_current(&sealed_old));

        let resealed = new.seal_string("old secret").expect("seal");
        assert!(new.sealed_under_current(&resealed));
        let alone = MasterKey::parse(&new.to_secret_string()).expect("parse");
        assert_eq!(alone.open_string(&resealed).unwrap(), "old secret");
        assert!(
            old.open_string(&resealed).is_err(),
            "the old key no longer opens re-sealed values"
        );
        assert!(MasterKey::generate().with_previous("not-a-key").is_err());
        assert_eq!(
            MasterKey::generate()
                .with_previous("  ")
                .unwrap()
                .previous_keys(),
            0
        );
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
