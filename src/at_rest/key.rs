//! Encryption keys: [`EncryptionKey`], where they come from ([`KeyProvider`]),
//! and the in-memory provider that reads them from the environment ([`Keyring`]).

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::{Zeroize, Zeroizing};

/// The environment variable [`Keyring::from_env`] reads: one base64-encoded
/// 32-byte key, or several as `id:base64,id:base64` with the current key first.
pub const KEYS_ENV: &str = "STOREFRONT_TOKEN_KEYS";

/// The id [`Keyring::parse`] gives a key written without one.
const DEFAULT_KEY_ID: &str = "default";
const KEY_LEN: usize = 32;
const MAX_ID_LEN: usize = 64;

/// A 256-bit key with an id. `Debug` and `Display` show only the id; the bytes
/// are zeroed on drop.
///
/// ```
/// use storefront_token::at_rest::EncryptionKey;
///
/// let key = EncryptionKey::generate("2026-11").unwrap();
/// let again = EncryptionKey::from_base64("2026-11", &key.to_base64()).unwrap();
/// assert_eq!(again.id(), "2026-11");
/// assert_eq!(format!("{key:?}"), r#"EncryptionKey { id: "2026-11", .. }"#);
/// ```
pub struct EncryptionKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl EncryptionKey {
    /// A key from its bytes. The id (1–64 of `A-Z a-z 0-9 _ . -`) is stored in the
    /// clear with every value sealed under the key.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for an invalid id.
    pub fn new(id: impl Into<String>, bytes: [u8; KEY_LEN]) -> Result<Self, KeyError> {
        let mut bytes = bytes;
        let key = Self {
            id: valid_id(id.into())?,
            bytes: Zeroizing::new(bytes),
        };
        bytes.zeroize();
        Ok(key)
    }

    /// A new random key from the operating system's generator.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for an invalid id, [`KeyError::Provider`] if the
    /// system's random generator fails.
    pub fn generate(id: impl Into<String>) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|error| KeyError::Provider {
            message: format!("the system's random generator failed: {error}"),
        })?;
        Self::new(id, *bytes)
    }

    /// A key from its standard base64 encoding (44 characters).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] if the text is not base64 of exactly 32 bytes, or
    /// for an invalid id.
    pub fn from_base64(id: impl Into<String>, encoded: &str) -> Result<Self, KeyError> {
        let decoded =
            Zeroizing::new(
                STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| KeyError::Invalid {
                        reason: "a key must be standard base64".into(),
                    })?,
            );
        let bytes: [u8; KEY_LEN] =
            decoded
                .as_slice()
                .try_into()
                .map_err(|_| KeyError::Invalid {
                    reason: format!("a key must be {KEY_LEN} bytes, got {}", decoded.len()),
                })?;
        Self::new(id, bytes)
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key in standard base64, for a key file or a secret manager.
    #[must_use]
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_slice()))
    }

    pub(super) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptionKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key {}", self.id)
    }
}

fn valid_id(id: String) -> Result<String, KeyError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(id)
    } else {
        Err(KeyError::Invalid {
            reason: format!("a key id is 1 to {MAX_ID_LEN} of A-Z a-z 0-9 _ . -"),
        })
    }
}

/// Where a [`Sealer`](super::Sealer) gets its keys: the current one to seal
/// with, and any known one by id to open with. Implement it to fetch keys from a
/// secret manager; [`Keyring`] holds them in memory.
pub trait KeyProvider: Send + Sync + fmt::Debug + 'static {
    /// The key new values are sealed with.
    ///
    /// # Errors
    /// [`KeyError`] when the provider cannot give one.
    fn current(&self) -> Result<Arc<EncryptionKey>, KeyError>;

    /// The key with this id, if the provider knows it.
    ///
    /// # Errors
    /// [`KeyError`] when the provider cannot answer.
    fn key(&self, id: &str) -> Result<Option<Arc<EncryptionKey>>, KeyError>;
}

/// Keys held in memory: one current key, and previous ones kept to open values
/// sealed before a rotation.
///
/// ```
/// use storefront_token::at_rest::{EncryptionKey, KeyProvider, Keyring};
///
/// let old = EncryptionKey::generate("2026-10").unwrap();
/// let new = EncryptionKey::generate("2026-11").unwrap();
/// let config = format!("2026-11:{},2026-10:{}", *new.to_base64(), *old.to_base64());
/// let keys = Keyring::parse(&config).unwrap();
/// assert_eq!(keys.current_id(), "2026-11");
/// assert!(keys.key("2026-10").unwrap().is_some());
/// ```
#[derive(Clone, Debug)]
pub struct Keyring {
    /// The current key first.
    keys: Vec<Arc<EncryptionKey>>,
}

impl Keyring {
    /// A keyring with one key, the current one.
    #[must_use]
    pub fn new(current: EncryptionKey) -> Self {
        Self {
            keys: vec![Arc::new(current)],
        }
    }

    /// Adds a previous key: values sealed with it still open. A key with an id
    /// already in the ring replaces nothing and is ignored.
    #[must_use]
    pub fn with_previous(mut self, key: EncryptionKey) -> Self {
        if !self.keys.iter().any(|known| known.id == key.id) {
            self.keys.push(Arc::new(key));
        }
        self
    }

