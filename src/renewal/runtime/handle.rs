//! [`RenewalHandle`]: how callers talk to a running engine.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{oneshot, watch};

use super::shared::{Shared, Waiter};
use super::store_calls::Backend;
use crate::renewal::core::{Command, Fresh, Reply, Stored};
use crate::renewal::error::{RenewalError, RenewalErrorKind};
use crate::renewal::events::EventReceiver;
use crate::renewal::id::TokenId;
use crate::renewal::status::TokenStatus;

/// A handle on a running [`RenewalEngine`](crate::renewal::RenewalEngine). Cheap
/// to clone; the engine stops when the last one is dropped.
pub struct RenewalHandle<C> {
    pub(crate) shared: Arc<Shared<C>>,
    pub(crate) backend: Arc<dyn Backend<C>>,
    pub(crate) guard: Arc<StopOnDrop>,
}

/// Stops the engine when the last handle goes.
pub(crate) struct StopOnDrop(pub(crate) Box<dyn Fn() + Send + Sync>);

impl StopOnDrop {
    pub(crate) fn new<C: Clone + Send + Sync + 'static>(shared: Arc<Shared<C>>) -> Self {
        Self(Box::new(move || shared.command(Command::Shutdown)))
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        (self.0)();
    }
}

impl<C> Clone for RenewalHandle<C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            backend: Arc::clone(&self.backend),
            guard: Arc::clone(&self.guard),
        }
    }
}

impl<C: Clone + Send + Sync + 'static> fmt::Debug for RenewalHandle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalHandle")
            .field("stopped", &*self.shared.stopped.borrow())
            .finish_non_exhaustive()
    }
}

fn stopped() -> RenewalError {
    RenewalError::new(RenewalErrorKind::Stopped)
}

