//! Handing out work: what is due, through the gates — the pool's bound, the
//! start-rate limit, the shop's circuit breaker, the gap after an attempt — with
//! `renew_now` requests ahead of scheduled renewals and re-logins given a share.

use std::cmp::Reverse;

use super::breaker::micros;
use super::machine::{duration_ms, ms_to_us, Machine, RENEWALS_PER_RELOGIN, TICK_US};
use super::messages::{Fresh, Job, Now, Tag, Work};
use super::schedule::{flags, Phase, Slot};

/// Due tokens settled in one call without starting anything (expired, paused by
/// the breaker, too soon after an attempt), at most: after a long suspend
/// thousands may be, and the runtime holds a lock meanwhile.
const MAX_SETTLED_PER_CALL: usize = 1024;

impl<C: Clone, W> Machine<C, W> {
    /// The next job for a worker, if the gates allow one now.
    pub(crate) fn poll_job(&mut self, now: Now) -> Option<Job<C>> {
        self.now = now;
        if self.stopping || self.in_flight >= self.policy.max_in_flight() {
            return None;
        }
        if let Some(job) = self.store_jobs.pop_front() {
            return Some(self.hand_out(job));
        }
        if let Some(job) = self.due_write(now) {
            return Some(self.hand_out(job));
        }
        let head = self.settle_due(now);
        if !self.breaker.allows(now.mono_us) || self.next_start_us > now.mono_us + TICK_US {
            return None;
        }
        if self.renewals_since_relogin >= RENEWALS_PER_RELOGIN {
            if let Some(job) = self.start_relogin(now) {
                return Some(job);
            }
        }
        if let Some(job) = self.start_urgent(now) {
            return Some(job);
        }
        if let Some(slot) = head {
            return Some(self.start_renewal(slot, now));
        }
        self.start_relogin(now)
    }

    /// Settles the due tokens that need no start (expired, paused by the breaker,
    /// too soon after an attempt, due for a re-login) and returns the first one
    /// that needs a renewal started, if any is due.
    pub(super) fn settle_due(&mut self, now: Now) -> Option<Slot> {
        let server_now = self.server_ms(now);
        for _ in 0..MAX_SETTLED_PER_CALL {
            let (due_ms, slot) = self.schedule.next_due()?;
            if due_ms > server_now {
                return None;
            }
            let entry = self.schedule.entry(slot)?;
            let since_attempt = now.mono_us.saturating_sub(entry.last_attempt_us);
            let gap = micros(self.policy.min_retry_gap());
            if entry.phase == Phase::ReloginWait {
                self.schedule.unschedule(slot, Phase::LoggingIn);
                self.queue_relogin(slot);
            } else if entry.expires_ms <= server_now {
                self.kill(slot, false, None);
            } else if let Some(until_us) = self
                .breaker
                .open_until()
                .filter(|&until| until > now.mono_us)
            {
                let wait = i64::try_from((until_us - now.mono_us) / 1_000).unwrap_or(i64::MAX);
                let at = server_now.saturating_add(wait).min(entry.expires_ms);
                self.schedule.schedule(slot, at);
            } else if entry.last_attempt_us != 0
                && since_attempt < gap
                && !entry.has(flags::LEASE_HELD)
            {
                // (A look at a lease another replica holds sent nothing: it does
                // not hold back the next look.)
                let wait = i64::try_from((gap - since_attempt).div_ceil(1_000)).unwrap_or(i64::MAX);
                // By its expiry at the latest, to be reported when it comes.
                let at = server_now.saturating_add(wait.max(1)).min(entry.expires_ms);
                self.schedule.schedule(slot, at);
            } else {
                return Some(slot);
            }
        }
        None
    }

    fn hand_out(&mut self, job: Job<C>) -> Job<C> {
        self.in_flight += 1;
        job
    }

    /// Takes a start from the rate limit (and the breaker's probe).
    fn take_start(&mut self, now: Now) {
        let interval = micros(self.policy.start_interval());
        self.next_start_us = self.next_start_us.max(now.mono_us).saturating_add(interval);
        self.breaker.started();
    }

