//! Time passing in the machine: the driver's tick (clock jumps, expiries, the
//! reconciling pass), the server-clock estimate, and when to be woken next.

use chrono::TimeDelta;

use std::cmp::Reverse;

use super::breaker::Breaker;
use super::machine::{ms_to_us, Machine, TICK_US};
use super::messages::{Job, Now, Output, Tag, Work};
use crate::renewal::events::RenewalEvent;

/// Changes in the estimated server clock offset smaller than this are jitter (the
/// `Date` header has whole seconds) and are not applied.
const OFFSET_HYSTERESIS_MS: i64 = 2_000;

impl<C: Clone, W> Machine<C, W> {
    /// The passing of time: notices wall-clock jumps, expires what has expired,
    /// and queues the reconciling pass when it is due.
    pub(crate) fn tick(&mut self, now: Now) {
        self.look_at_the_clock(now);
        if !self.stopping && !self.reconciling && now.mono_us >= self.next_reconcile_us {
            self.reconciling = true;
            self.store_jobs.push_back(Job {
                tag: Tag::Store,
                work: Work::Reconcile,
            });
        }
        self.expire_queued(now);
        let _ = self.settle_due(now);
    }

    /// The server's estimate of its clock offset, when the renewer has one.
    pub(crate) fn observe_offset(&mut self, estimate: Option<TimeDelta>) {
        let Some(estimate) = estimate else {
            return;
        };
        let estimate_ms = estimate.num_milliseconds();
        if (estimate_ms - self.offset_ms).abs() > OFFSET_HYSTERESIS_MS {
            self.offset_ms = estimate_ms;
        }
        let beyond = estimate.abs()
            > TimeDelta::from_std(self.policy.skew_warning()).unwrap_or(TimeDelta::MAX);
        if beyond && !self.skew_warned {
            self.emit(RenewalEvent::ClockSkew { offset: estimate });
        }
        self.skew_warned = beyond;
    }

    /// When the machine wants to be woken (monotonic µs): the next deadline, a
    /// start the rate limit or the breaker holds back, a retried write, the
    /// reconciling pass. `None`: only an input can change anything.
    pub(crate) fn poll_timeout(&mut self) -> Option<u64> {
        if self.stopping {
            return None;
        }
        let now = self.now;
        let server_now = self.server_ms(now);
        // While the reconciling pass is out, its answer sets the next one: its
        // past due time would wake the driver every timer tick until then.
        let mut at = if self.reconciling {
            u64::MAX
        } else {
            self.next_reconcile_us
        };
        if let Some(Reverse((write_at, ..))) = self.writes.peek() {
            at = at.min(*write_at);
        }
        let probing = matches!(self.breaker, Breaker::Probing { .. });
        if self.in_flight < self.policy.max_in_flight() {
            if !self.store_jobs.is_empty() {
                return Some(now.mono_us);
            }
            let mut start_at = match self.schedule.next_due() {
                Some((due_ms, _)) => now
                    .mono_us
                    .saturating_add(ms_to_us(due_ms.saturating_sub(server_now))),
                None => u64::MAX,
            };
            if !self.urgent.is_empty() || !self.relogins.is_empty() {
                start_at = now.mono_us;
            }
            // While the breaker's probe is out, its answer is what wakes us.
            if start_at != u64::MAX && !probing {
                let gate = self
                    .next_start_us
                    .saturating_sub(TICK_US)
                    .max(self.breaker.open_until().unwrap_or(0));
                at = at.min(start_at.max(gate));
            }
        }
        Some(at)
    }

    fn look_at_the_clock(&mut self, now: Now) {
        if let Some(last) = self.last_look {
            let wall = now.wall_ms.saturating_sub(last.wall_ms);
            let mono =
                i64::try_from(now.mono_us.saturating_sub(last.mono_us) / 1_000).unwrap_or(i64::MAX);
            let jump = wall.saturating_sub(mono);
            let threshold =
                i64::try_from(self.policy.jump_threshold().as_millis()).unwrap_or(i64::MAX);
            if jump.abs() > threshold {
                // Offset samples were taken against the clock before the jump:
                // start again from local time until fresh `Date` headers arrive.
                self.offset_ms = 0;
                self.skew_warned = false;
                self.outputs.push_back(Output::ResetClockOffset);
                self.emit(RenewalEvent::ClockJump {
                    jump: TimeDelta::milliseconds(jump),
                });
            }
        }
        self.last_look = Some(now);
        self.now = now;
    }
}
