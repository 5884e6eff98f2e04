//! The scheduling state machine: synchronous, without tokio, clocks or tasks.
//!
//! Inputs arrive as method calls with an explicit [`Now`]: commands from handles
//! ([`Machine::command`]), outcomes of jobs ([`Machine::outcome`]), and the
//! passing of time ([`Machine::tick`]). Out come jobs for the workers
//! ([`Machine::poll_job`]),
//! replies, events and watch updates ([`Machine::poll_output`]), and when to be
//! woken next ([`Machine::poll_timeout`]). The runtime drives it; tests drive it
//! directly, step by step.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hashbrown::HashMap;

use super::breaker::{micros, Breaker};
use super::messages::{Job, Now, Output, Reply, Stored};
use super::schedule::{flags, Entry, Phase, Schedule, Slot};
use crate::renewal::error::{RenewalErrorKind, SharedError};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;
use crate::renewal::policy::RenewalPolicy;
use crate::renewal::status::{TokenState, TokenStatus};

/// The rate limit lets a start this close go now: the timer cannot wait less.
pub(crate) const TICK_US: u64 = 1_000;

/// What a read-through was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    Valid,
    Watch,
    RenewNow,
}

/// A write to retry: when (monotonic µs), which slot, and the version it was
/// based on.
pub(crate) type WriteRetry = Reverse<(u64, Slot, u64)>;

/// The engine's state for every token it holds.
pub(crate) struct Machine<C, W> {
    pub(super) policy: RenewalPolicy,
    pub(super) can_relogin: bool,
    pub(super) schedule: Schedule<C>,
    /// `renew_now` callers waiting for a token's renewal.
    pub(super) waiters: HashMap<Slot, Vec<W>>,
    /// The last transient failure of a token, answered to `renew_now` within the
    /// gap after an attempt.
    pub(super) last_errors: HashMap<Slot, SharedError>,
    /// `renew_now` requests, ahead of scheduled work: slot and generation.
    pub(super) urgent: VecDeque<(Slot, u32)>,
    /// Re-logins waiting for a start: slot and generation.
    pub(super) relogins: VecDeque<(Slot, u32)>,
    /// Store jobs (reads, deletes, reconciling): not rate-limited.
    pub(super) store_jobs: VecDeque<Job<C>>,
    /// Read-throughs under way, with who waits for each.
    pub(super) loading: HashMap<TokenId, Vec<(W, Want)>>,
    /// Dead tokens dropped here, by the version whose delete from the store
    /// may not have landed yet: a read of it is not held again. Cleared when a
    /// read or the reconciling pass finds it gone or replaced.
    pub(super) deleting: HashMap<TokenId, u64>,
    /// Why the last few tokens dropped after they died are gone: a caller asking
    /// for one later hears `Expired` or `Rejected`, not `NotFound`. Bounded.
    pub(super) graves: HashMap<TokenId, RenewalErrorKind>,
    pub(super) grave_order: VecDeque<TokenId>,
    pub(super) writes: BinaryHeap<WriteRetry>,
    /// Failed writes in a row, per token with a write pending, and when its one
    /// retry is due (older retries in `writes` are stale).
    pub(super) write_attempts: HashMap<Slot, (u32, u64)>,
    pub(super) outputs: VecDeque<Output<C, W>>,
    pub(super) breaker: Breaker,
    pub(super) in_flight: usize,
    pub(super) next_start_us: u64,
    pub(super) renewals_since_relogin: u32,
    /// Server clock minus ours, as applied.
    pub(super) offset_ms: i64,
    pub(super) skew_warned: bool,
    pub(super) last_look: Option<Now>,
    pub(super) now: Now,
    pub(super) next_reconcile_us: u64,
    pub(super) reconciling: bool,
    pub(super) stopping: bool,
}

/// Renewals started since the last re-login before a queued re-login goes next.
pub(super) const RENEWALS_PER_RELOGIN: u32 = 4;

impl<C: Clone, W> Machine<C, W> {
    pub(crate) fn new(policy: RenewalPolicy, can_relogin: bool, now: Now) -> Self {
        let next_reconcile_us = now
            .mono_us
            .saturating_add(micros(policy.reconcile_interval()));
        Self {
            policy,
            can_relogin,
            schedule: Schedule::default(),
            waiters: HashMap::new(),
            last_errors: HashMap::new(),
            urgent: VecDeque::new(),
            relogins: VecDeque::new(),
            store_jobs: VecDeque::new(),
            loading: HashMap::new(),
            deleting: HashMap::new(),
            graves: HashMap::new(),
            grave_order: VecDeque::new(),
            writes: BinaryHeap::new(),
            write_attempts: HashMap::new(),
            outputs: VecDeque::new(),
            breaker: Breaker::Closed,
            in_flight: 0,
            next_start_us: 0,
            renewals_since_relogin: 0,
            offset_ms: 0,
            skew_warned: false,
            last_look: Some(now),
            now,
            next_reconcile_us,
            reconciling: false,
            stopping: false,
        }
    }