    fn start_renewal(&mut self, slot: Slot, now: Now) -> Job<C> {
        self.take_start(now);
        self.renewals_since_relogin = self.renewals_since_relogin.saturating_add(1);
        self.schedule.unschedule(slot, Phase::Renewing);
        let server_now = self.server_ms(now);
        let bypass = duration_ms(self.policy.lease_bypass());
        let (tag, work) = match self.schedule.entry_mut(slot) {
            Some(entry) => {
                entry.last_attempt_us = now.mono_us.max(1);
                entry.set(flags::LEASE_HELD, false);
                let lease = !(entry.has(flags::LEASE_FAILED)
                    && entry.expires_ms.saturating_sub(server_now) < bypass);
                (
                    Tag::Token {
                        slot,
                        generation: entry.generation,
                    },
                    Work::Renew {
                        id: entry.id.clone(),
                        credential: entry.credential.clone(),
                        version: entry.version,
                        lease,
                    },
                )
            }
            // Unreachable: the slot came from the schedule.
            None => (Tag::Store, Work::Reconcile),
        };
        self.hand_out(Job { tag, work })
    }

    /// The next `renew_now` request still wanted.
    fn start_urgent(&mut self, now: Now) -> Option<Job<C>> {
        let server_now = self.server_ms(now);
        while let Some((slot, generation)) = self.urgent.pop_front() {
            let Some(entry) = self.schedule.entry(slot) else {
                continue;
            };
            if entry.generation != generation || entry.phase != Phase::Queued {
                continue;
            }
            if entry.expires_ms <= server_now {
                self.kill(slot, false, None);
                continue;
            }
            return Some(self.start_renewal(slot, now));
        }
        None
    }

    /// Expires the `renew_now` requests that expired while queued (the breaker
    /// holds them back; they are not in the schedule), and drops those no longer
    /// wanted.
    pub(super) fn expire_queued(&mut self, now: Now) {
        let server_now = self.server_ms(now);
        let mut expired = Vec::new();
        let schedule = &self.schedule;
        self.urgent.retain(|&(slot, generation)| {
            let Some(entry) = schedule.entry(slot) else {
                return false;
            };
            if entry.generation != generation || entry.phase != Phase::Queued {
                return false;
            }
            if entry.expires_ms <= server_now {
                expired.push(slot);
                return false;
            }
            true
        });
        for slot in expired {
            self.kill(slot, false, None);
        }
    }

    /// The next queued re-login still wanted.
    fn start_relogin(&mut self, now: Now) -> Option<Job<C>> {
        while let Some((slot, generation)) = self.relogins.pop_front() {
            let Some(entry) = self.schedule.entry(slot) else {
                continue;
            };
            if entry.generation != generation || entry.phase != Phase::LoggingIn {
                continue;
            }
            let work = Work::Relogin {
                id: entry.id.clone(),
                version: entry.version,
            };
            self.take_start(now);
            self.renewals_since_relogin = 0;
            return Some(self.hand_out(Job {
                tag: Tag::Token { slot, generation },
                work,
            }));
        }
        None
    }

    /// A failed write whose retry is due, if its token still needs it.
    fn due_write(&mut self, now: Now) -> Option<Job<C>> {
        while let Some(&Reverse((at_us, slot, version))) = self.writes.peek() {
            if at_us > now.mono_us {
                return None;
            }
            self.writes.pop();
            let wanted = self.schedule.entry(slot).is_some_and(|entry| {
                entry.version == version
                    && entry.has(flags::PENDING_WRITE)
                    && entry.phase == Phase::Waiting
            }) && self
                .write_attempts
                .get(&slot)
                .is_some_and(|&(_, due_us)| due_us == at_us);
            if !wanted {
                continue;
            }
            self.schedule.unschedule(slot, Phase::Writing);
            let entry = self.schedule.entry(slot)?;
            return Some(Job {
                tag: Tag::Token {
                    slot,
                    generation: entry.generation,
                },
                work: Work::Write {
                    id: entry.id.clone(),
                    fresh: Fresh {
                        credential: entry.credential.clone(),
                        issued_ms: entry.issued_ms,
                        expires_ms: entry.expires_ms,
                    },
                    version,
                },
            });
        }
        None
    }

    /// Retries the write of the token in `slot` after a backoff.
    pub(super) fn retry_write(&mut self, slot: Slot) {
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        let attempt = self.write_attempts.get(&slot).map_or(0, |&(n, _)| n);
        let attempt = attempt.saturating_add(1);
        let remaining = ms_to_us(entry.expires_ms.saturating_sub(self.server_ms(self.now)));
        let delay = self
            .policy
            .retry_delay(attempt, std::time::Duration::from_micros(remaining));
        let at = self.now.mono_us.saturating_add(micros(delay));
        // One retry per token: a retry queued before this one is now stale.
        self.write_attempts.insert(slot, (attempt, at));
        self.writes.push(Reverse((at, slot, entry.version)));
    }
}
