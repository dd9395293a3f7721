//! Secrets at rest: every [`Value::Secret`] a run writes to a store — in
//! journal records and snapshots alike — is sealed with XChaCha20-Poly1305
//! first, so a store (file, memory, database, bucket) only ever holds
//! ciphertext and needs to know nothing about it.
//!
//! - The key is 32 bytes, supplied by the program ([`SecretsKey`]) or derived
//!   from a passphrase (`DAFNCK_PASSPHRASE`) by Argon2id with a random salt.
//! - The state records how its key is made in an [`Encryption`] header (the
//!   salt and KDF parameters, and a *check value*: a fixed text sealed with
//!   the key), so the same passphrase derives the same key, and a wrong one
//!   is refused before any value is opened.
//! - A sealed secret is still a [`Value::Secret`], whose content is the
//!   marker `{"$sealed": "v1.xchacha20poly1305.<base64 nonce ‖ ciphertext>"}`:
//!   self-describing (version and algorithm), and shown as `(secret)` like
//!   any secret. Every value gets its own random 24-byte nonce.
//! - [`SealingStore`] wraps the engine's store: it seals on `append` and
//!   `compact`, and opens on `read` when it has the key. Without the key a
//!   state still loads, its secrets sealed.
//!
//! # Without a key
//! - A preview works: sealed secrets render as `(secret)`, and a desired
//!   secret compared with a sealed one is planned as a change the plan
//!   marks "may change" (it cannot be compared, like Pulumi, which compares
//!   after decrypting).
//! - Everything that writes (`up`, a saved plan, `destroy`, `refresh`,
//!   `import`, `state rm`) is refused before anything is written or any
//!   provider is called, with an error naming `DAFNCK_PASSPHRASE`; so are
//!   `drift` and `preview --refresh`, which would see every sealed secret
//!   as changed.
//! - A program with secrets on a state without them is refused too rather
//!   than writing plain text, unless it opted out with
//!   [`KeySource::InsecurePlaintext`].
//! - A state written in plain text (before this existed) loads as it is;
//!   the first write with a key records an [`Encryption`] header and the
//!   run's compaction seals everything.
//!
//! # Caveats
//! - The associated data is a constant, not the value's place in the
//!   state: someone who can write to the store can swap two sealed values
//!   (but neither read nor forge one).
//! - Changing the passphrase (re-keying a state) is not offered yet.

mod store;
mod walk;

pub use store::SealingStore;
pub use walk::{holds_plaintext_secrets, holds_sealed_secrets, is_sealed};
pub(crate) use walk::{
    open as open_value_in_place, seal as seal_value_in_place, visit_resource_mut,
};

use std::fmt;
use std::sync::{Arc, Mutex};

use base64ct::{Base64, Encoding};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::secret::Secret;
use crate::value::Value;

/// The marker key of a sealed secret's content.
pub(crate) const SEALED_KEY: &str = "$sealed";
/// The prefix of every sealed text this version writes.
const SEALED_PREFIX: &str = "v1.xchacha20poly1305.";
/// The cipher's name in an [`Encryption`] header.
const CIPHER: &str = "xchacha20poly1305";
/// Binds every ciphertext to its purpose.
const AAD: &[u8] = b"dafnck secret v1";
/// What the check value seals.
const CHECK_TEXT: &[u8] = b"dafnck secrets key check";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A 32-byte key that encrypts a state's secrets. Wiped from memory when
/// dropped; `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SecretsKey([u8; 32]);

impl SecretsKey {
    /// A key from its bytes (say, read from a key management service).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretsKey(bytes)
    }

    /// A new random key (from the operating system's generator).
    ///
    /// # Panics
    /// When the operating system gives no random bytes.
    pub fn generate() -> Self {
        SecretsKey(random())
    }
}

impl Drop for SecretsKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

/// Where the engine gets the key for a stack's secrets.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// No key: a state with sealed secrets still loads (for planning, its
    /// secrets shown as `(secret)`), but writing any secret is refused.
    #[default]
    None,
    /// Derive the key from this passphrase with Argon2id (the salt and
    /// parameters come from the state, or are made for a new one).
    Passphrase(Secret<String>),
    /// Use this key as it is.
    Key(SecretsKey),
    /// Write secrets to the state in plain text. For throwaway stacks and
    /// tests only; sealed secrets already in a state stay unreadable.
    InsecurePlaintext,
}

