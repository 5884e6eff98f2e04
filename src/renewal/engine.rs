//! The renewal engine: configured by [`RenewalEngineBuilder`], started with
//! [`RenewalEngine::start`], which loads the store and hands the tokens to the
//! driver.

use hashbrown::HashMap;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::credential::Renewable;
use super::driver::{Driver, Now, Shared};
use super::handle::{RenewalHandle, TaskGuard};
use super::policy::RenewalPolicy;
use super::pool::Pool;
use super::schedule::Schedule;
use super::store::{MemoryStore, PutOutcome, StoreError, TokenStore};
use super::TokenId;
use crate::clock::{Clock, SystemClock};

/// Events held for slow receivers before they are told they lagged.
const DEFAULT_EVENT_CAPACITY: usize = 16 * 1024;

/// Where a `renew_now` caller waits for the shared renewal's result.
pub(super) type Reply<C> = oneshot::Sender<Result<C, super::status::RenewalError>>;
pub(super) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
pub(super) type ReloginFn<C> = Arc<dyn Fn(TokenId) -> BoxFuture<Option<C>> + Send + Sync>;
pub(super) type StorePut<C> =
    Arc<dyn Fn(TokenId, C, DateTime<Utc>) -> BoxFuture<Result<u64, StoreError>> + Send + Sync>;
pub(super) type StoreDelete =
    Arc<dyn Fn(TokenId) -> BoxFuture<Result<(), StoreError>> + Send + Sync>;
/// Keeps any number of expiring credentials alive. Build it with
/// [`builder`](Self::builder), then [`start`](Self::start) it.
pub struct RenewalEngine<R: Renewable, S = MemoryStore<<R as Renewable>::Credential>> {
    renewer: Arc<R>,
    store: Arc<S>,
    policy: RenewalPolicy,
    clock: Arc<dyn Clock>,
    relogin: Option<ReloginFn<R::Credential>>,
    event_capacity: usize,
}

/// Configures a [`RenewalEngine`].
#[must_use]
pub struct RenewalEngineBuilder<R: Renewable, S> {
    engine: RenewalEngine<R, S>,
}

