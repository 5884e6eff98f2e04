//! What the engine tells its listeners: [`RenewalEvent`]s on an [`EventReceiver`].

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast;

use super::error::RenewalError;
use super::id::TokenId;
use crate::ErrorReport;

/// Something that happened to a token, to the shop, or to the engine's sense of
/// time. `Display` gives one line for logs, with the error's whole chain.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RenewalEvent {
    /// A token was renewed (and stored, unless a [`StoreFailed`](Self::StoreFailed)
    /// for it says otherwise) and now expires at `expires_at`.
    Renewed {
        /// The token.
        id: TokenId,
        /// The new expiry, in the server's time.
        expires_at: DateTime<Utc>,
    },
    /// A renewal attempt failed; the still-valid token keeps being served.
    RenewalFailed {
        /// The token.
        id: TokenId,
        /// Failed attempts in a row, this one included.
        attempt: u32,
        /// When the next attempt is due (server time); `None` if none will be made.
        next_attempt_at: Option<DateTime<Utc>>,
        /// Whether the failure may pass: `false` only when the token was rejected
        /// (a [`Rejected`](Self::Rejected) event follows). A shop-level refusal
        /// is transient for the token, and [`ShopPaused`](Self::ShopPaused) says
        /// the shop is paused.
        transient: bool,
        /// What went wrong; its `source()` is the renewer's typed error.
        error: RenewalError,
    },
    /// The token expired before it could be renewed; only a new login helps. It is
    /// no longer served.
    Expired {
        /// The token.
        id: TokenId,
    },
    /// The server refused the token (and no replica holds a newer one); only a new
    /// login helps. It is no longer served.
    Rejected {
        /// The token.
        id: TokenId,
        /// Why; its `source()` is the renewer's typed error.
        error: RenewalError,
    },
    /// The re-login hook supplied a fresh token for an expired or rejected one.
    LoggedInAgain {
        /// The token.
        id: TokenId,
        /// The fresh token's expiry.
        expires_at: DateTime<Utc>,
    },
    /// A re-login failed for now and will be tried again.
    ReloginFailed {
        /// The token.
        id: TokenId,
        /// Failed re-logins in a row.
        attempt: u32,
        /// When the next re-login is due (server time).
        next_attempt_at: Option<DateTime<Utc>>,
        /// Why.
        error: RenewalError,
    },
    /// No fresh token will come (no hook, the hook gave up, returned an expired
    /// token, panicked, or failed too often): the token is dropped here and
    /// deleted from the store.
    NotLoggedInAgain {
        /// The token.
        id: TokenId,
        /// Why, when the hook said.
        error: Option<RenewalError>,
    },
    /// Another replica renewed or replaced the token first; its version was adopted.
    AdoptedFromStore {
        /// The token.
        id: TokenId,
        /// The adopted token's expiry.
        expires_at: DateTime<Utc>,
    },
    /// The token is no longer held: removed here, or deleted from the store (logged
    /// out on another replica).
    Removed {
        /// The token.
        id: TokenId,
    },
    /// A store operation failed. With `will_retry`, the credential in memory is
    /// served and the write is retried with backoff until it lands or the token
    /// is superseded ([`Persisted`](Self::Persisted) says when it lands).
    StoreFailed {
        /// The token, if the operation was about one.
        id: Option<TokenId>,
        /// Whether the engine retries the write.
        will_retry: bool,
        /// Why; its `source()` is the store's error.
        error: RenewalError,
    },
    /// The store cannot grant the renewal lease and the token expires within the
    /// margin: it is renewed without the lease, from memory (other replicas may
    /// renew it too). Its outcome follows as usual.
    RenewingWithoutLease {
        /// The token.
        id: TokenId,
    },
    /// A write that had failed has now landed in the store.
    Persisted {
        /// The token.
        id: TokenId,
    },
    /// The shop refuses every token for now: renewal starts are paused for the
    /// whole shop until `until` (then one probe goes first). Held tokens keep
    /// being served until they truly expire.
    ShopPaused {
        /// When a probe will be tried (server time).
        until: DateTime<Utc>,
        /// Why; its `source()` is the renewer's typed error.
        error: RenewalError,
    },
    /// A probe went through: renewals run again.
    ShopResumed,
    /// The wall clock moved by `jump` more than monotonic time did (a system
    /// suspend, or the clock was set): the server-clock estimate was reset and due
    /// renewals were re-examined.
    ClockJump {
        /// Wall-clock time minus monotonic time elapsed since the last look.
        jump: TimeDelta,
    },
    /// The server's clock differs from ours by more than the warning threshold.
    ClockSkew {
        /// Server time minus local time.
        offset: TimeDelta,
    },
}

