//! What callers are told about a held token: its state and schedule, and why the
//! engine could not hand one out.

use std::fmt;

use chrono::{DateTime, Utc};

use super::driver::error_chain;
use super::store::StoreError;

/// Where a held token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenState {
    /// Waiting for its next renewal.
    Scheduled,
    /// A renewal or re-login is running.
    Renewing,
    /// Expired before it could be renewed; only a new login helps.
    Expired,
    /// Refused by the server; only a new login helps.
    Rejected,
}

/// A held token and its schedule.
#[derive(Clone)]
pub struct TokenStatus<C> {
    pub(super) credential: C,
    pub(super) state: TokenState,
    pub(super) issued_at: DateTime<Utc>,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) next_renewal_at: Option<DateTime<Utc>>,
    pub(super) failures: u32,
}

impl<C> TokenStatus<C> {
    /// The current credential (check [`state`](Self::state) before using it).
    pub fn credential(&self) -> &C {
        &self.credential
    }
    /// Where the token stands.
    pub fn state(&self) -> TokenState {
        self.state
    }
    /// When the current credential was issued or renewed (server time).
    pub fn issued_at(&self) -> DateTime<Utc> {
        self.issued_at
    }
    /// When the current credential expires (server time).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }
    /// When the next renewal attempt is due (server time), if one is scheduled.
    pub fn next_renewal_at(&self) -> Option<DateTime<Utc>> {
        self.next_renewal_at
    }
    /// Failed attempts in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

impl<C> fmt::Debug for TokenStatus<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStatus")
            .field("state", &self.state)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("next_renewal_at", &self.next_renewal_at)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Why the engine could not hand out a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RenewalErrorKind {
    /// No token is held under that id.
    NotFound,
    /// The token has expired; only a new login helps.
    Expired,
    /// The server refused the token; only a new login helps.
    Rejected,
    /// The renewal failed for a reason that may pass; the token is still valid
    /// until it expires and will be retried.
    Failed,
    /// The store refused the write.
    Store,
    /// The engine has stopped.
    Stopped,
}

/// Why the engine could not hand out or renew a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct RenewalError {
    kind: RenewalErrorKind,
    reason: String,
}

impl RenewalError {
    pub(crate) fn from_kind(kind: RenewalErrorKind) -> Self {
        Self::new(kind, "")
    }

    pub(super) fn new(kind: RenewalErrorKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> &RenewalErrorKind {
        &self.kind
    }

    /// Whether only a new login can help.
    #[must_use]
    pub fn must_log_in_again(&self) -> bool {
        matches!(
            self.kind,
            RenewalErrorKind::Expired | RenewalErrorKind::Rejected
        )
    }

    fn describe(&self) -> String {
        let what = match self.kind {
            RenewalErrorKind::NotFound => "no token is held under that id",
            RenewalErrorKind::Expired => "the token has expired; the customer must log in again",
            RenewalErrorKind::Rejected => "the token was rejected; the customer must log in again",
            RenewalErrorKind::Failed => "the renewal failed",
            RenewalErrorKind::Store => "the token store failed",
            RenewalErrorKind::Stopped => "the renewal engine has stopped",
        };
        if self.reason.is_empty() {
            what.to_owned()
        } else {
            format!("{what}: {}", self.reason)
        }
    }
}

impl From<StoreError> for RenewalError {
    fn from(error: StoreError) -> Self {
        RenewalError::new(RenewalErrorKind::Store, error_chain(&error))
    }
}