impl KeySource {
    /// Whether this source gives a key.
    pub fn has_key(&self) -> bool {
        matches!(self, KeySource::Passphrase(_) | KeySource::Key(_))
    }

    /// What to tell the user to give, in messages.
    pub(crate) fn what(&self) -> &'static str {
        match self {
            KeySource::Passphrase(_) => "passphrase (DAFNCK_PASSPHRASE)",
            KeySource::Key(_) => "secrets key the program gave",
            KeySource::None | KeySource::InsecurePlaintext => "key",
        }
    }
}

/// How a state's secrets are encrypted: recorded in the state (snapshot and
/// journal) so the key can be derived again and checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Encryption {
    /// The AEAD (`xchacha20poly1305`).
    pub cipher: String,
    /// How the key is derived from a passphrase; `None` when the program
    /// supplies the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<Kdf>,
    /// A fixed text sealed with the key: opening it tells a right key from
    /// a wrong one before any secret is touched.
    pub check: String,
}

/// Argon2id parameters and salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    /// `argon2id`.
    pub algorithm: String,
    /// Argon2 version (19, i.e. 0x13).
    pub version: u32,
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// The random salt, base64.
    pub salt: String,
}

impl Kdf {
    /// New parameters with a fresh 16-byte salt: Argon2's recommended
    /// defaults (19 MiB, 2 passes, 1 lane).
    fn new() -> Self {
        Kdf {
            algorithm: "argon2id".into(),
            version: 0x13,
            memory_kib: argon2::Params::DEFAULT_M_COST,
            iterations: argon2::Params::DEFAULT_T_COST,
            parallelism: argon2::Params::DEFAULT_P_COST,
            salt: Base64::encode_string(&random::<16>()),
        }
    }

    fn derive(&self, passphrase: &str) -> Result<SecretsKey, String> {
        if self.algorithm != "argon2id" || self.version != 0x13 {
            return Err(format!(
                "the key derivation {} version {} is not supported (this version knows argon2id 19)",
                self.algorithm, self.version
            ));
        }
        let salt = Base64::decode_vec(&self.salt).map_err(|e| format!("the salt: {e}"))?;
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| format!("the key derivation parameters: {e}"))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, &mut key)
            .map_err(|e| format!("the key derivation failed: {e}"))?;
        let out = SecretsKey(key);
        key.zeroize();
        Ok(out)
    }
}

/// Why a sealed value could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Not a sealed text this version knows.
    Format(String),
    /// The key is wrong or the ciphertext was changed.
    Authentication,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Format(m) => f.write_str(m),
            OpenError::Authentication => f.write_str(
                "a sealed secret does not authenticate: it was changed, or sealed with another key",
            ),
        }
    }
}

/// A key ready to seal and open values.
pub(crate) struct Cipher {
    aead: XChaCha20Poly1305,
}

impl Cipher {
    pub(crate) fn new(key: &SecretsKey) -> Self {
        Cipher {
            aead: XChaCha20Poly1305::new(&key.0.into()),
        }
    }

    /// Seals bytes: `v1.xchacha20poly1305.<base64 nonce ‖ ciphertext ‖ tag>`.
    pub(crate) fn seal_bytes(&self, plaintext: &[u8]) -> String {
        let nonce: [u8; NONCE_LEN] = random();
        let ciphertext = self
            .aead
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: AAD,
                },
            )
            // Only inputs longer than 256 GiB fail.
            .expect("XChaCha20-Poly1305 seals any value that fits in memory");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", Base64::encode_string(&blob))
    }

    /// Opens what [`Cipher::seal_bytes`] made.
    pub(crate) fn open_bytes(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        let body = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(|| {
            OpenError::Format(format!(
                "a sealed secret has an unknown format (expected the prefix {SEALED_PREFIX:?})"
            ))
        })?;
        let blob = Base64::decode_vec(body)
            .map_err(|e| OpenError::Format(format!("a sealed secret is not base64: {e}")))?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Format("a sealed secret is too short".into()));
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce's length");
        self.aead
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: AAD,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| OpenError::Authentication)
    }

    /// Seals a secret's content into the marker a store keeps.
    pub(crate) fn seal_value(&self, inner: &Value) -> Value {
        let plain = Zeroizing::new(inner.to_json().to_string().into_bytes());
        let sealed = self.seal_bytes(&plain);
        Value::Map([(SEALED_KEY.to_owned(), Value::String(sealed))].into())
    }

    /// Opens a sealed marker's text back into the secret's content.
    pub(crate) fn open_value(&self, sealed: &str) -> Result<Value, OpenError> {
        let plain = self.open_bytes(sealed)?;
        let json: serde_json::Value = serde_json::from_slice(&plain)
            .map_err(|e| OpenError::Format(format!("a sealed secret holds no value: {e}")))?;
        Ok(Value::from_json(json))
    }

    /// Whether `header`'s check value opens with this key.
    fn checks(&self, header: &Encryption) -> bool {
        self.open_bytes(&header.check)
            .is_ok_and(|text| text.as_slice() == CHECK_TEXT)
    }
}

