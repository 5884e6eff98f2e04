//! One store wrapper for the tests and benchmarks: [`HookedStore`] forwards
//! every [`TokenStore`] call to an inner store and lets a [`StoreHook`] fail,
//! hang, count or wrap it, or look at a write's outcome.
//!
//! Included by `tests/common/mod.rs`, `tests/redis_fleet_support/mod.rs` and the
//! benchmarks (`#[path = "../tests/common/hooked_store.rs"] mod hooked_store;`).
#![allow(dead_code)]

use std::future::Future;
use std::ops::Deref;
use std::time::Duration;

use chrono::{DateTime, Utc};
use storefront_token::renewal::{
    LeaseOutcome, PutOutcome, ReplicaId, StoreError, StoredToken, TokenId, TokenStore,
};

/// The store call a hook is asked about, with the token it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// [`TokenStore::load_all`].
    LoadAll,
    /// [`TokenStore::versions`].
    Versions,
    /// [`TokenStore::get`].
    Get(&'a TokenId),
    /// [`TokenStore::put`].
    Put(&'a TokenId),
    /// [`TokenStore::try_lease`].
    TryLease(&'a TokenId),
    /// [`TokenStore::release_lease`].
    ReleaseLease(&'a TokenId),
    /// [`TokenStore::delete`].
    Delete(&'a TokenId),
}

/// What a [`HookedStore`] does around each call. Every method has a no-op
/// default: a hook overrides only what it changes.
pub trait StoreHook<C>: Send + Sync + 'static {
    /// Runs before `op` reaches the inner store: an error fails the call (the
    /// inner store is not asked), a future that never ends hangs it.
    fn before(&self, op: Op<'_>) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = op;
        async { Ok(()) }
    }

    /// Runs the inner store's call (after [`before`](Self::before) passed); the
    /// default just awaits it.
    fn around<T: Send>(
        &self,
        op: Op<'_>,
        call: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> impl Future<Output = Result<T, StoreError>> + Send {
        let _ = op;
        call
    }

    /// Sees what a write that reached the inner store did.
    fn after_put(&self, outcome: &Result<PutOutcome<C>, StoreError>) {
        let _ = outcome;
    }
}

/// No hook: a plain forwarding store.
impl<C> StoreHook<C> for () {}

/// A store that forwards every call to `inner`, through `hook`. Derefs to the
/// hook, so the hook's controls are reachable from the store.
#[derive(Debug, Default)]
pub struct HookedStore<S, H> {
    /// The store every call goes to.
    pub inner: S,
    /// What happens around each call.
    pub hook: H,
}

impl<S, H> HookedStore<S, H> {
    /// `inner`, with `hook` around every call.
    pub fn new(inner: S, hook: H) -> Self {
        Self { inner, hook }
    }

    async fn call<C, T: Send>(
        &self,
        op: Op<'_>,
        call: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError>
    where
        H: StoreHook<C>,
    {
        self.hook.before(op).await?;
        self.hook.around(op, call).await
    }
}

impl<S, H> Deref for HookedStore<S, H> {
    type Target = H;

    fn deref(&self) -> &H {
        &self.hook
    }
}

impl<C, S, H> TokenStore<C> for HookedStore<S, H>
where
    C: Send + Sync + 'static,
    S: TokenStore<C>,
    H: StoreHook<C>,
{
    async fn load_all(&self) -> Result<Vec<(TokenId, StoredToken<C>)>, StoreError> {
        self.call(Op::LoadAll, self.inner.load_all()).await
    }

    async fn versions(&self) -> Result<Vec<(TokenId, u64)>, StoreError> {
        self.call(Op::Versions, self.inner.versions()).await
    }

    async fn get(&self, id: &TokenId) -> Result<Option<StoredToken<C>>, StoreError> {
        self.call(Op::Get(id), self.inner.get(id)).await
    }

    async fn put(
        &self,
        id: &TokenId,
        credential: &C,
        issued_at: DateTime<Utc>,
        expected_version: Option<u64>,
    ) -> Result<PutOutcome<C>, StoreError> {
        let op = Op::Put(id);
        self.hook.before(op).await?;
        let call = self.inner.put(id, credential, issued_at, expected_version);
        let outcome = self.hook.around(op, call).await;
        self.hook.after_put(&outcome);
        outcome
    }

    async fn try_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        duration: Duration,
        expected_version: u64,
    ) -> Result<LeaseOutcome<C>, StoreError> {
        let call = self.inner.try_lease(id, owner, duration, expected_version);
        self.call(Op::TryLease(id), call).await
    }

    async fn release_lease(
        &self,
        id: &TokenId,
        owner: ReplicaId,
        version: u64,
    ) -> Result<(), StoreError> {
        let call = self.inner.release_lease(id, owner, version);
        self.call(Op::ReleaseLease(id), call).await
    }

    async fn delete(&self, id: &TokenId, expected_version: Option<u64>) -> Result<(), StoreError> {
        self.call(Op::Delete(id), self.inner.delete(id, expected_version))
            .await
    }
}