impl<R: Renewable> RenewalEngine<R> {
    /// A builder renewing through `renewer`, with an in-memory store, the default
    /// policy and the system clock.
    pub fn builder(renewer: R) -> RenewalEngineBuilder<R, MemoryStore<R::Credential>> {
        RenewalEngineBuilder {
            engine: RenewalEngine {
                renewer: Arc::new(renewer),
                store: Arc::new(MemoryStore::new()),
                policy: RenewalPolicy::default(),
                clock: Arc::new(SystemClock),
                relogin: None,
                event_capacity: DEFAULT_EVENT_CAPACITY,
            },
        }
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> RenewalEngineBuilder<R, S> {
    /// Where tokens are persisted (default: in memory).
    pub fn store<T: TokenStore<R::Credential>>(self, store: Arc<T>) -> RenewalEngineBuilder<R, T> {
        let engine = self.engine;
        RenewalEngineBuilder {
            engine: RenewalEngine {
                renewer: engine.renewer,
                store,
                policy: engine.policy,
                clock: engine.clock,
                relogin: engine.relogin,
                event_capacity: engine.event_capacity,
            },
        }
    }

    /// When to renew, how to retry, how fast to start renewals.
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

    /// Called when a token has expired or was rejected: return a fresh credential
    /// (for a Storefront token, from `customerAccessTokenCreate`) or `None`.
    pub fn relogin<F, Fut>(mut self, relogin: F) -> Self
    where
        F: Fn(TokenId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<R::Credential>> + Send + 'static,
    {
        self.engine.relogin = Some(Arc::new(move |id| Box::pin(relogin(id))));
        self
    }

    /// Events held for slow receivers before they lag (default 16,384).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.engine.event_capacity = capacity.max(1);
        self
    }

    /// The engine, ready to [`start`](RenewalEngine::start).
    #[must_use]
    pub fn build(self) -> RenewalEngine<R, S> {
        self.engine
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> RenewalEngine<R, S> {
    /// Loads every stored token and starts the engine's tasks on the current
    /// tokio runtime: one driver (deadlines, commands, the rate limit) and
    /// [`max_in_flight`](RenewalPolicy::with_max_in_flight) workers that run the
    /// renewals. Overdue tokens drain through the rate limit, oldest deadline
    /// first; tokens that have already expired are announced as
    /// [`RenewalEvent::Expired`](super::RenewalEvent::Expired) without a request.
    ///
    /// The engine stops when the last [`RenewalHandle`] is dropped or on
    /// [`RenewalHandle::shutdown`], after the renewals in flight have finished.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be loaded.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> Result<RenewalHandle<R::Credential>, StoreError> {
        let stored = self.store.load_all().await?;
        let (events, _) = broadcast::channel(self.event_capacity);
        let (commands, receiver) = mpsc::unbounded_channel();
        let store_put: StorePut<R::Credential> = {
            let store = Arc::clone(&self.store);
            Arc::new(move |id, credential, issued_at| {
                let store = Arc::clone(&store);
                Box::pin(async move {
                    match store.put(&id, &credential, issued_at, None).await? {
                        PutOutcome::Stored { version } => Ok(version),
                        PutOutcome::Conflict { current } => Ok(current.version),
                        // Not asked for a version, a store must create the entry.
                        PutOutcome::Missing => {
                            Err(StoreError::new("the store did not create the token", None))
                        }
                    }
                })
            })
        };
        let store_delete: StoreDelete = {
            let store = Arc::clone(&self.store);
            Arc::new(move |id| {
                let store = Arc::clone(&store);
                Box::pin(async move { store.delete(&id).await })
            })
        };
        let now = Now {
            clock: Arc::clone(&self.clock),
            offset_ms: Arc::new(std::sync::atomic::AtomicI64::new(0)),
        };
        let can_relogin = self.relogin.is_some();
        let pool = Arc::new(Pool {
            renewer: Arc::clone(&self.renewer),
            store: self.store,
            now: now.clone(),
            relogin: self.relogin,
        });
        let mut driver = Driver {
            now,
            epoch: Instant::now(),
            renewer: self.renewer,
            policy: self.policy,
            can_relogin,
            schedule: Schedule::default(),
            ready: VecDeque::new(),
            relogins: VecDeque::new(),
            renewals_since_relogin: 0,
            in_flight: 0,
            waiters: HashMap::new(),
            watchers: HashMap::new(),
            events: events.clone(),
            next_start: Instant::now(),
            last_look: (self.clock.now(), Instant::now()),
            skew_warned: false,
            stopping: false,
            alarm_at: Instant::now(),
        };
        // Held in the order they fall due, so a backlog drains through neighbouring
        // slots, and their deadlines sorted once rather than heaped one by one.
        let mut stored: Vec<_> = stored
            .into_iter()
            .map(|(id, token)| {
                (
                    driver.renew_at(&id, &token.credential, token.issued_at),
                    id,
                    token,
                )
            })
            .collect();
        stored.sort_unstable_by_key(|(due, _, _)| *due);
        for (due, id, token) in stored {
            driver.hold_due(id, token.credential, token.issued_at, token.version, due);
        }
        driver.schedule.settle();
        // The pool: `max_in_flight` workers, each taking the next due renewal the
        // moment it has recorded the last.
        let workers = driver.policy.max_in_flight();
        let shared = Arc::new(Shared::new(driver));
        for _ in 0..workers {
            tokio::spawn(Arc::clone(&pool).work(Arc::clone(&shared)));
        }
        let task = tokio::spawn(shared.drive(receiver));
        Ok(RenewalHandle {
            commands,
            events,
            store_put,
            store_delete,
            clock: self.clock,
            task: Arc::new(TaskGuard(std::sync::Mutex::new(Some(task)))),
        })
    }
}
