//! The renewal engine: configured by [`RenewalEngineBuilder`], started with
//! [`RenewalEngine::start`], which loads the store and starts the driver and the
//! workers.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::driver::drive;
use super::handle::{RenewalHandle, StopOnDrop};
use super::instruments::{Instruments, StoreOp};
use super::shared::Shared;
use super::worker::{Pool, ReloginFn};
use crate::clock::{Clock, SystemClock};
use crate::renewal::core::{Fresh, Machine, Stored};
use crate::renewal::credential::{ReloginError, Renewable};
use crate::renewal::error::{RenewalError, RenewalErrorKind};
use crate::renewal::events::{EventReceiver, RenewalEvent};
use crate::renewal::id::TokenId;
use crate::renewal::memory_store::MemoryStore;
use crate::renewal::policy::RenewalPolicy;
use crate::renewal::store::{ReplicaId, TokenStore};

/// Events held for slow receivers before they are told they lagged.
const DEFAULT_EVENT_CAPACITY: usize = 16 * 1024;

/// Keeps any number of expiring credentials alive. Build it with
/// [`builder`](Self::builder), then [`start`](Self::start) it.
pub struct RenewalEngine<R: Renewable, S = MemoryStore<<R as Renewable>::Credential>> {
    renewer: Arc<R>,
    store: Arc<S>,
    policy: RenewalPolicy,
    clock: Arc<dyn Clock>,
    relogin: Option<ReloginFn<R::Credential>>,
    replica: ReplicaId,
    events: broadcast::Sender<RenewalEvent>,
}

impl<R: Renewable, S> fmt::Debug for RenewalEngine<R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalEngine")
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .field("relogin", &self.relogin.is_some())
            .field("replica", &self.replica)
            .finish_non_exhaustive()
    }
}

/// Configures a [`RenewalEngine`].
#[must_use]
pub struct RenewalEngineBuilder<R: Renewable, S> {
    engine: RenewalEngine<R, S>,
}

