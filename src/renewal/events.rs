//! What the engine tells its listeners.

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast;

use super::TokenId;

/// Something that happened to a token, or to the engine's sense of time.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalEvent {
    /// A token was renewed (and stored) and now expires at `expires_at`.
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
        /// Whether the failure is transient (by the credential's classification).
        transient: bool,
        /// The error, as one line (never holds a secret).
        reason: String,
    },
    /// The token expired before it could be renewed; only a new login helps.
    Expired {
        /// The token.
        id: TokenId,
    },
    /// The server refused the token; only a new login helps.
    Rejected {
        /// The token.
        id: TokenId,
        /// The error, as one line.
        reason: String,
    },
    /// The re-login hook supplied a fresh token for an expired or rejected one.
    LoggedInAgain {
        /// The token.
        id: TokenId,
        /// The fresh token's expiry.
        expires_at: DateTime<Utc>,
    },
    /// The re-login hook gave no fresh token (it returned none, an expired one,
    /// or panicked): the token stays logged out until it is replaced.
    NotLoggedInAgain {
        /// The token.
        id: TokenId,
    },
    /// Another replica renewed the token first; its version was adopted.
    AdoptedFromStore {
        /// The token.
        id: TokenId,
        /// The adopted token's expiry.
        expires_at: DateTime<Utc>,
    },
    /// The token was deleted from the store while it was being renewed (logged
    /// out, on this replica or another) and is no longer kept alive.
    Removed {
        /// The token.
        id: TokenId,
    },
    /// The store failed; the renewed token is kept in memory and the write is not
    /// retried until the next renewal.
    StoreFailed {
        /// The token.
        id: TokenId,
        /// The error, as one line.
        reason: String,
    },
    /// The wall clock moved by `jump` more than monotonic time did (a system
    /// suspend, or the clock was set); due renewals were re-examined.
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

/// Receives [`RenewalEvent`]s. Slow receivers are told how many events they
/// missed ([`EventError::Lagged`]); nothing is dropped silently.
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
