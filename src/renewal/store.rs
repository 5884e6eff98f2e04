//! Where tokens survive restarts: the [`TokenStore`] trait and an in-memory
//! implementation.

use hashbrown::HashMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::TokenId;

/// A token as stored: the credential, when it was issued (server time; the
/// lifetime the schedule is based on is `expires_at − issued_at`), and a version
/// for compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken<C> {
    /// The credential.
    pub credential: C,
    /// When it was issued or last renewed, in the server's time.
    pub issued_at: DateTime<Utc>,
    /// Bumped by the store on every write.
    pub version: u64,
}

/// What a compare-and-swap write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutOutcome<C> {
    /// Written; this is the new version.
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

/// A store failed.
#[derive(Debug, thiserror::Error)]
#[error("token store failed: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A store error with a message and, optionally, its cause.
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

/// Persistence for the renewal engine. A renewed token is written here before
/// the engine announces it; on start, the engine loads everything from here.
///
/// Implementations must make [`put`](Self::put) a compare-and-swap on the
/// version, so that replicas sharing a store never overwrite a newer token.
pub trait TokenStore<C>: Send + Sync + 'static {
    /// Every stored token.
    fn load_all(
        &self,
    ) -> impl Future<Output = Result<Vec<(TokenId, StoredToken<C>)>, StoreError>> + Send;

    /// One stored token.
    fn get(
        &self,
        id: &TokenId,
    ) -> impl Future<Output = Result<Option<StoredToken<C>>, StoreError>> + Send;

    /// Writes `credential` if the stored version is `expected_version` (`None`:
    /// write whatever is stored, creating the entry if needed). With a version
    /// expected and nothing stored, writes nothing and answers
    /// [`PutOutcome::Missing`].
    fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> impl Future<Output = Result<PutOutcome<C>, StoreError>> + Send;

    /// Forgets a token.
    fn delete(&self, id: &TokenId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A [`TokenStore`] in memory: for tests, single-process apps, and as a model for
/// real implementations.
#[derive(Debug)]
pub struct MemoryStore<C> {
    tokens: Mutex<HashMap<TokenId, StoredToken<C>>>,
}

impl<C> Default for MemoryStore<C> {
    fn default() -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl<C: Clone> MemoryStore<C> {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many tokens are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.locked(|tokens| tokens.len())
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A stored token, without going through the async trait.
    #[must_use]
    pub fn snapshot(&self, id: &TokenId) -> Option<StoredToken<C>> {
        self.locked(|tokens| tokens.get(id).cloned())
    }

    fn locked<T>(&self, f: impl FnOnce(&mut HashMap<TokenId, StoredToken<C>>) -> T) -> T {
        // A panic elsewhere while holding the lock leaves the map consistent (every
        // write is one insert or remove), so a poisoned lock is still usable.
        let mut guard = self
            .tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl<C: Clone + Send + Sync + 'static> TokenStore<C> for MemoryStore<C> {
    async fn load_all(&self) -> Result<Vec<(TokenId, StoredToken<C>)>, StoreError> {
        Ok(self.locked(|tokens| {
            tokens
                .iter()
                .map(|(id, token)| (id.clone(), token.clone()))
                .collect()
        }))
    }

    async fn get(&self, id: &TokenId) -> Result<Option<StoredToken<C>>, StoreError> {
        Ok(self.snapshot(id))
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<C>, StoreError> {
        Ok(self.locked(|tokens| match tokens.get_mut(id) {
            Some(current) if expected_version.is_some_and(|v| v != current.version) => {
                PutOutcome::Conflict {
                    current: current.clone(),
                }
            }
            // Updated in place: one lookup, and the id is neither cloned nor hashed again.
            Some(current) => {
                current.credential.clone_from(credential);
                current.issued_at = issued_at;
                current.version += 1;
                PutOutcome::Stored {
                    version: current.version,
                }
            }
            None if expected_version.is_some() => PutOutcome::Missing,
            None => {
                tokens.insert(
                    id.clone(),
                    StoredToken {
                        credential: credential.clone(),
                        issued_at,
                        version: 1,
                    },
                );
                PutOutcome::Stored { version: 1 }
            }
        }))
    }

    async fn delete(&self, id: &TokenId) -> Result<(), StoreError> {
        self.locked(|tokens| tokens.remove(id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_puts_are_compare_and_swap_and_never_recreate() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        let id = TokenId::new("a");
        let at = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            store.put(&id, &1u8, at, None).await?,
            PutOutcome::Stored { version: 1 }
        );
        assert_eq!(
            store.put(&id, &2u8, at, Some(1)).await?,
            PutOutcome::Stored { version: 2 }
        );
        let stale = store.put(&id, &3u8, at, Some(1)).await?;
        assert!(
            matches!(&stale, PutOutcome::Conflict { current } if current.credential == 2 && current.version == 2),
            "{stale:?}"
        );
        store.delete(&id).await?;
        assert_eq!(
            store.put(&id, &4u8, at, Some(2)).await?,
            PutOutcome::Missing
        );
        assert!(store.is_empty(), "a deleted token is not written back");
        assert_eq!(
            store.put(&id, &5u8, at, None).await?,
            PutOutcome::Stored { version: 1 }
        );
        Ok(())
    }
}