impl RenewalEvent {
    /// The token the event is about, if any.
    #[must_use]
    pub fn id(&self) -> Option<&TokenId> {
        match self {
            Self::Renewed { id, .. }
            | Self::RenewalFailed { id, .. }
            | Self::Expired { id }
            | Self::Rejected { id, .. }
            | Self::LoggedInAgain { id, .. }
            | Self::ReloginFailed { id, .. }
            | Self::NotLoggedInAgain { id, .. }
            | Self::AdoptedFromStore { id, .. }
            | Self::Removed { id }
            | Self::RenewingWithoutLease { id }
            | Self::Persisted { id } => Some(id),
            Self::StoreFailed { id, .. } => id.as_ref(),
            Self::ShopPaused { .. }
            | Self::ShopResumed
            | Self::ClockJump { .. }
            | Self::ClockSkew { .. } => None,
        }
    }
}

/// What went wrong, for an event line that already says what it means: the
/// error's sources, or the error itself when it has none.
impl RenewalEvent {
    /// The error the event carries, if any: its `source()` is the renewer's or
    /// the store's typed error.
    #[must_use]
    pub fn error(&self) -> Option<&RenewalError> {
        match self {
            Self::RenewalFailed { error, .. }
            | Self::Rejected { error, .. }
            | Self::ReloginFailed { error, .. }
            | Self::StoreFailed { error, .. }
            | Self::ShopPaused { error, .. } => Some(error),
            Self::NotLoggedInAgain { error, .. } => error.as_ref(),
            Self::Renewed { .. }
            | Self::Expired { .. }
            | Self::LoggedInAgain { .. }
            | Self::AdoptedFromStore { .. }
            | Self::Removed { .. }
            | Self::RenewingWithoutLease { .. }
            | Self::Persisted { .. }
            | Self::ShopResumed
            | Self::ClockJump { .. }
            | Self::ClockSkew { .. } => None,
        }
    }
}

fn cause(error: &RenewalError) -> ErrorReport<'_> {
    match std::error::Error::source(error) {
        Some(source) => ErrorReport::new(source),
        None => cause(error),
    }
}

fn next(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "no retry".to_owned(), |at| format!("next attempt {at}"))
}

