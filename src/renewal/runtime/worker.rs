//! The workers: each records the job it finished and takes the next in one short
//! critical section, then runs it — a renewal behind the store's lease, a
//! re-login, a store read or write (the store side is in `store_calls`) — with
//! a timeout on every call into caller code, and a panic there contained.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use super::instruments::{StoreOp, ENABLED};
use super::shared::Shared;
use crate::renewal::core::{Fresh, Job, Outcome, Tag, Work};
use crate::renewal::credential::{FailureClass, ReloginError, Renewable};
use crate::renewal::error::{Message, SharedError};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;
use crate::renewal::policy::RenewalPolicy;
use crate::renewal::store::{LeaseOutcome, ReplicaId, TokenStore};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub(crate) type ReloginFn<C> =
    Arc<dyn Fn(TokenId) -> BoxFuture<'static, Result<C, ReloginError>> + Send + Sync>;

/// What the workers (and the handles, through `store_calls::Backend`) call
/// into: the renewer, the store and the re-login hook.
pub(crate) struct Pool<R: Renewable, S> {
    pub(crate) renewer: Arc<R>,
    pub(crate) store: Arc<S>,
    pub(crate) relogin: Option<ReloginFn<R::Credential>>,
    pub(crate) replica: ReplicaId,
    pub(crate) policy: RenewalPolicy,
    pub(crate) shared: Arc<Shared<R::Credential>>,
}

/// Why a guarded call gave no answer.
pub(super) fn interrupted(timed_out: bool) -> SharedError {
    Arc::new(Message(if timed_out { "timed out" } else { "panicked" }))
}

/// Runs caller code with a timeout, containing a panic. `Err(true)`: timed out.
pub(super) async fn guarded<T>(
    limit: Duration,
    call: impl Future<Output = T> + Send,
) -> Result<T, bool> {
    match tokio::time::timeout(limit, std::panic::AssertUnwindSafe(call).catch_unwind()).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(_)) => Err(false),
        Err(_) => Err(true),
    }
}

impl<R: Renewable, S: TokenStore<R::Credential>> Pool<R, S> {
    /// One worker, until the engine stops.
    pub(crate) async fn work(self: Arc<Self>) {
        let mut finished: Option<(Tag, Outcome<R::Credential>)> = None;
        loop {
            let job = match self.turn(finished.take()) {
                Some(job) => job,
                None if self.shared.lock().core.is_stopping() => break,
                None => {
                    // Registered before looking again, so a notice sent in between
                    // is not lost.
                    let ready = self.shared.work_ready.notified();
                    let mut ready = std::pin::pin!(ready);
                    ready.as_mut().enable();
                    match self.turn(None) {
                        Some(job) => job,
                        None if self.shared.lock().core.is_stopping() => break,
                        None => {
                            ready.await;
                            continue;
                        }
                    }
                }
            };
            let outcome = self.run(job.work).await;
            finished = Some((job.tag, outcome));
            // A renewer that answers without ever waiting must not keep this
            // worker from giving the rest of the runtime its turn.
            tokio::task::coop::consume_budget().await;
        }
        if let Some((tag, outcome)) = finished {
            let _ = self.turn(Some((tag, outcome)));
        }
    }

    /// Records a finished job and takes the next.
    fn turn(&self, finished: Option<(Tag, Outcome<R::Credential>)>) -> Option<Job<R::Credential>> {
        let now = self.shared.now();
        if self.shared.is_broken() {
            self.shared.abandon();
            return None;
        }
        let mut state = self.shared.lock();
        let instruments = &self.shared.instruments;
        if let Some((tag, outcome)) = finished {
            if ENABLED {
                instruments.finished(&outcome, state.core.job_view(tag, now));
            }
            state.core.outcome(now, tag, outcome);
        }
        if state.core.is_stopping() {
            self.shared.make_ready(&mut state, now); // cancels what nobody took
        }
        let job = match state.ready.pop_front() {
            Some(job) => Some(job),
            None => state.core.poll_job(now),
        };
        let mut bypass = None;
        if let Some(Job {
            tag,
            work: Work::Renew { id, lease, .. },
        }) = &job
        {
            if ENABLED {
                if let Some(view) = state.core.job_view(*tag, now) {
                    instruments.starting(view);
                }
            }
            if !lease {
                bypass = Some(id.clone());
            }
        }
        // Finishing one job can make several ready (a clock jump, re-logins):
        // idle workers take the rest.
        if job.is_some() {
            self.shared.make_ready(&mut state, now);
        }
        self.shared.after_turn(&mut state);
        // The core starts a renewal without the lease when the store could not
        // grant one and the token expires within the margin.
        if let Some(id) = bypass {
            instruments.lease_bypass();
            let event = RenewalEvent::RenewingWithoutLease { id };
            self.shared.announce(&state, event);
        }
        job
    }