impl<R: Renewable, S> fmt::Debug for RenewalEngineBuilder<R, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalEngineBuilder")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<R: Renewable> RenewalEngine<R> {
    /// A builder renewing through `renewer`, with an in-memory store, the default
    /// policy, the system clock and a random replica id.
    pub fn builder(renewer: R) -> RenewalEngineBuilder<R, MemoryStore<R::Credential>> {
        RenewalEngineBuilder {
            engine: RenewalEngine {
                renewer: Arc::new(renewer),
                store: Arc::new(MemoryStore::new()),
                policy: RenewalPolicy::default(),
                clock: Arc::new(SystemClock),
                relogin: None,
                replica: ReplicaId::random(),
                events: broadcast::channel(DEFAULT_EVENT_CAPACITY).0,
            },
        }
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> RenewalEngineBuilder<R, S> {
    /// Where tokens are persisted and shared with other replicas (default: in
    /// memory, this process only).
    pub fn store<T: TokenStore<R::Credential>>(self, store: Arc<T>) -> RenewalEngineBuilder<R, T> {
        let engine = self.engine;
        RenewalEngineBuilder {
            engine: RenewalEngine {
                renewer: engine.renewer,
                store,
                policy: engine.policy,
                clock: engine.clock,
                relogin: engine.relogin,
                replica: engine.replica,
                events: engine.events,
            },
        }
    }

    /// When to renew, how to retry, how fast to start renewals, timeouts.
    pub fn policy(mut self, policy: RenewalPolicy) -> Self {
        self.engine.policy = policy;
        self
    }

    /// Where wall-clock time and sleeping come from (default: the system clock and
    /// the tokio timer).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.engine.clock = Arc::new(clock);
        self
    }

    /// This replica's name on renewal leases (default: random).
    pub fn replica_id(mut self, replica: ReplicaId) -> Self {
        self.engine.replica = replica;
        self
    }

    /// Called when a token has expired or was rejected: return a fresh credential
    /// (for a Storefront token, from `customerAccessTokenCreate`), or a
    /// [`ReloginError`] saying whether to try again later
    /// ([`ReloginError::retry_later`]; a Storefront [`Error`](crate::Error)
    /// converts with `?`, transient ones retried) or to give up. A re-login is a
    /// request to the shop too: it starts under the rate limit (with at least one
    /// start in five while renewals are due) and waits while the shop is paused.
    pub fn relogin<F, Fut>(mut self, relogin: F) -> Self
    where
        F: Fn(TokenId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R::Credential, ReloginError>> + Send + 'static,
    {
        self.engine.relogin = Some(Arc::new(move |id| Box::pin(relogin(id))));
        self
    }

    /// Events held for slow receivers before they lag (default 16,384). Resets
    /// receivers made with [`RenewalEngine::events`] before this call.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.engine.events = broadcast::channel(capacity.max(1)).0;
        self
    }

    /// The engine, ready to [`start`](RenewalEngine::start).
    #[must_use]
    pub fn build(self) -> RenewalEngine<R, S> {
        self.engine
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> RenewalEngine<R, S> {
    /// A receiver of every event, from before the engine starts: nothing emitted
    /// at start-up (tokens found expired in the store, say) is missed.
    #[must_use]
    pub fn events(&self) -> EventReceiver {
        EventReceiver::new(self.events.subscribe())
    }

    /// Loads every stored token and starts the engine's tasks on the current
    /// tokio runtime: one driver (deadlines, the clock, reconciling with other
    /// replicas) and [`max_in_flight`](RenewalPolicy::with_max_in_flight) workers
    /// that run renewals. Overdue tokens drain through the rate limit, oldest
    /// deadline first; tokens that have already expired are announced as
    /// [`RenewalEvent::Expired`] without a request.
    ///
    /// The engine stops when the last [`RenewalHandle`] is dropped or on
    /// [`RenewalHandle::shutdown`], after the renewals in flight have finished.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Store`] if the store cannot be loaded (in the store
    /// timeout).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> Result<RenewalHandle<R::Credential>, RenewalError> {
        // Handles on the recorder current now (feature `metrics`).
        let instruments = Instruments::register();
        let timer = instruments.timer();
        let loaded =
            tokio::time::timeout(self.policy.store_timeout() * 6, self.store.load_all()).await;
        instruments.store_call(StoreOp::LoadAll, timer, matches!(loaded, Ok(Ok(_))));
        let loaded = loaded
            .map_err(|_| {
                RenewalError::with_message(RenewalErrorKind::Store, "loading the store timed out")
            })?
            .map_err(|error| RenewalError::with_source(RenewalErrorKind::Store, Arc::new(error)))?;
        let epoch = Instant::now();
        let reset = {
            let renewer = Arc::clone(&self.renewer);
            Box::new(move || renewer.reset_server_clock_offset())
        };
        let renewer = Arc::clone(&self.renewer);
        let tokens = loaded
            .into_iter()
            .map(|(id, token)| {
                let expires_ms = renewer.expires_at(&token.credential).timestamp_millis();
                let fresh = Fresh {
                    credential: token.credential,
                    issued_ms: token.issued_at.timestamp_millis(),
                    expires_ms,
                };
                let stored = Stored {
                    fresh,
                    version: token.version,
                };
                (id, stored)
            })
            .collect();
        let shared = Arc::new(Shared::new(
            Machine::new(
                self.policy.clone(),
                self.relogin.is_some(),
                now_at(&*self.clock, epoch),
            ),
            self.events,
            Arc::clone(&self.clock),
            epoch,
            reset,
            instruments,
        ));
        {
            let mut state = shared.lock();
            state.core.load(shared.now(), tokens);
        }
        let heartbeat = self.policy.heartbeat();
        let workers = self.policy.max_in_flight();
        let pool = Arc::new(Pool {
            renewer: self.renewer,
            store: self.store,
            relogin: self.relogin,
            replica: self.replica,
            policy: self.policy,
            shared: Arc::clone(&shared),
        });
        for _ in 0..workers {
            tokio::spawn(Arc::clone(&pool).work());
        }
        tokio::spawn(drive(Arc::clone(&shared), renewer, heartbeat));
        Ok(RenewalHandle {
            guard: Arc::new(StopOnDrop::new(Arc::clone(&shared))),
            shared,
            backend: pool,
        })
    }
}

fn now_at(clock: &dyn Clock, epoch: Instant) -> crate::renewal::core::Now {
    crate::renewal::core::Now {
        wall_ms: clock.now().timestamp_millis(),
        mono_us: u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{DateTime, TimeDelta, Utc};

    use super::RenewalEngine;
    use crate::renewal::{Renewable, TokenId};

    /// Renews in-process: a day more each time.
    struct DayMore;

    impl Renewable for DayMore {
        type Credential = DateTime<Utc>;
        type Error = std::io::Error;

        fn expires_at(&self, credential: &DateTime<Utc>) -> DateTime<Utc> {
            *credential
        }

        async fn renew(&self, credential: &DateTime<Utc>) -> Result<DateTime<Utc>, Self::Error> {
            Ok(*credential + TimeDelta::days(1))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_channel_goes_with_its_last_receiver() -> Result<(), Box<dyn std::error::Error>>
    {
        let handle = RenewalEngine::builder(DayMore).build().start().await?;
        let ids: Vec<TokenId> = (0..10).map(|n| TokenId::new(format!("t{n}"))).collect();
        for id in &ids {
            handle
                .add(id.clone(), Utc::now() + TimeDelta::days(1), None)
                .await?;
        }
        let receivers: Vec<_> = {
            let mut receivers = Vec::new();
            for id in &ids {
                receivers.push(handle.watch(id).await.ok_or("held")?);
            }
            receivers
        };
        let kept = handle.watch(&ids[0]).await.ok_or("held")?;
        assert_eq!(handle.shared.watchers(), 10);
        drop(receivers);
        // The next publish finds nobody listening to nine of them, and the
        // driver's sweep drops channels that are never published to.
        for id in &ids {
            tokio::time::sleep(Duration::from_secs(11)).await;
            handle.renew_now(id).await?;
        }
        assert_eq!(handle.shared.watchers(), 1, "only the one still received");
        assert!(kept.has_changed()?);
        handle.shutdown().await;
        Ok(())
    }
}