impl<C: Clone + Send + Sync + 'static> RenewalHandle<C> {
    /// Holds `credential` under `id` (replacing any token held there: a new
    /// login), stores it, and schedules its renewal. `issued_at` is when it was
    /// issued, in the server's time (default: now in the server's time, from the
    /// estimated clock offset); the schedule is based on the lifetime from then.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Expired`] for a credential that has already expired,
    /// [`RenewalErrorKind::Store`] if the store refuses it,
    /// [`RenewalErrorKind::Stopped`] if the engine has stopped.
    pub async fn add(
        &self,
        id: TokenId,
        credential: C,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<(), RenewalError> {
        if *self.shared.stopped.borrow() {
            return Err(stopped());
        }
        let issued_at = issued_at.unwrap_or_else(|| self.server_now());
        let expires_at = self.backend.expires_at(&credential);
        if expires_at <= self.server_now() {
            return Err(RenewalError::new(RenewalErrorKind::Expired));
        }
        let version = self.backend.put_new(&id, &credential, issued_at).await?;
        let token = Stored {
            fresh: Fresh {
                credential,
                issued_ms: issued_at.timestamp_millis(),
                expires_ms: expires_at.timestamp_millis(),
            },
            version,
        };
        match self.ask(|reply| Command::Hold { token, id, reply }).await? {
            Reply::Done(result) => result,
            _ => Err(stopped()),
        }
    }

    /// Deletes `id` from the store and stops renewing it (a logout). Other
    /// replicas stop serving it within the reconcile interval, or at once if
    /// their renewal finds it gone.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Store`] if the store refuses the delete. The token is
    /// forgotten here all the same, but it is still stored, and replicas
    /// (this one included, when it reconciles) may pick it up again: retry.
    pub async fn remove(&self, id: &TokenId) -> Result<(), RenewalError> {
        // The store first: a reconciling pass or a read-through running meanwhile
        // then finds nothing to bring back.
        let deleted = self.backend.delete(id).await;
        self.shared.command(Command::Forget { id: id.clone() });
        deleted
    }

    /// The token held here under `id` and its schedule; `None` if none is held
    /// (or the engine has stopped).
    pub async fn status(&self, id: &TokenId) -> Option<TokenStatus<C>> {
        match self
            .ask(|reply| Command::Status {
                id: id.clone(),
                reply,
            })
            .await
        {
            Ok(Reply::Status(status)) => status,
            _ => None,
        }
    }

    /// Every token held here and its status: to re-sync after an
    /// [`EventError::Lagged`](crate::renewal::EventError::Lagged).
    pub async fn snapshot(&self) -> Vec<(TokenId, TokenStatus<C>)> {
        match self.ask(|reply| Command::Snapshot { reply }).await {
            Ok(Reply::Snapshot(all)) => all,
            _ => Vec::new(),
        }
    }

    /// A credential that may be used now: held, not expired (in the server's
    /// time), not rejected. An id not held here is read from the store (a
    /// customer who logged in on another replica). Never waits for a renewal.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::NotFound`], [`RenewalErrorKind::Expired`],
    /// [`RenewalErrorKind::Rejected`], [`RenewalErrorKind::Store`] (reading
    /// through), [`RenewalErrorKind::Busy`], or [`RenewalErrorKind::Stopped`].
    pub async fn valid(&self, id: &TokenId) -> Result<C, RenewalError> {
        self.credential(|reply| Command::Valid {
            id: id.clone(),
            reply,
        })
        .await
    }

    /// Renews `id` now and returns the renewed credential. It joins a renewal
    /// already running, and otherwise goes through the same gates as scheduled
    /// renewals (the pool, the start-rate limit, the shop's circuit breaker),
    /// ahead of scheduled work. Within the gap after an attempt (10 s by default)
    /// no request is sent: it answers what that attempt gave — its error, or the
    /// credential it renewed.
    ///
    /// # Errors
    ///
    /// [`RenewalErrorKind::Failed`] (still valid, retried later),
    /// [`RenewalErrorKind::ShopUnavailable`], [`RenewalErrorKind::Rejected`] or
    /// [`RenewalErrorKind::Expired`] (log in again),
    /// [`RenewalErrorKind::NotFound`], [`RenewalErrorKind::Busy`] (too many
    /// queued), [`RenewalErrorKind::Stopped`].
    pub async fn renew_now(&self, id: &TokenId) -> Result<C, RenewalError> {
        self.credential(|reply| Command::RenewNow {
            id: id.clone(),
            reply,
        })
        .await
    }

    /// A channel that always holds the current credential of `id`: `None` at
    /// once when it expires or is rejected, the new one when it is renewed or
    /// logged in again; it closes when the token is removed. `None` if no token
    /// is held under `id`, here or in the store.
    pub async fn watch(&self, id: &TokenId) -> Option<watch::Receiver<Option<C>>> {
        let (reply, answer) = oneshot::channel();
        self.shared.command(Command::Watch {
            id: id.clone(),
            reply: Waiter::Watch(id.clone(), reply),
        });
        answer.await.ok().flatten()
    }

    /// How many tokens are held here.
    pub async fn len(&self) -> usize {
        match self.ask(|reply| Command::Len { reply }).await {
            Ok(Reply::Len(len)) => len,
            _ => 0,
        }
    }

    /// Whether no token is held here.
    pub async fn is_empty(&self) -> bool {
        self.len().await == 0
    }

    /// A receiver of every event from now on; it ends with
    /// [`EventError::Closed`](crate::renewal::EventError::Closed) once the engine
    /// has stopped. To miss nothing at start-up, subscribe with
    /// [`RenewalEngine::events`](crate::renewal::RenewalEngine::events) before
    /// starting.
    #[must_use]
    pub fn events(&self) -> EventReceiver {
        match &self.shared.lock().events {
            Some(events) => EventReceiver::new(events.subscribe()),
            None => EventReceiver::closed(),
        }
    }

    /// Starts nothing new, waits for what is in flight to finish, and stops the
    /// engine. Every handle's calls then answer
    /// [`Stopped`](RenewalErrorKind::Stopped) and event receivers end.
    pub async fn shutdown(&self) {
        let mut stopped = self.shared.stopped.subscribe();
        self.shared.command(Command::Shutdown);
        let _ = stopped.wait_for(|stopped| *stopped).await;
    }

    fn server_now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.shared.server_now_ms()).unwrap_or_default()
    }

    async fn credential(
        &self,
        command: impl FnOnce(Waiter<C>) -> Command<C, Waiter<C>>,
    ) -> Result<C, RenewalError> {
        match self.ask(command).await? {
            Reply::Credential(result) => result,
            _ => Err(stopped()),
        }
    }

    async fn ask(
        &self,
        command: impl FnOnce(Waiter<C>) -> Command<C, Waiter<C>>,
    ) -> Result<Reply<C>, RenewalError> {
        if *self.shared.stopped.borrow() {
            return Err(stopped());
        }
        let (reply, answer) = oneshot::channel();
        self.shared.command(command(Waiter::Reply(reply)));
        answer.await.map_err(|_| stopped())
    }
}
