//! Instruments with the feature on: handles on the recorder that was current
//! when the engine started.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use ::metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use super::{by_state, RenewalOutcome, StoreOp};
use crate::renewal::core::StateCounts;
use crate::renewal::metrics as names;

/// The token gauge is refreshed this often at most (monotonic µs)…
const SAMPLE_EVERY_US: u64 = 1_000_000;
/// … and at most once per this many times the last count took, so counting a
/// very large engine holds its lock for at most 0.1 % of the time.
const SAMPLE_SHARE: u64 = 1_000;

/// When a store call started, if it is timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timer(Option<Instant>);

/// Every metric's handle, and this engine's share of the gauges (several
/// engines in one process add up).
#[derive(Debug)]
pub(crate) struct Instruments {
    renewals: [Counter; 11],
    retries: Counter,
    time_left: Histogram,
    lateness: Histogram,
    held: Counter,
    changed: Counter,
    bypass: Counter,
    store_errors: [Counter; 7],
    store_latency: [Histogram; 7],
    breaker_open: Gauge,
    pauses: Counter,
    tokens: [Gauge; 4],
    /// Whether store calls are timed: not when nothing records (two clock
    /// readings per store call are most of what metrics would cost then).
    timed: bool,
    published: [AtomicUsize; 4],
    open: AtomicBool,
    next_sample_us: AtomicU64,
}

impl Instruments {
    /// Describes and registers every metric with the current recorder.
    pub(crate) fn register() -> Self {
        names::describe();
        let store = |name: &'static str| StoreOp::ALL.map(|op| (name, op.label()));
        Self {
            renewals: RenewalOutcome::ALL
                .map(|outcome| counter!(names::RENEWALS, names::OUTCOME => outcome.label())),
            retries: counter!(names::RETRIES),
            time_left: histogram!(names::TIME_LEFT),
            lateness: histogram!(names::START_LATENESS),
            held: counter!(names::LEASE_CONTENTION, names::RESULT => "held"),
            changed: counter!(names::LEASE_CONTENTION, names::RESULT => "changed"),
            bypass: counter!(names::LEASE_BYPASS),
            store_errors: store(names::STORE_ERRORS)
                .map(|(name, op)| counter!(name, names::OP => op)),
            store_latency: store(names::STORE_LATENCY)
                .map(|(name, op)| histogram!(name, names::OP => op)),
            breaker_open: gauge!(names::BREAKER_OPEN),
            pauses: counter!(names::BREAKER_PAUSES),
            tokens: ["scheduled", "renewing", "expired", "rejected"]
                .map(|state| gauge!(names::TOKENS, names::STATE => state)),
            // The facade's no-op recorder, used when none is installed, is the
            // only zero-sized one we know of (a recorder keeps its metrics).
            timed: ::metrics::with_recorder(|recorder| std::mem::size_of_val(recorder) != 0),
            published: Default::default(),
            open: AtomicBool::new(false),
            next_sample_us: AtomicU64::new(0),
        }
    }

    pub(super) fn renewal(&self, outcome: RenewalOutcome) {
        self.renewals[outcome as usize].increment(1);
    }

    pub(super) fn retry(&self) {
        self.retries.increment(1);
    }

    pub(super) fn time_left(&self, seconds: f64) {
        self.time_left.record(seconds);
    }

    pub(super) fn start_lateness(&self, seconds: f64) {
        self.lateness.record(seconds);
    }

    /// Another replica held the lease (`held`) or had changed the token.
    pub(crate) fn contention(&self, held: bool) {
        if held {
            self.held.increment(1);
        } else {
            self.changed.increment(1);
        }
    }

    /// A renewal starts without the lease.
    pub(crate) fn lease_bypass(&self) {
        self.bypass.increment(1);
    }

    /// A store call starts.
    pub(crate) fn timer(&self) -> Timer {
        Timer(self.timed.then(Instant::now))
    }

    /// A store call started at `timer` ended, `ok` or not.
    pub(crate) fn store_call(&self, op: StoreOp, timer: Timer, ok: bool) {
        if let Some(started) = timer.0 {
            self.store_latency[op as usize].record(started.elapsed().as_secs_f64());
        }
        if !ok {
            self.store_errors[op as usize].increment(1);
        }
    }

    /// The breaker opened (a pause, again when a probe fails) or closed.
    pub(super) fn breaker(&self, open: bool) {
        if open {
            self.pauses.increment(1);
            if !self.open.swap(true, Ordering::Relaxed) {
                self.breaker_open.increment(1.0);
            }
        } else if self.open.swap(false, Ordering::Relaxed) {
            self.breaker_open.decrement(1.0);
        }
    }

    /// Refreshes the token gauge when it is due (`mono_us`: the engine's
    /// monotonic time), counting with `count`.
    pub(crate) fn sample_tokens(&self, mono_us: u64, count: impl FnOnce() -> StateCounts) {
        if mono_us < self.next_sample_us.load(Ordering::Relaxed) {
            return;
        }
        let started = Instant::now();
        let counts = by_state(count());
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.publish(counts);
        let wait = SAMPLE_EVERY_US.max(took.saturating_mul(SAMPLE_SHARE));
        self.next_sample_us
            .store(mono_us.saturating_add(wait), Ordering::Relaxed);
    }

    /// The engine stopped: it holds nothing, and its breaker is not open.
    pub(crate) fn stopped(&self) {
        self.publish([0; 4]);
        self.breaker(false);
    }

    /// Moves the gauges by the change in this engine's counts.
    fn publish(&self, counts: [usize; 4]) {
        for ((gauge, published), count) in self.tokens.iter().zip(&self.published).zip(counts) {
            let before = published.swap(count, Ordering::Relaxed);
            if before != count {
                // Exact up to 2^53 tokens.
                gauge.increment(count as f64 - before as f64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::DebuggingRecorder;

    use super::Instruments;

    #[test]
    fn store_calls_are_timed_only_when_something_records() {
        // No recorder installed in this test binary: the facade's no-op one.
        assert!(Instruments::register().timer().0.is_none());
        let recorder = DebuggingRecorder::new();
        let instruments = ::metrics::with_local_recorder(&recorder, Instruments::register);
        assert!(instruments.timer().0.is_some());
    }
}
