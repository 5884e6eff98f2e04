//! Where the current time comes from, so tests can move it.

use std::fmt;

use chrono::{DateTime, Utc};

/// A source of the current wall-clock time.
///
/// The client asks it when it checks that a returned `expiresAt` lies in the
/// future. Tests plug in their own to move time without sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
