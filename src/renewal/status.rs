//! What callers are told about a held token: its state and schedule.

use std::fmt;

use chrono::{DateTime, Utc};

/// Where a held token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenState {
    /// Waiting for its next renewal.
    Scheduled,
    /// A renewal is running (or queued by `renew_now`).
    Renewing,
    /// Expired before it could be renewed; a re-login is being tried.
    Expired,
    /// Refused by the server; a re-login is being tried.
    Rejected,
}

/// A held token and its schedule.
#[derive(Clone)]
pub struct TokenStatus<C> {
    pub(crate) credential: C,
    pub(crate) state: TokenState,
    pub(crate) issued_at: DateTime<Utc>,
    pub(crate) expires_at: DateTime<Utc>,
    pub(crate) next_renewal_at: Option<DateTime<Utc>>,
    pub(crate) failures: u32,
    pub(crate) version: u64,
    pub(crate) pending_write: bool,
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
    /// The store version this credential was read or written as.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Whether the current credential is still to be written to the store (a
    /// write failed and is being retried).
    pub fn pending_write(&self) -> bool {
        self.pending_write
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
            .field("version", &self.version)
            .field("pending_write", &self.pending_write)
            .finish_non_exhaustive()
    }
}
