//! Tokens at rest: a versioned byte encoding for credentials, and authenticated
//! encryption under keys that can be rotated.
//!
//! Shopify's advice for customer access tokens is to never store them in plain
//! text. Every built-in store that writes outside the process
//! ([`RedisStore`](crate::renewal::RedisStore),
//! [`FileStore`](crate::renewal::FileStore)) seals each token with a [`Sealer`]
//! before it leaves memory; a store of your own (SQL, say) can do the same in
//! two calls, without ever reaching for `expose_secret`:
//!
//! ```
//! use chrono::{TimeDelta, Utc};
//! use storefront_token::at_rest::{EncryptionKey, Keyring, Sealer};
//! use storefront_token::{AccessToken, CustomerAccessToken};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sealer = Sealer::new(Keyring::new(EncryptionKey::generate("2026-11")?));
//! let now = Utc::now();
//! let token = CustomerAccessToken::new(AccessToken::new("secret"), now + TimeDelta::days(42));
//!
//! // The token id is bound to the sealed value: copied to another row, it does not open.
//! let sealed = sealer.seal_token("customer-1", &token, now)?;
//! let (opened, issued_at) = sealer.open_token::<CustomerAccessToken>("customer-1", &sealed)?;
//! assert_eq!((opened, issued_at), (token, now));
//! assert!(sealer.open_token::<CustomerAccessToken>("customer-2", &sealed).is_err());
//! # Ok(())
//! # }
//! ```
//!
//! # The model
//!
//! - **Cipher:** XChaCha20-Poly1305 (RustCrypto), a fresh random 192-bit nonce per
//!   value, the token id as associated data.
//! - **Keys:** 32 random bytes with an id, from a [`KeyProvider`]. The default
//!   provider, [`Keyring`], reads them from the environment variable
//!   [`KEYS_ENV`] (`STOREFRONT_TOKEN_KEYS`): one base64 key, or several as
//!   `id:base64,id:base64` with the current one first.
//! - **Rotation:** values are sealed with the current key and opened with whichever
//!   key sealed them (its id travels in the clear with the value). To rotate, put
//!   the new key first and keep the old one after it; the stores' `reseal` pass
//!   rewrites old values under the new key, after which the old key can go.
//! - **Format** (version 1): `[0x01][key-id length][key id][24-byte nonce][ciphertext
//!   and 16-byte tag]`. The plaintext is [`StorableCredential::encode`] of the
//!   credential, prefixed with the issue time (see [`Sealer::seal_token`]).
//!
//! Keys never appear in `Debug`, `Display` or errors; [`EncryptionKey`] is zeroed
//! on drop.

mod codec;
mod key;
mod seal;

pub use codec::{DecodeError, StorableCredential};
pub use key::{EncryptionKey, KeyError, KeyProvider, Keyring, KEYS_ENV};
pub use seal::{SealError, Sealer};