/// Why the keyring cannot give a cipher for a state.
#[derive(Debug)]
pub(crate) enum KeyError {
    /// The key or passphrase is not the one the state was encrypted with.
    Wrong(&'static str),
    /// The header or the source cannot make a key.
    Unusable(String),
}

/// The engine's key source and the ciphers derived from it, one per
/// header (a passphrase's Argon2id derivation runs once per salt).
#[derive(Debug, Default)]
pub(crate) struct Keyring {
    source: KeySource,
    ciphers: Mutex<Vec<(Encryption, Arc<Cipher>)>>,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Keyring {
    pub(crate) fn new(source: KeySource) -> Self {
        Keyring {
            source,
            ciphers: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn source(&self) -> &KeySource {
        &self.source
    }

    fn cached(&self, header: &Encryption) -> Option<Arc<Cipher>> {
        let ciphers = self.ciphers.lock().unwrap_or_else(|p| p.into_inner());
        ciphers
            .iter()
            .find(|(h, _)| h == header)
            .map(|(_, c)| Arc::clone(c))
    }

    fn remember(&self, header: Encryption, cipher: Arc<Cipher>) {
        let mut ciphers = self.ciphers.lock().unwrap_or_else(|p| p.into_inner());
        ciphers.push((header, cipher));
    }

    /// The cipher for a state with `header`: `None` without a key, an error
    /// when the key is not the state's.
    pub(crate) fn cipher_for(&self, header: &Encryption) -> Result<Option<Arc<Cipher>>, KeyError> {
        if !self.source.has_key() {
            return Ok(None);
        }
        if let Some(c) = self.cached(header) {
            return Ok(Some(c));
        }
        if header.cipher != CIPHER {
            return Err(KeyError::Unusable(format!(
                "the state's secrets use the cipher {:?}, which this version does not know",
                header.cipher
            )));
        }
        let key = match (&self.source, &header.kdf) {
            (KeySource::Passphrase(p), Some(kdf)) => {
                kdf.derive(p.expose()).map_err(KeyError::Unusable)?
            }
            (KeySource::Key(k), None) => k.clone(),
            (KeySource::Passphrase(_), None) => {
                return Err(KeyError::Unusable(
                    "the state's secrets are encrypted with a key the program supplied, \
                     not with a passphrase; give the program's key (`secrets_key`)"
                        .into(),
                ))
            }
            (KeySource::Key(_), Some(_)) => {
                return Err(KeyError::Unusable(
                    "the state's secrets are encrypted with a key derived from a passphrase; \
                     set DAFNCK_PASSPHRASE instead of supplying a key"
                        .into(),
                ))
            }
            (KeySource::None | KeySource::InsecurePlaintext, _) => return Ok(None),
        };
        let cipher = Cipher::new(&key);
        if !cipher.checks(header) {
            return Err(KeyError::Wrong(self.source.what()));
        }
        let cipher = Arc::new(cipher);
        self.remember(header.clone(), Arc::clone(&cipher));
        Ok(Some(cipher))
    }

    /// A header (and its cipher) for a state that has none yet; `None`
    /// without a key.
    pub(crate) fn new_header(&self) -> Result<Option<Encryption>, KeyError> {
        let (key, kdf) = match &self.source {
            KeySource::Passphrase(p) => {
                let kdf = Kdf::new();
                (
                    kdf.derive(p.expose()).map_err(KeyError::Unusable)?,
                    Some(kdf),
                )
            }
            KeySource::Key(k) => (k.clone(), None),
            KeySource::None | KeySource::InsecurePlaintext => return Ok(None),
        };
        let cipher = Cipher::new(&key);
        let header = Encryption {
            cipher: CIPHER.into(),
            kdf,
            check: cipher.seal_bytes(CHECK_TEXT),
        };
        self.remember(header.clone(), Arc::new(cipher));
        Ok(Some(header))
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system gives random bytes");
    bytes
}

#[cfg(test)]
mod tests;
