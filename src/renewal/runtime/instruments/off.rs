//! Instruments with the feature off: nothing, at no cost.

use super::{RenewalOutcome, StoreOp};
use crate::renewal::core::StateCounts;

/// Nothing: no store call is timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer;

/// No metrics.
#[derive(Debug)]
pub(crate) struct Instruments;

#[allow(clippy::unused_self)]
impl Instruments {
    pub(crate) fn register() -> Self {
        Self
    }

    #[inline(always)]
    pub(super) fn renewal(&self, _: RenewalOutcome) {}

    #[inline(always)]
    pub(super) fn retry(&self) {}

    #[inline(always)]
    pub(super) fn time_left(&self, _: f64) {}

    #[inline(always)]
    pub(super) fn start_lateness(&self, _: f64) {}

    #[inline(always)]
    pub(crate) fn contention(&self, _: bool) {}

    #[inline(always)]
    pub(crate) fn lease_bypass(&self) {}

    #[inline(always)]
    pub(crate) fn timer(&self) -> Timer {
        Timer
    }

    #[inline(always)]
    pub(crate) fn store_call(&self, _: StoreOp, _: Timer, _: bool) {}

    #[inline(always)]
    pub(super) fn breaker(&self, _: bool) {}

    #[inline(always)]
    pub(crate) fn sample_tokens(&self, _: u64, _: impl FnOnce() -> StateCounts) {}

    #[inline(always)]
    pub(crate) fn stopped(&self) {}
}
