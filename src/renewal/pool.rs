//! The pool of workers that run the renewals and re-logins the driver hands out.
//!
//! A [`Job`] is a few words (which token, its credential, the version to
//! compare-and-swap against); the worker runs it inline, so handing one out
//! allocates nothing beyond the credential's copy, and the renewal's future lives
//! in the worker task rather than in a box of its own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::FutureExt;

use super::credential::Renewable;
use super::driver::{error_chain, Now, Shared};
use super::engine::ReloginFn;
use super::schedule::Slot;
use super::store::{PutOutcome, StoreError, TokenStore};
use super::TokenId;

/// A renewal or re-login for the pool, tagged with the token's slot and
/// generation so a result for a replaced token is recognised as moot.
pub(super) struct Job<C> {
    pub(super) slot: Slot,
    pub(super) generation: u32,
    pub(super) work: Work<C>,
}

/// What a job does.
pub(super) enum Work<C> {
    /// Renews `credential`, then stores the result if it expires later than the
    /// credential did (`previous_expiry_ms`).
    Renew {
        id: TokenId,
        credential: C,
        version: u64,
        previous_expiry_ms: i64,
    },
    /// Asks the caller's re-login hook for a fresh credential and stores it.
    Relogin { id: TokenId, version: u64 },
}

/// What a worker does next.
pub(super) enum Turn<C> {
    /// Runs this job.
    Run(Job<C>),
    /// Waits for the driver to make jobs ready.
    Idle,
    /// Leaves: the engine is stopping.
    Stop,
}

/// What a worker reports back to the driver.
pub(super) struct Completion<C> {
    pub(super) slot: Slot,
    pub(super) generation: u32,
    pub(super) outcome: Outcome<C>,
}

pub(super) enum Outcome<C> {
    Renewed {
        credential: C,
        issued_at: DateTime<Utc>,
        stored: Result<PutOutcome<C>, StoreError>,
    },
    Failed {
        rejected: bool,
        reason: String,
    },
    LoggedIn {
        credential: C,
        issued_at: DateTime<Utc>,
        stored: Result<PutOutcome<C>, StoreError>,
    },
    NoLogin,
}

/// What every worker shares: the renewer, the store, the engine's clock and the
/// re-login hook.
pub(super) struct Pool<R: Renewable, S> {
    pub(super) renewer: Arc<R>,
    pub(super) store: Arc<S>,
    pub(super) now: Now,
    pub(super) relogin: Option<ReloginFn<R::Credential>>,
}

impl<R: Renewable, S: TokenStore<R::Credential>> Pool<R, S> {
    /// One worker: records what it finished and takes the next job in one short
    /// critical section, runs it, and repeats; idle, it waits for the driver. A
    /// panic in the renewer's, store's or re-login hook's code is contained: a
    /// renewal counts as a transient failure (retried with backoff), a re-login
    /// as none, and the worker carries on.
    pub(super) async fn work(self: Arc<Self>, shared: Arc<Shared<R>>) {
        let mut finished = None;
        loop {
            let job = match Self::turn(&shared, finished.take()) {
                Turn::Run(job) => job,
                Turn::Stop => break,
                Turn::Idle => {
                    // Registered before looking again, so a notice sent in between
                    // is not lost.
                    let ready = shared.work_ready();
                    let mut ready = std::pin::pin!(ready);
                    ready.as_mut().enable();
                    match Self::turn(&shared, None) {
                        Turn::Run(job) => job,
                        Turn::Stop => break,
                        Turn::Idle => {
                            ready.await;
                            continue;
                        }
                    }
                }
            };
            let Job {
                slot,
                generation,
                work,
            } = job;
            let relogin = matches!(work, Work::Relogin { .. });
            let outcome = match std::panic::AssertUnwindSafe(self.run(work))
                .catch_unwind()
                .await
            {
                Ok(outcome) => outcome,
                // A token that needed a re-login stays logged out: retrying a
                // panicking hook would only panic again, as fast as it can.
                Err(_) if relogin => {
                    tracing::error!("the re-login hook panicked; the token stays logged out");
                    Outcome::NoLogin
                }
                Err(_) => Outcome::Failed {
                    rejected: false,
                    reason: "the renewal panicked".to_owned(),
                },
            };
            finished = Some(Completion {
                slot,
                generation,
                outcome,
            });
            // A renewer that answers without ever waiting must not keep this
            // worker from giving the rest of the runtime its turn.
            tokio::task::coop::consume_budget().await;
        }
    }

    /// [`Shared::next_job`], with a panic in the caller code it runs under the
    /// lock stopping the engine instead of silently losing this worker.
    fn turn(
        shared: &Shared<R>,
        finished: Option<Completion<R::Credential>>,
    ) -> Turn<R::Credential> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.next_job(finished)))
            .unwrap_or_else(|_| {
                shared.abandon();
                Turn::Stop
            })
    }

    async fn run(&self, work: Work<R::Credential>) -> Outcome<R::Credential> {
        match work {
            Work::Renew {
                id,
                credential,
                version,
                previous_expiry_ms,
            } => {
                self.renew(&id, &credential, version, previous_expiry_ms)
                    .await
            }
            Work::Relogin { id, version } => self.relogin(id, version).await,
        }
    }

    async fn renew(
        &self,
        id: &TokenId,
        credential: &R::Credential,
        version: u64,
        previous_expiry_ms: i64,
    ) -> Outcome<R::Credential> {
        let renewed = match self.renewer.renew(credential).await {
            Ok(renewed) => renewed,
            Err(error) => {
                return Outcome::Failed {
                    rejected: self.renewer.is_rejected(&error),
                    reason: error_chain(&error),
                }
            }
        };
        let issued_at = self.now.server();
        let expires_ms = self.renewer.expires_at(&renewed).timestamp_millis();
        if expires_ms <= issued_at.timestamp_millis() || expires_ms <= previous_expiry_ms {
            return Outcome::Failed {
                rejected: false,
                reason: "the renewal returned an expiry that is not after the previous one"
                    .to_owned(),
            };
        }
        let stored = self.store.put(id, &renewed, issued_at, Some(version)).await;
        Outcome::Renewed {
            credential: renewed,
            issued_at,
            stored,
        }
    }

    async fn relogin(&self, id: TokenId, version: u64) -> Outcome<R::Credential> {
        let Some(relogin) = &self.relogin else {
            return Outcome::NoLogin;
        };
        let Some(credential) = relogin(id.clone()).await else {
            return Outcome::NoLogin;
        };
        let issued_at = self.now.server();
        // Checked here, where a broken credential cannot hurt the schedule: an
        // expired one would only be expired and logged in again, as fast as that
        // goes.
        if self.renewer.expires_at(&credential) <= issued_at {
            tracing::warn!("the re-login hook returned an expired credential");
            return Outcome::NoLogin;
        }
        let stored = self
            .store
            .put(&id, &credential, issued_at, Some(version))
            .await;
        Outcome::LoggedIn {
            credential,
            issued_at,
            stored,
        }
    }
}
