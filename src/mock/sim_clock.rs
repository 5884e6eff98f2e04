//! A wall clock driven by tokio's (pausable) time, for tests that simulate days
//! in milliseconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::clock::{Clock, Sleep};

/// A [`Clock`] whose wall time advances with tokio's clock, so under
/// `tokio::time::pause` (or `#[tokio::test(start_paused = true)]`) days pass as
/// fast as the code can run. It can also jump (as the wall clock does over a
/// system suspend, while tokio's timers stand still) and run at an offset (a
/// client whose clock is wrong).
///
/// Share one between the code under test and [`MockStorefrontBuilder::clock`](super::MockStorefrontBuilder::clock)
/// so that both live in the same simulated time.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use std::time::Duration;
/// use chrono::{TimeDelta, Utc};
/// use storefront_token::Clock;
/// use storefront_token::mock::SimulatedClock;
///
/// let clock = SimulatedClock::new(Utc::now());
/// let before = clock.now();
/// tokio::time::sleep(Duration::from_secs(86_400)).await; // instant under paused time
/// assert_eq!(clock.now() - before, TimeDelta::days(1));
/// clock.jump(TimeDelta::hours(2)); // a suspend: wall time moves, timers do not
/// assert_eq!(clock.now() - before, TimeDelta::days(1) + TimeDelta::hours(2));
/// let skewed = clock.with_offset(TimeDelta::minutes(10));
/// assert_eq!(skewed.now() - clock.now(), TimeDelta::minutes(10));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SimulatedClock {
    shared: Arc<Shared>,
    offset_ms: Arc<AtomicI64>,
}

#[derive(Debug)]
struct Shared {
    start_wall: DateTime<Utc>,
    start: Instant,
    jumped_ms: AtomicI64,
}

impl SimulatedClock {
    /// A clock that reads `start` now and advances with tokio's clock.
    #[must_use]
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            shared: Arc::new(Shared {
                start_wall: start,
                start: Instant::now(),
                jumped_ms: AtomicI64::new(0),
            }),
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Moves the wall clock by `by` without moving tokio's timers, as a system
    /// suspend (or someone setting the clock) does. Seen by every clock sharing
    /// this one's time.
    pub fn jump(&self, by: TimeDelta) {
        self.shared
            .jumped_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }

    /// A clock sharing this one's time, shifted by `offset` (a machine whose clock
    /// is wrong). The offset can be changed later with [`set_offset`](Self::set_offset).
    #[must_use]
    pub fn with_offset(&self, offset: TimeDelta) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            offset_ms: Arc::new(AtomicI64::new(offset.num_milliseconds())),
        }
    }

    /// Changes this clock's offset from the shared time.
    pub fn set_offset(&self, offset: TimeDelta) {
        self.offset_ms
            .store(offset.num_milliseconds(), Ordering::Relaxed);
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = TimeDelta::from_std(self.shared.start.elapsed()).unwrap_or(TimeDelta::MAX);
        let shift =
            self.shared.jumped_ms.load(Ordering::Relaxed) + self.offset_ms.load(Ordering::Relaxed);
        self.shared.start_wall + elapsed + TimeDelta::milliseconds(shift)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
