//! [`RenewalHandle`]: how callers talk to a running engine. Every call is a
//! command to the driver task.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::engine::{Reply, StoreDelete, StorePut};
use super::events::{EventReceiver, RenewalEvent};
use super::status::{RenewalError, RenewalErrorKind, TokenState, TokenStatus};
use super::TokenId;
use crate::clock::Clock;

/// A handle on a running [`RenewalEngine`](super::RenewalEngine). Cheap to clone; the engine stops when
/// the last one is dropped.
pub struct RenewalHandle<C> {
    pub(super) commands: mpsc::UnboundedSender<Command<C>>,
    pub(super) events: broadcast::Sender<RenewalEvent>,
    pub(super) store_put: StorePut<C>,
    pub(super) store_delete: StoreDelete,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) task: Arc<TaskGuard>,
}

impl<C> Clone for RenewalHandle<C> {
    fn clone(&self) -> Self {
        Self {
            commands: self.commands.clone(),
            events: self.events.clone(),
            store_put: Arc::clone(&self.store_put),
            store_delete: Arc::clone(&self.store_delete),
            clock: Arc::clone(&self.clock),
            task: Arc::clone(&self.task),
        }
    }
}

impl<C> fmt::Debug for RenewalHandle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalHandle")
            .field("running", &!self.commands.is_closed())
            .finish_non_exhaustive()
    }
}

pub(super) struct TaskGuard(pub(super) std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>);

pub(super) enum Command<C> {
    Hold {
        id: TokenId,
        credential: C,
        issued_at: DateTime<Utc>,
        version: u64,
        reply: oneshot::Sender<()>,
    },
    Forget {
        id: TokenId,
    },
    Status {
        id: TokenId,
        reply: oneshot::Sender<Option<TokenStatus<C>>>,
    },
    RenewNow {
        id: TokenId,
        reply: Reply<C>,
    },
    Watch {
        id: TokenId,
        reply: oneshot::Sender<Option<watch::Receiver<Option<C>>>>,
    },
    Len {
        reply: oneshot::Sender<usize>,
    },
    Shutdown,
}

impl<C: Clone + Send + Sync + 'static> RenewalHandle<C> {
    /// Holds `credential` under `id` (replacing any token held there), stores it,
    /// and schedules its renewal. `issued_at` is when it was issued, in server time
    /// (default: now); the schedule is based on the lifetime from then.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Store`] if the store refuses it,
    /// [`RenewalErrorKind::Stopped`] if the engine has stopped.
    pub async fn add(
        &self,
        id: TokenId,
        credential: C,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<(), RenewalError> {
        let issued_at = issued_at.unwrap_or_else(|| self.clock.now());
        let version = (self.store_put)(id.clone(), credential.clone(), issued_at).await?;
        self.ask(|reply| Command::Hold {
            id,
            credential,
            issued_at,
            version,
            reply,
        })
        .await
    }

    /// Stops renewing `id` and deletes it from the store.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Store`] if the store refuses the delete (the token is
    /// forgotten in memory all the same).
    pub async fn remove(&self, id: &TokenId) -> Result<(), RenewalError> {
        let _ = self.commands.send(Command::Forget { id: id.clone() });
        (self.store_delete)(id.clone()).await?;
        Ok(())
    }

    /// The token held under `id` and its schedule; `None` if none is held (or the
    /// engine has stopped).
    pub async fn status(&self, id: &TokenId) -> Option<TokenStatus<C>> {
        self.ask(|reply| Command::Status {
            id: id.clone(),
            reply,
        })
        .await
        .ok()
        .flatten()
    }

    /// A credential that has not expired, without waiting for any renewal.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::NotFound`], [`RenewalErrorKind::Expired`],
    /// [`RenewalErrorKind::Rejected`], or [`RenewalErrorKind::Stopped`].
    pub async fn valid(&self, id: &TokenId) -> Result<C, RenewalError> {
        let status = self
            .ask(|reply| Command::Status {
                id: id.clone(),
                reply,
            })
            .await?
            .ok_or_else(|| RenewalError::new(RenewalErrorKind::NotFound, ""))?;
        match status.state {
            TokenState::Rejected => Err(RenewalError::new(RenewalErrorKind::Rejected, "")),
            TokenState::Expired => Err(RenewalError::new(RenewalErrorKind::Expired, "")),
            TokenState::Scheduled | TokenState::Renewing
                if status.expires_at <= self.clock.now() =>
            {
                Err(RenewalError::new(RenewalErrorKind::Expired, ""))
            }
            TokenState::Scheduled | TokenState::Renewing => Ok(status.credential),
        }
    }

    /// Renews `id` now and returns the renewed credential. Concurrent calls for the
    /// same token, and a renewal already running, share one request.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Failed`] (still valid, retried later),
    /// [`RenewalErrorKind::Rejected`] or [`RenewalErrorKind::Expired`] (log in
    /// again), [`RenewalErrorKind::NotFound`], [`RenewalErrorKind::Stopped`].
    pub async fn renew_now(&self, id: &TokenId) -> Result<C, RenewalError> {
        self.ask(|reply| Command::RenewNow {
            id: id.clone(),
            reply,
        })
        .await?
    }

    /// A channel that always holds the current credential of `id` (`None` once it
    /// has expired, been rejected or removed); `None` if no token is held there.
    pub async fn watch(&self, id: &TokenId) -> Option<watch::Receiver<Option<C>>> {
        self.ask(|reply| Command::Watch {
            id: id.clone(),
            reply,
        })
        .await
        .ok()
        .flatten()
    }

    /// How many tokens are held.
    pub async fn len(&self) -> usize {
        self.ask(|reply| Command::Len { reply }).await.unwrap_or(0)
    }

    /// Whether no token is held.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// A receiver of every event from now on.
    #[must_use]
    pub fn events(&self) -> EventReceiver {
        EventReceiver::new(self.events.subscribe())
    }

    /// Stops starting renewals, waits for those in flight to finish, and stops the
    /// engine.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown);
        let task = self.task.0.lock().ok().and_then(|mut task| task.take());
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command<C>,
    ) -> Result<T, RenewalError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| RenewalError::new(RenewalErrorKind::Stopped, ""))?;
        answer
            .await
            .map_err(|_| RenewalError::new(RenewalErrorKind::Stopped, ""))
    }
}
