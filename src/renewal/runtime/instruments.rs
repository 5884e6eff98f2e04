//! The engine's metrics, recorded by the runtime (the core knows nothing of
//! them): handles registered once at start, so recording is an atomic
//! operation or two. Without the crate feature `metrics`, [`Instruments`] is
//! empty and every call compiles to nothing; callers guard the work of
//! gathering what to record with [`ENABLED`].

use crate::renewal::core::{JobView, Outcome, Put, StateCounts};
use crate::renewal::credential::FailureClass;
use crate::renewal::events::RenewalEvent;

/// Whether metrics are recorded at all (the crate feature `metrics`).
pub(crate) const ENABLED: bool = cfg!(feature = "metrics");

/// What a renewal attempt came to (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RenewalOutcome {
    Renewed,
    Conflict,
    TransientFailure,
    ShopUnavailable,
    Rejected,
    Adopted,
    LeaseHeld,
    LeaseFailed,
    Removed,
    Moot,
    Expired,
}

impl RenewalOutcome {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    const ALL: [Self; 11] = [
        Self::Renewed,
        Self::Conflict,
        Self::TransientFailure,
        Self::ShopUnavailable,
        Self::Rejected,
        Self::Adopted,
        Self::LeaseHeld,
        Self::LeaseFailed,
        Self::Removed,
        Self::Moot,
        Self::Expired,
    ];

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Self::Renewed => "renewed",
            Self::Conflict => "conflict",
            Self::TransientFailure => "transient_failure",
            Self::ShopUnavailable => "shop_unavailable",
            Self::Rejected => "rejected",
            Self::Adopted => "adopted",
            Self::LeaseHeld => "lease_held",
            Self::LeaseFailed => "lease_failed",
            Self::Removed => "removed",
            Self::Moot => "moot",
            Self::Expired => "expired",
        }
    }

    /// What a finished renewal job came to; `None` for other jobs' outcomes.
    /// `current`: the token is still the one the job was for.
    pub(crate) fn of<C>(outcome: &Outcome<C>, current: bool) -> Option<Self> {
        let outcome = match outcome {
            Outcome::Renewed { put, .. } => match put {
                Put::Stored { .. } | Put::Failed(_) => Self::Renewed,
                Put::Conflict(_) => Self::Conflict,
                Put::Missing => Self::Removed,
            },
            Outcome::Failed { class, .. } => match class {
                FailureClass::Token => Self::Rejected,
                FailureClass::Shop => Self::ShopUnavailable,
                _ => Self::TransientFailure,
            },
            Outcome::LeaseHeld { .. } => Self::LeaseHeld,
            Outcome::LeaseFailed { .. } => Self::LeaseFailed,
            Outcome::Adopt(_) => Self::Adopted,
            Outcome::Missing => Self::Removed,
            _ => return None,
        };
        Some(if current { outcome } else { Self::Moot })
    }
}

/// A store operation (the `op` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreOp {
    LoadAll,
    Versions,
    Get,
    Put,
    TryLease,
    ReleaseLease,
    Delete,
}

impl StoreOp {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    const ALL: [Self; 7] = [
        Self::LoadAll,
        Self::Versions,
        Self::Get,
        Self::Put,
        Self::TryLease,
        Self::ReleaseLease,
        Self::Delete,
    ];

    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    fn label(self) -> &'static str {
        match self {
            Self::LoadAll => "load_all",
            Self::Versions => "versions",
            Self::Get => "get",
            Self::Put => "put",
            Self::TryLease => "try_lease",
            Self::ReleaseLease => "release_lease",
            Self::Delete => "delete",
        }
    }
}

/// Seconds from server-time milliseconds.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn seconds(ms: i64) -> f64 {
    // Exact up to 2^53 ms (285,000 years).
    ms as f64 / 1_000.0
}

#[cfg(feature = "metrics")]
mod on;
#[cfg(feature = "metrics")]
pub(crate) use on::Instruments;

#[cfg(not(feature = "metrics"))]
mod off;
#[cfg(not(feature = "metrics"))]
pub(crate) use off::Instruments;

/// What every implementation records; the shared logic over it.
impl Instruments {
    /// A finished job's outcome, with its token as held before the outcome is
    /// applied (`None`: moot).
    pub(crate) fn finished<C>(&self, outcome: &Outcome<C>, view: Option<JobView>) {
        let Some(what) = RenewalOutcome::of(outcome, view.is_some()) else {
            return;
        };
        self.renewal(what);
        if let (Outcome::Renewed { .. }, Some(view)) = (outcome, view) {
            self.time_left(seconds(view.expires_ms.saturating_sub(view.server_now_ms)));
        }
    }

    /// A worker takes a renewal job for a token held as `view`.
    pub(crate) fn starting(&self, view: JobView) {
        if view.failures > 0 {
            self.retry();
        }
        let late_ms = view.server_now_ms.saturating_sub(view.due_ms);
        if late_ms >= 0 {
            self.start_lateness(seconds(late_ms));
        }
    }

    /// An event the core emitted.
    pub(crate) fn event(&self, event: &RenewalEvent) {
        match event {
            RenewalEvent::Expired { .. } => self.renewal(RenewalOutcome::Expired),
            RenewalEvent::ShopPaused { .. } => self.breaker(true),
            RenewalEvent::ShopResumed => self.breaker(false),
            _ => {}
        }
    }

    /// Every label value, for a test of the names.
    #[cfg(test)]
    pub(crate) fn labels() -> (Vec<&'static str>, Vec<&'static str>) {
        (
            RenewalOutcome::ALL.iter().map(|o| o.label()).collect(),
            StoreOp::ALL.iter().map(|o| o.label()).collect(),
        )
    }
}

/// Counts as the gauge wants them, in `TokenState` order.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn by_state(counts: StateCounts) -> [usize; 4] {
    [
        counts.scheduled,
        counts.renewing,
        counts.expired,
        counts.rejected,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_lowercase_words() {
        let (outcomes, ops) = Instruments::labels();
        for labels in [outcomes, ops] {
            let mut sorted = labels.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), labels.len(), "{labels:?}");
            assert!(labels
                .iter()
                .all(|l| l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
        }
    }
}