impl fmt::Display for RenewalEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Renewed { id, expires_at } => {
                write!(f, "{id}: renewed, valid until {expires_at}")
            }
            Self::RenewalFailed {
                id,
                attempt,
                next_attempt_at,
                transient,
                error,
            } => write!(
                f,
                "{id}: renewal attempt {attempt} failed ({}; {}): {}",
                if *transient { "transient" } else { "permanent" },
                next(*next_attempt_at),
                cause(error)
            ),
            Self::Expired { id } => write!(f, "{id}: expired; log in again"),
            Self::Rejected { id, error } => {
                write!(f, "{id}: rejected; log in again: {}", cause(error))
            }
            Self::LoggedInAgain { id, expires_at } => {
                write!(f, "{id}: logged in again, valid until {expires_at}")
            }
            Self::ReloginFailed {
                id,
                attempt,
                next_attempt_at,
                error,
            } => write!(
                f,
                "{id}: re-login attempt {attempt} failed ({}): {}",
                next(*next_attempt_at),
                cause(error)
            ),
            Self::NotLoggedInAgain { id, error: None } => write!(f, "{id}: not logged in again"),
            Self::NotLoggedInAgain {
                id,
                error: Some(error),
            } => write!(f, "{id}: not logged in again: {}", cause(error)),
            Self::AdoptedFromStore { id, expires_at } => {
                write!(f, "{id}: adopted from the store, valid until {expires_at}")
            }
            Self::Removed { id } => write!(f, "{id}: removed"),
            Self::StoreFailed {
                id,
                will_retry,
                error,
            } => {
                if let Some(id) = id {
                    write!(f, "{id}: ")?;
                }
                let retry = if *will_retry { "; retrying" } else { "" };
                write!(f, "store failed{retry}: {}", cause(error))
            }
            Self::RenewingWithoutLease { id } => write!(
                f,
                "{id}: renewing without the lease (the store is unreachable and the token expires soon)"
            ),
            Self::Persisted { id } => write!(f, "{id}: stored after earlier failures"),
            Self::ShopPaused { until, error } => write!(
                f,
                "shop refuses renewals; paused until {until}: {}",
                cause(error)
            ),
            Self::ShopResumed => f.write_str("shop accepts renewals again"),
            Self::ClockJump { jump } => write!(
                f,
                "wall clock jumped by {} ms; re-examined due renewals",
                jump.num_milliseconds()
            ),
            Self::ClockSkew { offset } => write!(
                f,
                "server clock differs from ours by {} ms",
                offset.num_milliseconds()
            ),
        }
    }
}

/// Receives [`RenewalEvent`]s. Slow receivers are told how many events they
/// missed ([`EventError::Lagged`]) and can re-sync from
/// [`RenewalHandle::snapshot`](super::RenewalHandle::snapshot); nothing is
/// dropped silently. Ends with [`EventError::Closed`] once the engine has stopped.
#[derive(Debug)]
pub struct EventReceiver {
    inner: broadcast::Receiver<RenewalEvent>,
}

/// Why [`EventReceiver::recv`] returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// This receiver fell behind and missed this many events; the next `recv`
    /// returns the oldest event still held.
    #[error("event receiver lagged and missed {0} events")]
    Lagged(u64),
    /// The engine has stopped and every event has been received.
    #[error("the renewal engine has stopped")]
    Closed,
}

impl EventReceiver {
    pub(crate) fn new(inner: broadcast::Receiver<RenewalEvent>) -> Self {
        Self { inner }
    }

    /// A receiver that is already closed: for an engine that has stopped.
    pub(crate) fn closed() -> Self {
        let (sender, inner) = broadcast::channel(1);
        drop(sender);
        Self { inner }
    }

    /// The next event.
    ///
    /// # Errors
    ///
    /// [`EventError::Lagged`] with the number of missed events when this receiver
    /// fell behind, [`EventError::Closed`] once the engine has stopped.
    pub async fn recv(&mut self) -> Result<RenewalEvent, EventError> {
        self.inner.recv().await.map_err(|error| match error {
            broadcast::error::RecvError::Lagged(missed) => EventError::Lagged(missed),
            broadcast::error::RecvError::Closed => EventError::Closed,
        })
    }

    /// The next event if one is waiting.
    ///
    /// # Errors
    ///
    /// `Ok(None)` when none is waiting; [`EventError`] as for [`recv`](Self::recv).
    pub fn try_recv(&mut self) -> Result<Option<RenewalEvent>, EventError> {
        match self.inner.try_recv() {
            Ok(event) => Ok(Some(event)),
            Err(broadcast::error::TryRecvError::Empty) => Ok(None),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Err(EventError::Lagged(missed)),
            Err(broadcast::error::TryRecvError::Closed) => Err(EventError::Closed),
        }
    }
}