    async fn run(&self, work: Work<R::Credential>) -> Outcome<R::Credential> {
        match work {
            Work::Renew {
                id,
                credential,
                version,
                lease,
            } => self.renew(&id, &credential, version, lease).await,
            Work::Relogin { id, version } => self.relogin(id, version).await,
            Work::Write { id, fresh, version } => {
                Outcome::Written(self.write(&id, &fresh, version).await)
            }
            Work::Load { id } => {
                let result = self.get(&id).await;
                Outcome::Loaded { id, result }
            }
            Work::Delete { id, version } => {
                let deleted = self
                    .store_call(StoreOp::Delete, self.store.delete(&id, Some(version)))
                    .await;
                Outcome::Deleted(deleted.err())
            }
            Work::Reconcile => Outcome::Versions(
                self.store_call(StoreOp::Versions, self.store.versions())
                    .await,
            ),
        }
    }

    /// Takes the lease (unless told not to), renews, and writes; a rejection is
    /// checked against the store first.
    async fn renew(
        &self,
        id: &TokenId,
        credential: &R::Credential,
        version: u64,
        lease: bool,
    ) -> Outcome<R::Credential> {
        if lease {
            match self.lease(id, version).await {
                Ok(LeaseOutcome::Acquired) => {}
                Ok(LeaseOutcome::Held { remaining }) => return Outcome::LeaseHeld { remaining },
                Ok(LeaseOutcome::Changed { current }) => {
                    return Outcome::Adopt(self.stored(current))
                }
                Ok(LeaseOutcome::Missing) => return Outcome::Missing,
                Err(error) => return Outcome::LeaseFailed { error },
            }
        }
        let renewed = guarded(self.policy.call_timeout(), self.renewer.renew(credential)).await;
        let error = match renewed {
            Ok(Ok(renewed)) => {
                let issued_ms = self.shared.server_now_ms();
                let expires_ms = self.expires_ms(&renewed);
                if expires_ms > issued_ms {
                    let put = self.put(id, &renewed, issued_ms, Some(version)).await;
                    let fresh = Fresh {
                        credential: renewed,
                        issued_ms,
                        expires_ms,
                    };
                    return Outcome::Renewed { fresh, put };
                }
                let error: SharedError = Arc::new(Message(
                    "the renewal returned an expiry that is not in the future",
                ));
                (FailureClass::Transient { retry_after: None }, error)
            }
            Ok(Err(error)) => {
                let class = self.renewer.classify(&error);
                let error: SharedError = Arc::new(error);
                if class == FailureClass::Token {
                    // Another replica may have renewed it (and, if the shop rotates
                    // token strings, made this one invalid): look before declaring
                    // the customer logged out.
                    match self.get(id).await {
                        Ok(Some(current)) if current.version != version => {
                            self.release(id, lease, version).await;
                            return Outcome::Adopt(current);
                        }
                        Ok(None) => return Outcome::Missing,
                        _ => {}
                    }
                }
                (class, error)
            }
            Err(timed_out) => (
                FailureClass::Transient { retry_after: None },
                interrupted(timed_out),
            ),
        };
        self.release(id, lease, version).await;
        Outcome::Failed {
            class: error.0,
            error: error.1,
        }
    }

    async fn relogin(&self, id: TokenId, version: u64) -> Outcome<R::Credential> {
        let Some(relogin) = &self.relogin else {
            return Outcome::NoLogin {
                retry: false,
                error: None,
            };
        };
        let credential = match guarded(self.policy.call_timeout(), relogin(id.clone())).await {
            Ok(Ok(credential)) => credential,
            Ok(Err(error)) => {
                return Outcome::NoLogin {
                    retry: error.will_retry(),
                    error: Some(Arc::new(error)),
                }
            }
            // A timeout may pass; a panicking hook would only panic again.
            Err(timed_out) => {
                return Outcome::NoLogin {
                    retry: timed_out,
                    error: Some(interrupted(timed_out)),
                }
            }
        };
        let issued_ms = self.shared.server_now_ms();
        let expires_ms = self.expires_ms(&credential);
        if expires_ms <= issued_ms {
            return Outcome::NoLogin {
                retry: false,
                error: Some(Arc::new(Message(
                    "the re-login hook returned an expired credential",
                ))),
            };
        }
        let put = self.put(&id, &credential, issued_ms, Some(version)).await;
        Outcome::LoggedIn {
            fresh: Fresh {
                credential,
                issued_ms,
                expires_ms,
            },
            put,
        }
    }
}