    /// Holds the tokens read from the store at start, in due order, their
    /// deadlines sorted once. Expired ones are announced (and dropped) when reached.
    pub(crate) fn load(&mut self, now: Now, tokens: Vec<(TokenId, Stored<C>)>) {
        self.now = now;
        let mut tokens: Vec<_> = tokens
            .into_iter()
            .map(|(id, token)| (self.renew_at(&id, &token), id, token))
            .collect();
        tokens.sort_unstable_by_key(|(due, _, _)| *due);
        for (due, id, token) in tokens {
            self.schedule.insert(new_entry(id, token, due));
        }
        self.schedule.settle();
    }

    /// The next reply, event or watch update.
    pub(crate) fn poll_output(&mut self) -> Option<Output<C, W>> {
        self.outputs.pop_front()
    }

    /// Whether the machine has stopped: shutting down, with nothing in flight.
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopping && self.in_flight == 0
    }

    /// Stops at once, forgetting what is in flight and everyone waiting (their
    /// reply channels close): for when caller code the engine depends on broke
    /// its contract (a clock that panics).
    pub(crate) fn abandon(&mut self) {
        self.stopping = true;
        self.in_flight = 0;
        self.waiters.clear();
        self.loading.clear();
        self.urgent.clear();
        self.relogins.clear();
        self.store_jobs.clear();
        self.writes.clear();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Server clock minus ours, as applied (for callers stamping `issued_at`).
    pub(crate) fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    pub(super) fn emit(&mut self, event: RenewalEvent) {
        self.outputs.push_back(Output::Event(event));
    }

    pub(super) fn reply(&mut self, to: W, reply: Reply<C>) {
        self.outputs.push_back(Output::Reply(to, reply));
    }

    /// Server time for `now`, in milliseconds.
    pub(super) fn server_ms(&self, now: Now) -> i64 {
        now.wall_ms.saturating_add(self.offset_ms)
    }

    pub(super) fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    /// When a token should be renewed, by the policy; never after it expires
    /// (an `issued_at` stamped by a replica whose clock was ahead can be later
    /// than the expiry, and the policy never renews before `issued_at`).
    pub(super) fn renew_at(&self, id: &TokenId, token: &Stored<C>) -> i64 {
        self.policy
            .renew_at(
                id,
                Self::at(token.fresh.issued_ms),
                Self::at(token.fresh.expires_ms),
            )
            .timestamp_millis()
            .min(token.fresh.expires_ms)
    }

    /// The status of the token in `slot`.
    pub(super) fn status_of(&self, slot: Slot) -> Option<TokenStatus<C>> {
        let entry = self.schedule.entry(slot)?;
        let server_now = self.server_ms(self.now);
        let dead = if entry.has(flags::REJECTED) {
            TokenState::Rejected
        } else {
            TokenState::Expired
        };
        let state = match entry.phase {
            _ if entry.expires_ms <= server_now => TokenState::Expired,
            Phase::Waiting | Phase::Writing => TokenState::Scheduled,
            Phase::Queued | Phase::Renewing => TokenState::Renewing,
            Phase::LoggingIn | Phase::ReloginWait => dead,
        };
        Some(TokenStatus {
            credential: entry.credential.clone(),
            state,
            issued_at: Self::at(entry.issued_ms),
            expires_at: Self::at(entry.expires_ms),
            next_renewal_at: matches!(entry.phase, Phase::Waiting).then(|| Self::at(entry.due_ms)),
            failures: u32::from(entry.failures),
            version: entry.version,
            pending_write: entry.has(flags::PENDING_WRITE),
        })
    }

    /// Whether an entry may be handed out: alive and not expired in server time.
    pub(super) fn servable(&self, entry: &Entry<C>) -> bool {
        !matches!(entry.phase, Phase::LoggingIn | Phase::ReloginWait)
            && entry.expires_ms > self.server_ms(self.now)
    }
}

/// A fresh entry for a stored token, due at `due_ms`.
pub(super) fn new_entry<C>(id: TokenId, token: Stored<C>, due_ms: i64) -> Entry<C> {
    Entry {
        id,
        credential: token.fresh.credential,
        issued_ms: token.fresh.issued_ms,
        expires_ms: token.fresh.expires_ms,
        due_ms,
        version: token.version,
        last_attempt_us: 0,
        generation: 0,
        failures: 0,
        phase: Phase::Waiting,
        flags: 0,
    }
}

pub(super) fn ms_to_us(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0).saturating_mul(1_000)
}

pub(super) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
