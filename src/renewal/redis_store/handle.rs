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

/// A [`TokenStore`](crate::renewal::TokenStore) in Redis (feature `redis`):
/// replicas of an app share their tokens and renew each once per cycle; values
/// are sealed at rest.
///
/// # Key layout
///
/// ```text
/// {prefix}:t:{id}    hash    v = version (decimal)   d = sealed credential + issued_at
/// {prefix}:l:{id}    string  "<owner: 32 hex chars>:<lease deadline, ms since the epoch>"  (PX expiry)
/// {prefix}:version   string  the store-wide INCR counter every version is drawn from
/// ```
///
/// The prefix defaults to `storefront-token` ([`RedisStoreBuilder::prefix`](crate::renewal::RedisStoreBuilder::prefix)).
/// **Token ids are stored in plaintext, as key names**: they are your ids (a
/// customer or session id), never the token. Versions and leases are plaintext
/// too (they are not secret); the token never is.
///
/// # Encryption
///
/// `d` is [`Sealer::seal_token`](crate::at_rest::Sealer::seal_token)'s output:
/// the credential and its issue time, XChaCha20-Poly1305 under the sealer's
/// current key, with the token id bound as associated data, so a value copied
/// to another id, sealed with a key the sealer does not know, or altered does
/// not open. [`get`](crate::renewal::TokenStore::get),
/// [`try_lease`](crate::renewal::TokenStore::try_lease) and
/// [`put`](crate::renewal::TokenStore::put) (on a conflict) answer such a value
/// with a [`StoreError`] naming the id (its source is the
/// [`SealError`](crate::at_rest::SealError)); [`load_all`](crate::renewal::TokenStore::load_all)
/// skips it, logs it (`tracing::warn!`) and counts it
/// ([`skipped_on_load`](Self::skipped_on_load)), so one bad entry does not stop
/// a start. After a key rotation, [`reseal`](Self::reseal) rewrites every
/// entry under the new key; then the old key can go.
///
/// # Scripts
///
/// `put`, `try_lease`, `release_lease` and `delete` are each one Lua script,
/// so each runs atomically in one round trip (`EVALSHA`; `EVAL` with the code
/// only when Redis has lost its script cache, after a restart). `get` is one
/// `HMGET`. A renewal costs two round trips: `try_lease`, then `put` (which
/// writes and releases the lease). The scripts keep the protocol exactly as
/// [`MemoryStore`](crate::renewal::MemoryStore) does: versions come from one
/// counter and never repeat for an id, also across a delete and a new write;
/// `put(None)` creates or overwrites and releases any lease; `put(Some(v))` is a
/// compare-and-swap; an owner's own live lease is renewed; a lease is released
/// only by its owner and only for the version it was taken for.
///
/// A counter that is missing (a new store, or a Redis that lost its data)
/// starts at Redis's `TIME` in microseconds, so versions keep growing across a
/// data loss too.
///
/// `load_all` and `versions` walk `SCAN MATCH {prefix}:t:* COUNT 1000`: each
/// round trip is one pipeline with the `HMGET`s of the keys the last `SCAN`
/// found and the next `SCAN`, never one huge reply; `load_all` opens each
/// batch on tokio's blocking pool while the next one is read (a million
/// tokens load in about 6 s in a release build on two shared cores).
///
/// The layout keeps a token's keys and the counter in one script, so it
/// needs one Redis (with replicas or Sentinel if you like), not Redis Cluster.
///
/// # Lease clock
///
/// By default leases lapse on Redis's own clock (`TIME` in the script, and the
/// lease key's `PX` expiry), so replicas whose clocks disagree still agree on
/// who holds a lease. With [`RedisStoreBuilder::lease_clock`](crate::renewal::RedisStoreBuilder::lease_clock) the store passes
/// that clock's time to the scripts instead and stores absolute deadlines (the
/// key's expiry, an hour longer, only collects leftovers): for tests on
/// simulated time, where every replica shares the clock.
///
/// # Failures
///
/// The connection reconnects by itself. Every call is bounded by the
/// connection and response timeouts (3 s each by default), so while Redis is
/// down or unreachable calls fail fast with a [`StoreError`] (the Redis error
/// as its source) and succeed again once it is back. Tests on tokio's paused
/// time build the store with
/// [`hold_paused_time`](crate::renewal::RedisStoreBuilder::hold_paused_time),
/// or an idle runtime jumps to those deadlines while Redis answers.
///
/// # Example
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use storefront_token::at_rest::{Keyring, Sealer};
/// use storefront_token::renewal::{RedisStore, TokenId, TokenStore};
/// use storefront_token::CustomerAccessToken;
///
/// let sealer = Sealer::new(Keyring::from_env()?); // STOREFRONT_TOKEN_KEYS
/// let store = RedisStore::builder("redis://127.0.0.1:6379", sealer)
///     .prefix("my-app")
///     .build()
///     .await?;
/// let tokens: Vec<(TokenId, _)> = TokenStore::<CustomerAccessToken>::load_all(&store).await?;
/// println!("{} tokens, {} unreadable", tokens.len(), store.skipped_on_load());
/// // Share it with the engine: RenewalEngine::builder(renewer).store(Arc::new(store.clone())).
/// // After putting a new current key first in STOREFRONT_TOKEN_KEYS:
/// let report = store.reseal().await?;
/// println!("{report:?}");
/// # Ok(())
/// # }
/// ```
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
        open_entry(&self.sealer, id, version, sealed, what)
    }
}

/// A stored token from its version and sealed value as Redis returned them:
/// malformed (no number, no value) or not opening, a [`StoreError`] naming the
/// id, never the content.
pub(super) fn open_entry<C: StorableCredential>(
    sealer: &Sealer,
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
    let (credential, issued_at) = sealer
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
