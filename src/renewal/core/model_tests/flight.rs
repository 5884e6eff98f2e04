//! A job handed out by a replica and not yet finished, and when the worker
//! would time it out.

use crate::renewal::core::breaker::micros;
use crate::renewal::core::messages::{Tag, Work};
use crate::renewal::policy::RenewalPolicy;

use super::inputs::Fault;
use super::sim::Cred;

/// How long a job takes when nothing holds it up.
pub(super) const LATENCY_US: u64 = 20_000;

/// The policy's timeouts (µs): a shop call, a store call.
fn call_timeout_us() -> u64 {
    micros(RenewalPolicy::default().call_timeout())
}

fn store_timeout_us() -> u64 {
    micros(RenewalPolicy::default().store_timeout())
}

/// How far a job in flight has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Handed out; nothing answered yet.
    Pending,
    /// A renewal whose mutation is out (after the lease, if any).
    Sent {
        leased: bool,
        lineage: u32,
        at_us: u64,
    },
}

/// A job a replica handed out, not finished yet.
pub(super) struct Flight {
    pub(super) tag: Tag,
    pub(super) work: Work<Cred>,
    pub(super) handed_us: u64,
    pub(super) stage: Stage,
    /// When it finishes by itself, and how (jobs started during an advance).
    pub(super) auto: Option<(u64, Fault)>,
    /// Left in flight on purpose: finishes explicitly or by timing out.
    pub(super) slow: bool,
}

impl Flight {
    /// When the worker gives up on it (monotonic µs).
    pub(super) fn timeout_at(&self) -> u64 {
        match (&self.work, self.stage) {
            (_, Stage::Sent { at_us, .. }) => at_us + call_timeout_us(),
            (Work::Renew { lease: false, .. } | Work::Relogin { .. }, Stage::Pending) => {
                self.handed_us + call_timeout_us()
            }
            (_, Stage::Pending) => self.handed_us + store_timeout_us(),
        }
    }
}
