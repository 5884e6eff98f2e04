//! Where tokens survive restarts and are shared between replicas: the
//! [`TokenStore`] protocol.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::id::TokenId;

/// A token as stored: the credential, when it was issued (server time; the
/// lifetime the schedule is based on is `expires_at − issued_at`), and its
/// version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken<C> {
    /// The credential.
    pub credential: C,
    /// When it was issued or last renewed, in the server's time.
    pub issued_at: DateTime<Utc>,
    /// Set by the store on every write; never repeats for an id, also across
    /// a delete and a new write.
    pub version: u64,
}

/// What a compare-and-swap write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutOutcome<C> {
    /// Written; this is the new version. Any renewal lease on the token is released.
    Stored {
        /// The version now stored.
        version: u64,
    },
    /// Not written: the stored version is not the expected one (another replica
    /// wrote first). This is what is stored now.
    Conflict {
        /// The token as currently stored.
        current: StoredToken<C>,
    },
    /// Not written: a version was expected but nothing is stored (the token was
    /// deleted meanwhile). A compare-and-swap never recreates a deleted token.
    Missing,
}

/// What asking for a token's renewal lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseOutcome<C> {
    /// The lease is this replica's until it writes, releases it, or it lapses.
    Acquired,
    /// Another replica holds the lease (it is renewing the token) for this long
    /// still.
    Held {
        /// Time left on the other replica's lease.
        remaining: Duration,
    },
    /// The stored version is not the expected one: another replica renewed or
    /// replaced the token. Adopt this instead of renewing.
    Changed {
        /// The token as currently stored.
        current: StoredToken<C>,
    },
    /// Nothing is stored: the token was deleted (logged out).
    Missing,
}

/// Who holds a renewal lease: one per engine (replica). Random unless set.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplicaId(u128);

impl ReplicaId {
    /// A replica id from a number you choose (a pod ordinal, a host hash).
    #[must_use]
    pub fn new(id: u128) -> Self {
        Self(id)
    }

    /// A random replica id.
    #[must_use]
    pub fn random() -> Self {
        Self(fastrand::u128(..))
    }

    /// The id as a number.
    #[must_use]
    pub fn get(self) -> u128 {
        self.0
    }
}

impl fmt::Debug for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplicaId({:032x})", self.0)
    }
}

/// A store failed.
#[derive(Debug, thiserror::Error)]
#[error("token store failed: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A store error with a message and, optionally, its cause. The message must
    /// not hold a secret.
    pub fn new(
        message: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source,
        }
    }
}

/// Persistence for the renewal engine, shared by every replica of an app.
///
/// # The protocol
///
/// Every engine (replica) holds every token it knows of and renews each at the
/// same stable point of its lifetime, so several replicas sharing one store would
/// all renew it at once. The store keeps them to **one renewal mutation per token
/// per cycle**:
///
/// 1. **Versions never repeat** for an id, not even after a delete and a new
///    write (use a store-wide counter, or a random generation plus a counter).
///    A renewal that started before a logout and a new login can then never
///    overwrite the new login.
/// 2. Before sending the mutation, a replica takes the token's **renewal lease**
///    with [`try_lease`](Self::try_lease), naming the version it holds. The store
///    answers, atomically: [`LeaseOutcome::Missing`] (deleted),
///    [`LeaseOutcome::Changed`] with the stored token if the version differs
///    (another replica renewed it: adopt it, send nothing),
///    [`LeaseOutcome::Held`] if another replica's lease has not lapsed (wait, then
///    ask again), or [`LeaseOutcome::Acquired`]. A lease lapses after the
///    duration asked for, which the engine makes longer than a renewal's and a
///    store write's timeouts together, so a replica that dies mid-renewal loses
///    it and another takes the token over.
/// 3. The renewed token is written with [`put`](Self::put), a compare-and-swap
///    on the version that also releases the lease. On failure the lease is
///    released with [`release_lease`](Self::release_lease). A write retried
///    after a failure takes the lease first too, so that it never frees the
///    lease of another replica's renewal in flight.
/// 4. A replica whose renewal is **rejected** re-reads the token with
///    [`get`](Self::get) before declaring it dead: another replica may have
///    renewed it, and with a shop that rotates token strings the old string is
///    then rejected although the customer's session is alive.
/// 5. [`versions`](Self::versions) lets replicas reconcile cheaply: a token
///    deleted on one replica (logout) stops being served on the others, and one
///    added elsewhere is picked up.
///
/// [`MemoryStore`](super::MemoryStore) implements the protocol and is the model
/// for a Redis or SQL store (a Lua script or a transaction per call).
///
/// # Encryption at rest
///
/// A store that writes outside the process must never write a token in plain
/// text. The built-in ones (`RedisStore`, feature `redis`; `FileStore`, feature
/// `file-store`) seal every value with an [`at_rest::Sealer`](crate::at_rest::Sealer),
/// binding the token id so a value copied to another id does not open. A store of
/// your own does the same with [`Sealer::seal_token`](crate::at_rest::Sealer::seal_token)
/// and [`Sealer::open_token`](crate::at_rest::Sealer::open_token), for any
/// credential with a [`StorableCredential`](crate::at_rest::StorableCredential)
/// encoding ([`CustomerAccessToken`](crate::CustomerAccessToken) has one), and
/// keeps the version and the lease beside the sealed value, in the clear.
pub trait TokenStore<C>: Send + Sync + 'static {
    /// Every stored token (read once, at start).
    fn load_all(
        &self,
    ) -> impl Future<Output = Result<Vec<(TokenId, StoredToken<C>)>, StoreError>> + Send;

    /// Every stored token's id and version, for reconciling replicas. The default
    /// goes through [`load_all`](Self::load_all); a real store should read only
    /// the versions.
    fn versions(&self) -> impl Future<Output = Result<Vec<(TokenId, u64)>, StoreError>> + Send {
        async {
            Ok(self
                .load_all()
                .await?
                .into_iter()
                .map(|(id, token)| (id, token.version))
                .collect())
        }
    }

    /// One stored token.
    fn get(
        &self,
        id: &TokenId,
    ) -> impl Future<Output = Result<Option<StoredToken<C>>, StoreError>> + Send;

    /// Writes `credential` if the stored version is `expected_version` (`None`:
    /// write whatever is stored, creating the entry if needed: a new login). A
    /// write gives a version never used before for `id` and releases any lease.
    /// With a version expected and nothing stored, writes nothing and answers
    /// [`PutOutcome::Missing`].
    fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<PutOutcome<C>, StoreError>> + Send;

    /// Takes the renewal lease on `id` for `owner`, for `duration`, if the stored
    /// version is `expected_version` and no other owner's lease is live (an
    /// owner's own live lease is renewed). See the protocol above.
    fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> impl Future<Output = Result<LeaseOutcome<C>, StoreError>> + Send;

    /// Releases `owner`'s lease on `id` if it holds one and the stored version is
    /// still `version` (the one the lease was taken for): a replica that replaced
    /// the token meanwhile and took a new lease keeps it.
    fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes a token: whatever is stored (`None`), or only the version expected
    /// (a dead token is deleted only if no replica has logged it in again since).
    fn delete(
        &self,
        id: &TokenId,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
