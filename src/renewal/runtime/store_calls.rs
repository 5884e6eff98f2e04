//! The pool's store side: every store call bounded by the store timeout, a
//! panic in it contained, timed and counted (feature `metrics`); what the store
//! answers made into the core's messages; and the calls a handle makes itself
//! ([`Backend`]: adding and removing a token).

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::instruments::StoreOp;
use super::worker::{guarded, interrupted, BoxFuture, Pool};
use crate::renewal::core::{Fresh, Put, Stored};
use crate::renewal::credential::Renewable;
use crate::renewal::error::{Message, RenewalError, RenewalErrorKind, SharedError};
use crate::renewal::id::TokenId;
use crate::renewal::store::{LeaseOutcome, PutOutcome, StoreError, StoredToken, TokenStore};

/// The store and renewer calls a handle makes itself (adding and removing), as
/// an object so handles need not name the renewer's or store's type.
pub(crate) trait Backend<C>: Send + Sync {
    fn expires_at(&self, credential: &C) -> DateTime<Utc>;
    fn put_new<'a>(
        &'a self,
        id: &'a TokenId,
        credential: &'a C,
        issued_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<u64, RenewalError>>;
    fn delete<'a>(&'a self, id: &'a TokenId) -> BoxFuture<'a, Result<(), RenewalError>>;
}

fn store_error(error: StoreError) -> SharedError {
    Arc::new(error)
}

impl<R: Renewable, S: TokenStore<R::Credential>> Pool<R, S> {
    /// A store call with the store timeout; a panic or a timeout is an error.
    pub(super) async fn store_call<T>(
        &self,
        op: StoreOp,
        call: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, SharedError> {
        let instruments = &self.shared.instruments;
        let timer = instruments.timer();
        let answer = guarded(self.policy.store_timeout(), call).await;
        instruments.store_call(op, timer, matches!(answer, Ok(Ok(_))));
        match answer {
            Ok(answer) => answer.map_err(store_error),
            Err(timed_out) => Err(interrupted(timed_out)),
        }
    }

    /// The stored token with its expiry read; `None` if reading it panicked.
    pub(super) fn stored(&self, token: StoredToken<R::Credential>) -> Stored<R::Credential> {
        let expires_ms = self.expires_ms(&token.credential);
        Stored {
            fresh: Fresh {
                credential: token.credential,
                issued_ms: token.issued_at.timestamp_millis(),
                expires_ms,
            },
            version: token.version,
        }
    }

    /// The credential's expiry; a panicking accessor counts as expired.
    pub(super) fn expires_ms(&self, credential: &R::Credential) -> i64 {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.renewer.expires_at(credential).timestamp_millis()
        }))
        .unwrap_or(i64::MIN)
    }

    pub(super) async fn get(
        &self,
        id: &TokenId,
    ) -> Result<Option<Stored<R::Credential>>, SharedError> {
        Ok(self
            .store_call(StoreOp::Get, self.store.get(id))
            .await?
            .map(|token| self.stored(token)))
    }

    pub(super) async fn put(
        &self,
        id: &TokenId,
        credential: &R::Credential,
        issued_ms: i64,
        expected: Option<u64>,
    ) -> Put<R::Credential> {
        let issued_at = DateTime::from_timestamp_millis(issued_ms).unwrap_or_default();
        match self
            .store_call(
                StoreOp::Put,
                self.store.put(id, credential, issued_at, expected),
            )
            .await
        {
            Ok(PutOutcome::Stored { version }) => Put::Stored { version },
            Ok(PutOutcome::Conflict { current }) => Put::Conflict(self.stored(current)),
            Ok(PutOutcome::Missing) => Put::Missing,
            Err(error) => Put::Failed(error),
        }
    }

    /// Retries a write that failed, under the lease like a renewal: a write
    /// releases any lease, and must not free another replica's renewal in flight.
    pub(super) async fn write(
        &self,
        id: &TokenId,
        fresh: &Fresh<R::Credential>,
        version: u64,
    ) -> Put<R::Credential> {
        match self.lease(id, version).await {
            Ok(LeaseOutcome::Acquired) => {}
            Ok(LeaseOutcome::Changed { current }) => return Put::Conflict(self.stored(current)),
            Ok(LeaseOutcome::Missing) => return Put::Missing,
            Ok(LeaseOutcome::Held { .. }) => {
                return Put::Failed(Arc::new(Message(
                    "another replica holds the token's renewal lease",
                )))
            }
            Err(error) => return Put::Failed(error),
        }
        let put = self
            .put(id, &fresh.credential, fresh.issued_ms, Some(version))
            .await;
        if let Put::Failed(_) = put {
            self.release(id, true, version).await;
        }
        put
    }

    /// Asks the store for this replica's renewal lease on `version` of `id`.
    pub(super) async fn lease(
        &self,
        id: &TokenId,
        version: u64,
    ) -> Result<LeaseOutcome<R::Credential>, SharedError> {
        let duration = self.policy.lease_duration();
        let lease = self.store.try_lease(id, self.replica, duration, version);
        let answer = self.store_call(StoreOp::TryLease, lease).await;
        match &answer {
            Ok(LeaseOutcome::Held { .. }) => self.shared.instruments.contention(true),
            Ok(LeaseOutcome::Changed { .. }) => self.shared.instruments.contention(false),
            _ => {}
        }
        answer
    }

    pub(super) async fn release(&self, id: &TokenId, lease: bool, version: u64) {
        if lease {
            // A lease not released lapses on its own: nothing more to do on error.
            let _ = self
                .store_call(
                    StoreOp::ReleaseLease,
                    self.store.release_lease(id, self.replica, version),
                )
                .await;
        }
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> Backend<R::Credential> for Pool<R, S> {
    fn expires_at(&self, credential: &R::Credential) -> DateTime<Utc> {
        self.renewer.expires_at(credential)
    }

    fn put_new<'a>(
        &'a self,
        id: &'a TokenId,
        credential: &'a R::Credential,
        issued_at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<u64, RenewalError>> {
        Box::pin(async move {
            let store_failed = |error| RenewalError::with_source(RenewalErrorKind::Store, error);
            match self
                .store_call(
                    StoreOp::Put,
                    self.store.put(id, credential, issued_at, None),
                )
                .await
            {
                Ok(PutOutcome::Stored { version }) => Ok(version),
                // Not asked for a version, a store must write.
                Ok(_) => Err(RenewalError::with_message(
                    RenewalErrorKind::Store,
                    "the store did not write a new login",
                )),
                Err(error) => Err(store_failed(error)),
            }
        })
    }

    fn delete<'a>(&'a self, id: &'a TokenId) -> BoxFuture<'a, Result<(), RenewalError>> {
        Box::pin(async move {
            self.store_call(StoreOp::Delete, self.store.delete(id, None))
                .await
                .map_err(|error| RenewalError::with_source(RenewalErrorKind::Store, error))
        })
    }
}
