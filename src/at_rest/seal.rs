//! Sealing and opening values: [`Sealer`], XChaCha20-Poly1305 under the keys of a
//! [`KeyProvider`].

use std::fmt;
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use super::codec::{decode_record, encode_record, DecodeError, StorableCredential};
use super::key::{EncryptionKey, KeyError, KeyProvider};

/// The first byte of a sealed value in format 1.
const SEALED_FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Separates the associated data of different uses of one key.
const DOMAIN: &[u8] = b"storefront-token/at-rest/v1\0";

/// Seals values with the current key of a [`KeyProvider`] and opens them with
/// whichever key sealed them. Cheap to clone; `Debug` shows no key material.
///
/// See the [module documentation](super) for the model and the format.
#[derive(Clone)]
pub struct Sealer {
    keys: Arc<dyn KeyProvider>,
}

impl Sealer {
    /// A sealer over `keys`.
    #[must_use]
    pub fn new(keys: impl KeyProvider) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }

    /// A sealer over a shared provider.
    #[must_use]
    pub fn from_provider(keys: Arc<dyn KeyProvider>) -> Self {
        Self { keys }
    }

    /// Seals `plaintext` with the current key, binding `associated` (the value's
    /// id, say): opening needs the same `associated`.
    ///
    /// # Errors
    /// [`SealError::Key`] when the provider has no current key, or the system's
    /// random generator fails.
    pub fn seal(&self, associated: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let key = self.keys.current()?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|error| {
            SealError::Key(KeyError::Provider {
                message: format!("the system's random generator failed: {error}"),
            })
        })?;
        let aad = associated_data(&key, associated);
        let ciphertext = cipher(&key)
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| SealError::Malformed)?;
        let id = key.id().as_bytes();
        let mut sealed = Vec::with_capacity(2 + id.len() + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_FORMAT_V1);
        // Ids are at most 64 bytes (checked by `EncryptionKey::new`).
        sealed.push(u8::try_from(id.len()).map_err(|_| SealError::Malformed)?);
        sealed.extend_from_slice(id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a value from [`seal`](Self::seal) with the key that sealed it.
    ///
    /// # Errors
    /// [`SealError::Malformed`] if it is not a sealed value,
    /// [`SealError::UnknownKey`] if the provider lacks the key it names,
    /// [`SealError::DoesNotOpen`] for a wrong key, a changed value, or a value
    /// sealed for another `associated`.
    pub fn open(&self, associated: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let parts = Parts::parse(sealed).ok_or(SealError::Malformed)?;
        let key = self
            .keys
            .key(parts.key_id)?
            .ok_or_else(|| SealError::UnknownKey {
                key_id: parts.key_id.to_owned(),
            })?;
        let nonce = XNonce::try_from(parts.nonce).map_err(|_| SealError::Malformed)?;
        let aad = associated_data(&key, associated);
        cipher(&key)
            .decrypt(
                &nonce,
                Payload {
                    msg: parts.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::DoesNotOpen)
    }

    /// Seals a credential and its issue time, bound to the token id `id`: what the
    /// stores write.
    ///
    /// # Errors
    /// As [`seal`](Self::seal).
    pub fn seal_token<C: StorableCredential>(
        &self,
        id: &str,
        credential: &C,
        issued_at: DateTime<Utc>,
    ) -> Result<Vec<u8>, SealError> {
        self.seal(id.as_bytes(), &encode_record(credential, issued_at))
    }

    /// Opens what [`seal_token`](Self::seal_token) sealed for `id`.
    ///
    /// # Errors
    /// As [`open`](Self::open), and [`SealError::Decode`] if the plaintext is not
    /// a record of a known format.
    pub fn open_token<C: StorableCredential>(
        &self,
        id: &str,
        sealed: &[u8],
    ) -> Result<(C, DateTime<Utc>), SealError> {
        let plaintext = self.open(id.as_bytes(), sealed)?;
        decode_record(&plaintext).map_err(SealError::Decode)
    }

    /// The id of the key that sealed `sealed`, if it is a sealed value.
    #[must_use]
    pub fn key_id_of(sealed: &[u8]) -> Option<&str> {
        Parts::parse(sealed).map(|parts| parts.key_id)
    }

    /// Whether `sealed` was sealed with the current key; a re-seal pass rewrites
    /// the values for which it is not.
    ///
    /// # Errors
    /// [`SealError::Key`] when the provider has no current key,
    /// [`SealError::Malformed`] if `sealed` is not a sealed value.
    pub fn is_sealed_with_current(&self, sealed: &[u8]) -> Result<bool, SealError> {
        let key_id = Self::key_id_of(sealed).ok_or(SealError::Malformed)?;
        Ok(self.keys.current()?.id() == key_id)
    }
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("keys", &self.keys).finish()
    }
}

fn cipher(key: &EncryptionKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&(*key.bytes()).into())
}

/// The domain, the key id (so a value cannot be relabelled to another key with
/// the same bytes), and the caller's associated data.
fn associated_data(key: &EncryptionKey, associated: &[u8]) -> Vec<u8> {
    let id = key.id().as_bytes();
    let mut aad = Vec::with_capacity(DOMAIN.len() + 1 + id.len() + associated.len());
    aad.extend_from_slice(DOMAIN);
    aad.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    aad.extend_from_slice(id);
    aad.extend_from_slice(associated);
    aad
}

/// A sealed value taken apart.
struct Parts<'a> {
    key_id: &'a str,
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Parts<'a> {
    fn parse(sealed: &'a [u8]) -> Option<Self> {
        let (&format, rest) = sealed.split_first()?;
        if format != SEALED_FORMAT_V1 {
            return None;
        }
        let (&id_len, rest) = rest.split_first()?;
        let (key_id, rest) = rest.split_at_checked(usize::from(id_len))?;
        let key_id = std::str::from_utf8(key_id)
            .ok()
            .filter(|id| !id.is_empty())?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN)?;
        (ciphertext.len() >= TAG_LEN).then_some(Self {
            key_id,
            nonce,
            ciphertext,
        })
    }
}

/// A value could not be sealed or opened. Never holds key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No key to seal or open with.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The value was sealed with a key the provider does not have (removed before
    /// a re-seal pass, or the wrong keys configured).
    #[error("sealed with key {key_id:?}, which is not configured")]
    UnknownKey {
        /// The id of the key that sealed the value.
        key_id: String,
    },
    /// The value does not open: the key with that id is a different key, the value
    /// was changed, or it was sealed for another id (copied from another entry).
    #[error("sealed value does not open: wrong key, changed value, or sealed for another id")]
    DoesNotOpen,
    /// Not a sealed value of a known format (truncated or corrupt).
    #[error("not a sealed value (corrupt, truncated, or of an unknown format)")]
    Malformed,
    /// Opened, but the plaintext is not a stored token of a known format.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

#[cfg(test)]
mod tests;
