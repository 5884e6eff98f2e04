//! [`RedisStore`] itself: what every clone shares, its accessors, and turning
//! replies into stored tokens.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use redis::Value;

use super::connection::Connection;
use super::keys::Keys;
use crate::at_rest::{Sealer, StorableCredential};
use crate::renewal::{StoreError, StoredToken, TokenId};
use crate::Clock;

/// A [`TokenStore`](crate::renewal::TokenStore) in Redis, shared by every
/// replica of an app; values sealed at rest. See the [module docs](self) for
/// the key layout, the scripts and the lease clock.
///
/// Cheap to clone (one connection, shared). Its `Debug` shows the server's
/// address, database and the prefix: never a password or a key.
#[derive(Clone)]
pub struct RedisStore {
    pub(super) inner: Arc<Inner>,
}

/// What every clone shares.
pub(super) struct Inner {
    pub(super) connection: Connection,
    pub(super) keys: Keys,
    pub(super) sealer: Sealer,
    /// `None`: leases run on Redis's own clock (`TIME`).
    pub(super) lease_clock: Option<Arc<dyn Clock>>,
    /// `host:port/db`, for `Debug` (no credentials).
    pub(super) server: String,
    pub(super) skipped_on_load: AtomicU64,
}

impl RedisStore {
    /// How many round trips to Redis this store (all its clones) has made: one
    /// per call of the [`TokenStore`](crate::renewal::TokenStore) protocol
    /// (two when a restarted Redis had to be sent a script again), one per
    /// batch of a scan and one per batch's pipeline. For tests and benchmarks.
    #[must_use]
    pub fn round_trips(&self) -> u64 {
        self.inner.connection.round_trips()
    }

    /// How many stored entries [`load_all`](crate::renewal::TokenStore::load_all)
    /// has skipped over this store's life because they did not open (sealed with
    /// an unknown key, corrupt, copied from another id) or were malformed. Each
    /// one is also logged (`tracing::warn!`) with its id and what was wrong.
    #[must_use]
    pub fn skipped_on_load(&self) -> u64 {
        self.inner.skipped_on_load.load(Ordering::Relaxed)
    }

    /// The prefix every key of this store starts with.
    #[must_use]
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.inner.server)
            .field("prefix", &self.inner.keys.prefix())
            .field(
                "lease_clock",
                &if self.inner.lease_clock.is_some() {
                    "injected"
                } else {
                    "redis TIME"
                },
            )
            .field("sealer", &self.inner.sealer)
            .field("round_trips", &self.round_trips())
            .finish()
    }
}

impl Inner {
    /// `now` for the lease scripts: the injected clock's milliseconds, or -1
    /// (the script reads Redis's `TIME`).
    pub(super) fn lease_now_ms(&self) -> i64 {
        self.lease_clock
            .as_ref()
            .map_or(-1, |clock| clock.now().timestamp_millis().max(0))
    }

    /// A stored token from its version and sealed value as Redis returned them.
    pub(super) fn open<C: StorableCredential>(
        &self,
        id: &TokenId,
        version: &Value,
        sealed: &Value,
        what: &str,
    ) -> Result<StoredToken<C>, StoreError> {
        let (Some(version), Some(sealed)) = (int(version), bytes(sealed)) else {
            return Err(StoreError::new(
                format!("redis: {what}: the entry of token {id} is malformed"),
                None,
            ));
        };
        self.open_sealed(id, version, sealed)
    }

    pub(super) fn open_sealed<C: StorableCredential>(
        &self,
        id: &TokenId,
        version: u64,
        sealed: &[u8],
    ) -> Result<StoredToken<C>, StoreError> {
        let (credential, issued_at) = self
            .sealer
            .open_token::<C>(id.as_str(), sealed)
            .map_err(|error| {
                StoreError::new(
                    format!("the stored value of token {id} does not open"),
                    Some(Box::new(error)),
                )
            })?;
        Ok(StoredToken {
            credential,
            issued_at,
            version,
        })
    }
}

/// The reply shape a script or command was expected to give, it did not.
pub(super) fn unexpected(what: &str) -> StoreError {
    StoreError::new(format!("redis: unexpected reply to {what}"), None)
}

/// A reply's bytes (a bulk or simple string).
pub(super) fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// A reply as a non-negative integer (an integer, or a string of digits).
pub(super) fn int(value: &Value) -> Option<u64> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok(),
        other => std::str::from_utf8(bytes(other)?).ok()?.parse().ok(),
    }
}
