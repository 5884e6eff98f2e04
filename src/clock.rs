//! Where the current time and waiting come from, so tests can control both.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A future that completes after a wait.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of wall-clock time and of waiting.
///
/// The client asks it for the time when it checks that a returned `expiresAt`
/// lies in the future, and waits through it between retries. The default,
/// [`SystemClock`], reads the system clock and sleeps on the tokio timer (which
/// follows `tokio::time::pause`). Tests can plug in their own to move time and
/// record waits without sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The system's wall clock and the tokio timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