    /// Keys from text: one base64 key (id `default`), or `id:base64,id:base64,…`
    /// with the current key first. Whitespace around entries is ignored.
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for malformed text, a bad key, or a repeated id.
    pub fn parse(config: &str) -> Result<Self, KeyError> {
        let mut keys: Vec<Arc<EncryptionKey>> = Vec::new();
        for entry in config.split(',').map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            let key = match entry.split_once(':') {
                Some((id, encoded)) => EncryptionKey::from_base64(id.trim(), encoded)?,
                None => EncryptionKey::from_base64(DEFAULT_KEY_ID, entry)?,
            };
            if keys.iter().any(|known| known.id == key.id) {
                return Err(KeyError::Invalid {
                    reason: format!("key id {:?} appears twice", key.id),
                });
            }
            keys.push(Arc::new(key));
        }
        if keys.is_empty() {
            return Err(KeyError::Invalid {
                reason: "no key given".into(),
            });
        }
        Ok(Self { keys })
    }

    /// Keys from the environment variable [`KEYS_ENV`], in [`parse`](Self::parse)'s
    /// format.
    ///
    /// # Errors
    /// [`KeyError::Missing`] if it is unset, or [`parse`](Self::parse)'s errors.
    pub fn from_env() -> Result<Self, KeyError> {
        Self::from_env_var(KEYS_ENV)
    }

    /// Keys from the environment variable `name`, in [`parse`](Self::parse)'s
    /// format.
    ///
    /// # Errors
    /// [`KeyError::Missing`] if it is unset or not Unicode, or
    /// [`parse`](Self::parse)'s errors (which never quote the value).
    pub fn from_env_var(name: &str) -> Result<Self, KeyError> {
        let value = Zeroizing::new(std::env::var(name).map_err(|_| KeyError::Missing {
            variable: name.to_owned(),
        })?);
        Self::parse(&value).map_err(|error| match error {
            KeyError::Invalid { reason } => KeyError::Invalid {
                reason: format!("{name}: {reason}"),
            },
            other => other,
        })
    }

    /// The keyring in [`parse`](Self::parse)'s format, for a key file.
    #[must_use]
    pub fn to_config_string(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::new());
        for (n, key) in self.keys.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(&key.id);
            out.push(':');
            out.push_str(&key.to_base64());
        }
        out
    }

    /// The current key's id.
    #[must_use]
    pub fn current_id(&self) -> &str {
        self.keys.first().map_or("", |key| key.id())
    }
}

impl KeyProvider for Keyring {
    fn current(&self) -> Result<Arc<EncryptionKey>, KeyError> {
        self.keys.first().cloned().ok_or(KeyError::Invalid {
            reason: "no key given".into(),
        })
    }

    fn key(&self, id: &str) -> Result<Option<Arc<EncryptionKey>>, KeyError> {
        Ok(self.keys.iter().find(|key| key.id == id).cloned())
    }
}

/// Keys could not be had. Never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The environment variable that should hold the keys is not set.
    #[error(
        "no encryption key: set {variable} (a base64 32-byte key, e.g. `openssl rand -base64 32`)"
    )]
    Missing {
        /// The variable.
        variable: String,
    },
    /// A key or a key configuration is malformed.
    #[error("invalid encryption key: {reason}")]
    Invalid {
        /// What is wrong (never the key).
        reason: String,
    },
    /// A key provider failed.
    #[error("key provider failed: {message}")]
    Provider {
        /// What failed.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(byte: u8) -> String {
        STANDARD.encode([byte; KEY_LEN])
    }

    #[test]
    fn one_bare_key_gets_the_default_id() {
        let ring = Keyring::parse(&format!(" {} ", b64(7))).unwrap();
        assert_eq!(ring.current_id(), "default");
        assert_eq!(ring.current().unwrap().bytes(), &[7; KEY_LEN]);
    }

    #[test]
    fn the_first_key_is_current_and_all_open() {
        let ring = Keyring::parse(&format!("new:{}, old:{}", b64(2), b64(1))).unwrap();
        assert_eq!(ring.current_id(), "new");
        assert_eq!(ring.key("old").unwrap().unwrap().bytes(), &[1; KEY_LEN]);
        assert!(ring.key("other").unwrap().is_none());
        let again = Keyring::parse(&ring.to_config_string()).unwrap();
        assert_eq!(again.current_id(), "new");
        assert!(again.key("old").unwrap().is_some());
    }

    #[test]
    fn malformed_configurations_are_refused_without_echoing_them() {
        let short = STANDARD.encode([9u8; 16]);
        for config in [
            String::new(),
            " , ".into(),
            "not base64!".into(),
            short.clone(),
            format!("a:{}, a:{}", b64(1), b64(2)),
            format!("bad id:{}", b64(1)),
            format!(":{}", b64(1)),
        ] {
            let error = Keyring::parse(&config).unwrap_err();
            assert!(
                matches!(error, KeyError::Invalid { .. }),
                "{config}: {error}"
            );
            assert!(!error.to_string().contains(&b64(1)));
            assert!(!error.to_string().contains(&short));
        }
    }

    #[test]
    fn debug_and_display_show_only_ids() {
        let key = EncryptionKey::new("k1", [0xAB; KEY_LEN]).unwrap();
        let encoded = key.to_base64();
        let ring = Keyring::new(key);
        let shown = format!("{ring:?} {}", ring.current().unwrap());
        assert!(shown.contains("k1"));
        assert!(!shown.contains(encoded.as_str()));
        assert!(!shown.contains("171")); // 0xAB as a decimal byte
    }

    #[test]
    fn a_missing_variable_names_it() {
        let error = Keyring::from_env_var("STOREFRONT_TOKEN_KEYS_TEST_UNSET_7F3A").unwrap_err();
        assert_eq!(
            error,
            KeyError::Missing {
                variable: "STOREFRONT_TOKEN_KEYS_TEST_UNSET_7F3A".into()
            }
        );
    }

    #[test]
    fn generated_keys_differ() {
        let a = EncryptionKey::generate("a").unwrap();
        let b = EncryptionKey::generate("b").unwrap();
        assert_ne!(a.bytes(), b.bytes());
    }
}
