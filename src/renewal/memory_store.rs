//! [`MemoryStore`]: the [`TokenStore`] protocol in memory, for tests,
//! single-process apps, and as the model for real stores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::HashMap;
use tokio::time::Instant;

use super::id::TokenId;
use super::store::{LeaseOutcome, PutOutcome, ReplicaId, StoreError, StoredToken, TokenStore};

/// One stored token and its renewal lease.
#[derive(Debug)]
struct Held<C> {
    token: StoredToken<C>,
    lease: Option<(ReplicaId, Instant)>,
}

#[derive(Debug)]
struct Tokens<C> {
    held: HashMap<TokenId, Held<C>>,
    /// The last version given out, store-wide: versions never repeat for an id,
    /// also across a delete and a new write.
    last_version: u64,
}

/// A [`TokenStore`] in memory. Leases lapse on tokio's clock (paused time works).
#[derive(Debug)]
pub struct MemoryStore<C> {
    tokens: Mutex<Tokens<C>>,
    leases_granted: AtomicU64,
}

impl<C> Default for MemoryStore<C> {
    fn default() -> Self {
        Self {
            tokens: Mutex::new(Tokens {
                held: HashMap::new(),
                last_version: 0,
            }),
            leases_granted: AtomicU64::new(0),
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
        self.locked(|tokens| tokens.held.len())
    }

    /// Whether the store is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A stored token, without going through the async trait.
    #[must_use]
    pub fn snapshot(&self, id: &TokenId) -> Option<StoredToken<C>> {
        self.locked(|tokens| tokens.held.get(id).map(|held| held.token.clone()))
    }

    /// How many renewal leases have been granted (for tests counting renewals).
    #[must_use]
    pub fn leases_granted(&self) -> u64 {
        self.leases_granted.load(Ordering::Relaxed)
    }

    fn locked<T>(&self, f: impl FnOnce(&mut Tokens<C>) -> T) -> T {
        // Every change is complete before a caller's code could panic (`Clone`),
        // so a poisoned lock still guards a consistent map.
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
                .held
                .iter()
                .map(|(id, held)| (id.clone(), held.token.clone()))
                .collect()
        }))
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        Ok(self.locked(|tokens| {
            tokens
                .held
                .iter()
                .map(|(id, held)| (id.clone(), held.token.version))
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
        Ok(self.locked(|tokens| {
            let version = tokens.last_version + 1;
            match tokens.held.get_mut(id) {
                Some(held) if expected_version.is_some_and(|v| v != held.token.version) => {
                    return PutOutcome::Conflict {
                        current: held.token.clone(),
                    }
                }
                // Updated in place: one lookup, and the id is neither cloned nor
                // hashed again.
                Some(held) => {
                    held.token.credential.clone_from(credential);
                    held.token.issued_at = issued_at;
                    held.token.version = version;
                    held.lease = None;
                }
                None if expected_version.is_some() => return PutOutcome::Missing,
                None => {
                    let token = StoredToken {
                        credential: credential.clone(),
                        issued_at,
                        version,
                    };
                    tokens.held.insert(id.clone(), Held { token, lease: None });
                }
            }
            tokens.last_version = version;
            PutOutcome::Stored { version }
        }))
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<C>, StoreError> {
        let now = Instant::now();
        let outcome = self.locked(|tokens| {
            let Some(held) = tokens.held.get_mut(id) else {
                return LeaseOutcome::Missing;
            };
            if held.token.version != expected_version {
                return LeaseOutcome::Changed {
                    current: held.token.clone(),
                };
            }
            match held.lease {
                Some((holder, until)) if holder != owner && until > now => LeaseOutcome::Held {
                    remaining: until - now,
                },
                _ => {
                    held.lease = Some((owner, now + duration));
                    LeaseOutcome::Acquired
                }
            }
        });
        if matches!(outcome, LeaseOutcome::Acquired) {
            self.leases_granted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(outcome)
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        self.locked(|tokens| {
            if let Some(held) = tokens.held.get_mut(id) {
                let theirs = held.lease.is_some_and(|(holder, _)| holder == owner);
                if theirs && held.token.version == version {
                    held.lease = None;
                }
            }
        });
        Ok(())
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.locked(|tokens| {
            let matches = tokens
                .held
                .get(id)
                .is_some_and(|held| expected_version.is_none_or(|v| v == held.token.version));
            if matches {
                tokens.held.remove(id);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

    #[tokio::test]
    async fn puts_are_compare_and_swap_and_never_recreate() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        let id = TokenId::new("a");
        assert_eq!(
            store.put(&id, &1u8, AT, None).await?,
            PutOutcome::Stored { version: 1 }
        );
        assert_eq!(
            store.put(&id, &2u8, AT, Some(1)).await?,
            PutOutcome::Stored { version: 2 }
        );
        let stale = store.put(&id, &3u8, AT, Some(1)).await?;
        assert!(
            matches!(&stale, PutOutcome::Conflict { current } if current.credential == 2 && current.version == 2),
            "{stale:?}"
        );
        store.delete(&id, None).await?;
        assert_eq!(
            store.put(&id, &4u8, AT, Some(2)).await?,
            PutOutcome::Missing
        );
        assert!(store.is_empty(), "a deleted token is not written back");
        Ok(())
    }

    #[tokio::test]
    async fn versions_never_repeat_across_delete_and_re_add() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        let id = TokenId::new("a");
        store.put(&id, &1u8, AT, None).await?;
        store.delete(&id, None).await?;
        let again = store.put(&id, &2u8, AT, None).await?;
        assert_eq!(again, PutOutcome::Stored { version: 2 }, "not 1 again");
        // A renewal of the first login (version 1) cannot overwrite the second.
        let stale = store.put(&id, &9u8, AT, Some(1)).await?;
        assert!(matches!(stale, PutOutcome::Conflict { .. }), "{stale:?}");
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn one_lease_at_a_time_until_written_released_or_lapsed() -> Result<(), StoreError> {
        let store = MemoryStore::new();
        let id = TokenId::new("a");
        let (a, b) = (ReplicaId::new(1), ReplicaId::new(2));
        let minute = Duration::from_secs(60);
        store.put(&id, &1u8, AT, None).await?;
        assert_eq!(
            store.try_lease(&id, a, minute, 1).await?,
            LeaseOutcome::Acquired
        );
        assert!(matches!(
            store.try_lease(&id, b, minute, 1).await?,
            LeaseOutcome::Held { remaining } if remaining == minute
        ));
        // A writes: the lease goes with the old version; B holding version 1 is
        // told to adopt the new one.
        store.put(&id, &2u8, AT, Some(1)).await?;
        let changed = store.try_lease(&id, b, minute, 1).await?;
        assert!(
            matches!(&changed, LeaseOutcome::Changed { current } if current.version == 2),
            "{changed:?}"
        );
        assert_eq!(
            store.try_lease(&id, b, minute, 2).await?,
            LeaseOutcome::Acquired
        );
        store.release_lease(&id, a, 2).await?; // not A's: nothing happens
        assert!(matches!(
            store.try_lease(&id, a, minute, 2).await?,
            LeaseOutcome::Held { .. }
        ));
        store.release_lease(&id, b, 1).await?; // another version's: kept
        assert!(matches!(
            store.try_lease(&id, a, minute, 2).await?,
            LeaseOutcome::Held { .. }
        ));
        store.release_lease(&id, b, 2).await?;
        assert_eq!(
            store.try_lease(&id, a, minute, 2).await?,
            LeaseOutcome::Acquired
        );
        // A dies: its lease lapses and B takes over.
        tokio::time::advance(minute + Duration::from_millis(1)).await;
        assert_eq!(
            store.try_lease(&id, b, minute, 2).await?,
            LeaseOutcome::Acquired
        );
        store.delete(&id, Some(1)).await?; // the wrong version: kept
        assert_eq!(store.len(), 1);
        store.delete(&id, Some(2)).await?;
        assert_eq!(
            store.try_lease(&id, a, minute, 2).await?,
            LeaseOutcome::Missing
        );
        assert_eq!(store.leases_granted(), 4);
        Ok(())
    }
}
