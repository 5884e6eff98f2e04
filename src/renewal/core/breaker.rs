//! One circuit breaker for the whole shop: a shop-level failure (a wrong
//! storefront token, a frozen or locked shop, a missing scope) pauses every
//! renewal start instead of failing token by token; after the pause one probe
//! goes first, and its answer closes the breaker or doubles the pause.

use std::time::Duration;

/// The breaker's state. Times are monotonic microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breaker {
    /// Renewals start freely.
    Closed,
    /// Nothing starts before `until_us`; then one probe may.
    Open { until_us: u64, failed_probes: u32 },
    /// The probe is out; nothing else starts until it answers.
    Probing { failed_probes: u32 },
}

/// What a change of state is worth telling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Opened { until_us: u64 },
    Closed,
}

impl Breaker {
    /// Whether a renewal may start at `now_us`.
    pub(crate) fn allows(self, now_us: u64) -> bool {
        match self {
            Self::Closed => true,
            Self::Open { until_us, .. } => now_us >= until_us,
            Self::Probing { .. } => false,
        }
    }

    /// When starts resume, if paused with a time set.
    pub(crate) fn open_until(self) -> Option<u64> {
        match self {
            Self::Open { until_us, .. } => Some(until_us),
            Self::Closed | Self::Probing { .. } => None,
        }
    }

    /// A renewal started (allowed): after a pause, it is the probe.
    pub(crate) fn started(&mut self) {
        if let Self::Open { failed_probes, .. } = *self {
            *self = Self::Probing { failed_probes };
        }
    }

    /// A shop-level failure at `now_us`; `pause` gives the pause after so many
    /// failed probes.
    pub(crate) fn shop_failed(
        &mut self,
        now_us: u64,
        pause: impl Fn(u32) -> Duration,
    ) -> Option<Change> {
        let failed_probes = match *self {
            Self::Closed => 0,
            // A renewal that was already in flight when the breaker opened.
            Self::Open { .. } => return None,
            Self::Probing { failed_probes } => failed_probes.saturating_add(1),
        };
        let until_us = now_us.saturating_add(micros(pause(failed_probes)));
        *self = Self::Open {
            until_us,
            failed_probes,
        };
        Some(Change::Opened { until_us })
    }

    /// The shop answered something that is not a shop-level refusal.
    pub(crate) fn shop_answered(&mut self) -> Option<Change> {
        match *self {
            Self::Closed => None,
            Self::Open { .. } | Self::Probing { .. } => {
                *self = Self::Closed;
                Some(Change::Closed)
            }
        }
    }
}

pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pause(failed: u32) -> Duration {
        Duration::from_secs(30 << failed.min(5))
    }

    #[test]
    fn opens_probes_once_and_doubles_the_pause() {
        let mut breaker = Breaker::Closed;
        assert!(breaker.allows(0));
        assert_eq!(
            breaker.shop_failed(0, pause),
            Some(Change::Opened {
                until_us: 30_000_000
            })
        );
        assert_eq!(breaker.shop_failed(1, pause), None, "already open");
        assert!(!breaker.allows(29_999_999));
        assert!(breaker.allows(30_000_000));
        breaker.started();
        assert!(!breaker.allows(30_000_001), "one probe at a time");
        assert_eq!(
            breaker.shop_failed(31_000_000, pause),
            Some(Change::Opened {
                until_us: 91_000_000
            }),
            "a failed probe doubles the pause"
        );
        assert_eq!(breaker.open_until(), Some(91_000_000));
        assert_eq!(breaker.shop_answered(), Some(Change::Closed));
        assert_eq!(breaker.shop_answered(), None);
        assert!(breaker.allows(0));
    }
}
