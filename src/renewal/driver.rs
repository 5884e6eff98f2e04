//! The driver: every token on one [`Schedule`], renewals handed to a pool of
//! workers behind a rate limit, results stored before they are announced.
//!
//! The schedule sits behind one lock shared by the driver task and the workers,
//! held for bookkeeping only, never across an await. A worker that finishes a
//! renewal records its result and takes the next due one in the same short
//! critical section, so a busy engine hands work around without waking another
//! task; the driver task wakes for deadlines, commands, the rate limit and the
//! heartbeat.

use hashbrown::HashMap;
use std::collections::VecDeque;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use super::credential::Renewable;
use super::engine::Reply;
use super::events::RenewalEvent;
use super::handle::Command;
use super::policy::RenewalPolicy;
use super::pool::{Completion, Job, Outcome, Turn, Work};
use super::schedule::{Entry, Phase, Schedule, Slot};
use super::status::{RenewalError, RenewalErrorKind, TokenState, TokenStatus};
use super::store::{PutOutcome, StoreError};
use super::TokenId;
use crate::clock::Clock;

/// Expired tokens announced in one pass over the schedule, at most: after a long
/// suspend thousands may be, and the lock is shared with the workers.
const MAX_EXPIRIES_PER_TURN: usize = 1024;

/// While renewals are due, a queued re-login still gets the start after this
/// many renewals.
const RENEWALS_PER_RELOGIN: u32 = 4;

/// The tokio timer's resolution.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// Changes in the estimated server clock offset smaller than this are jitter
/// (the `Date` header has whole seconds) and are not applied, so deadlines do
/// not wobble.
const OFFSET_HYSTERESIS: TimeDelta = TimeDelta::seconds(2);

/// The engine's notion of now: the wall clock, shifted into the server's time by
/// the offset last applied from the renewer's estimate.
#[derive(Clone)]
pub(super) struct Now {
    pub(super) clock: Arc<dyn Clock>,
    pub(super) offset_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl Now {
    pub(super) fn server(&self) -> DateTime<Utc> {
        self.clock.now()
            + TimeDelta::milliseconds(self.offset_ms.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Applies a new offset estimate if it moved more than the hysteresis.
    fn follow(&self, estimate: TimeDelta) {
        let applied =
            TimeDelta::milliseconds(self.offset_ms.load(std::sync::atomic::Ordering::Relaxed));
        if (estimate - applied).abs() > OFFSET_HYSTERESIS {
            self.offset_ms.store(
                estimate.num_milliseconds(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
    }
}

pub(super) struct Driver<R: Renewable> {
    pub(super) now: Now,
    /// Monotonic zero for the entries' last-attempt times.
    pub(super) epoch: Instant,
    pub(super) renewer: Arc<R>,
    pub(super) policy: RenewalPolicy,
    /// Whether the pool has a re-login hook to run.
    pub(super) can_relogin: bool,
    pub(super) schedule: Schedule<R::Credential>,
    /// Jobs made ready and not yet taken by a worker.
    pub(super) ready: VecDeque<Job<R::Credential>>,
    /// Re-logins waiting for the rate limit: slot and generation when queued.
    pub(super) relogins: VecDeque<(Slot, u32)>,
    /// Renewals started since the last re-login started.
    pub(super) renewals_since_relogin: u32,
    /// Jobs made ready and not yet reported back (taken or not).
    pub(super) in_flight: usize,
    pub(super) waiters: HashMap<Slot, Vec<Reply<R::Credential>>>,
    pub(super) watchers: HashMap<Slot, watch::Sender<Option<R::Credential>>>,
    pub(super) events: broadcast::Sender<RenewalEvent>,
    /// The rate limit: no renewal starts before this instant.
    pub(super) next_start: Instant,
    /// Wall-clock and monotonic time at the last look, to notice jumps.
    pub(super) last_look: (DateTime<Utc>, Instant),
    pub(super) skew_warned: bool,
    /// Shutting down: nothing new starts; what was handed out finishes.
    pub(super) stopping: bool,
    /// When the driver task means to wake next, on the monotonic clock (a wall
    /// clock jump must not move it): a worker that leaves something needing the
    /// driver sooner wakes it.
    pub(super) alarm_at: Instant,
}

/// The driver's state, shared by the driver task and the workers.
pub(super) struct Shared<R: Renewable> {
    driver: std::sync::Mutex<Driver<R>>,
    /// Wakes idle workers when jobs are ready (and all of them on shutdown).
    work_ready: Notify,
    /// Wakes the driver task: a deadline earlier than its alarm, or the last job
    /// finished while stopping.
    wake_driver: Notify,
}

impl<R: Renewable> Shared<R> {
    pub(super) fn new(driver: Driver<R>) -> Self {
        Self {
            driver: std::sync::Mutex::new(driver),
            work_ready: Notify::new(),
            wake_driver: Notify::new(),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Driver<R>> {
        // The only caller code run under this lock is the credential's accessors
        // (`expires_at`, `Clone`, `Drop`), which must not panic; if one does, the
        // engine stops (see `abandon`) and a poisoned lock only serves its
        // shutdown.
        self.driver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A worker's turn: records the job it finished, if any, and takes the next.
    pub(super) fn next_job(
        &self,
        finished: Option<Completion<R::Credential>>,
    ) -> Turn<R::Credential> {
        let mut driver = self.lock();
        if let Some(done) = finished {
            driver.finished(done);
        }
        if driver.ready.is_empty() && !driver.stopping {
            driver.start_due_renewals();
        }
        // Making one job ready can make several (a clock jump, re-logins): idle
        // workers take the rest.
        for _ in 1..driver.ready.len() {
            self.work_ready.notify_one();
        }
        // What is left behind (a deadline, or a start the rate limit holds back)
        // may need the driver sooner than it means to wake.
        if (driver.stopping && driver.in_flight == 0) || driver.needs_earlier_wake() {
            self.wake_driver.notify_one();
        }
        // Taken last, after every call into caller code: a panic before this
        // leaves the job in `ready`, where `abandon` finds it.
        let job = driver.ready.pop_front();
        match job {
            Some(job) => Turn::Run(job),
            None if driver.stopping => Turn::Stop,
            None => Turn::Idle,
        }
    }

    /// A worker's bookkeeping panicked (caller code under the lock broke its
    /// contract): the engine stops rather than run on with a job it lost track
    /// of. Callers get [`RenewalErrorKind::Stopped`].
    pub(super) fn abandon(&self) {
        tracing::error!("the renewal engine stopped: a credential accessor panicked");
        let mut driver = self.lock();
        driver.stopping = true;
        // Jobs nobody took will not run: the workers may all be gone.
        let untaken = driver.ready.len();
        driver.ready.clear();
        driver.in_flight = driver.in_flight.saturating_sub(untaken);
        self.work_ready.notify_waiters();
        self.wake_driver.notify_one();
    }

    /// Waits until the driver makes jobs ready (or stops); `enable`d first by the
    /// caller so that no notice between its check and this wait is lost.
    pub(super) fn work_ready(&self) -> tokio::sync::futures::Notified<'_> {
        self.work_ready.notified()
    }

    /// The driver task: makes ready what is due, answers commands, and
    /// wakes for deadlines, the rate limit and the heartbeat.
    pub(super) async fn drive(
        self: Arc<Self>,
        mut commands: mpsc::UnboundedReceiver<Command<R::Credential>>,
    ) {
        let _stop_workers = StopWorkers(Arc::clone(&self));
        let clock = Arc::clone(&self.lock().now.clock);
        // One timer, kept while it is not later than needed: re-arming it on every
        // turn would cost more than the turn.
        let mut alarm: Option<(Instant, crate::clock::Sleep)> = None;
        loop {
            // Caller code runs under the lock here too (the clock, the credential's
            // accessors): a panic stops the engine the same way a worker's does.
            let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.turn()));
            let (wake_at, stopping) = match turn {
                Ok(Some(turn)) => turn,
                Ok(None) => break,
                Err(_) => {
                    self.abandon();
                    self.wait_for_jobs_in_flight().await;
                    break;
                }
            };
            let (_, sleep) = match alarm.take() {
                Some((at, sleep)) if at <= wake_at => alarm.insert((at, sleep)),
                _ => alarm.insert((wake_at, clock.sleep(wake_at - Instant::now()))),
            };
            tokio::select! {
                biased;
                command = commands.recv(), if !stopping => {
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.on_command(command);
                    }));
                    if handled.is_err() {
                        self.abandon();
                        self.wait_for_jobs_in_flight().await;
                        break;
                    }
                }
                () = self.wake_driver.notified() => {}
                () = sleep => alarm = None,
            }
        }
        let waiters: Vec<_> = self.lock().waiters.drain().collect();
        for (_, waiters) in waiters {
            for waiter in waiters {
                let _ = waiter.send(Err(RenewalError::new(RenewalErrorKind::Stopped, "")));
            }
        }
    }
}

impl<R: Renewable> Shared<R> {
    /// One turn of the driver task: notices clock jumps, makes ready what is due
    /// and tells the workers, and picks when to wake next (with whether it is
    /// stopping). `None` once stopped with nothing in flight.
    fn turn(&self) -> Option<(Instant, bool)> {
        let mut driver = self.lock();
        driver.look_at_the_clock();
        if driver.stopping && driver.in_flight == 0 {
            return None;
        }
        let progressed = !driver.stopping && driver.start_due_renewals();
        for _ in 0..driver.ready.len() {
            self.work_ready.notify_one();
        }
        // A turn that started nothing waits at least a tick: nothing can change
        // before time passes or something arrives (and under paused tokio time a
        // zero wait would keep the clock from ever moving).
        let mut wait = driver.time_to_next_wake();
        if !progressed {
            wait = wait.max(TIMER_TICK);
        }
        driver.alarm_at = Instant::now() + wait;
        Some((driver.alarm_at, driver.stopping))
    }

    /// After [`abandon`](Self::abandon) in the driver task: waits (running no
    /// caller code) for the renewals the workers are still running, so that
    /// `shutdown` returns after them as it always does.
    async fn wait_for_jobs_in_flight(&self) {
        loop {
            let done = self.wake_driver.notified();
            let mut done = std::pin::pin!(done);
            done.as_mut().enable();
            if self.lock().in_flight == 0 {
                return;
            }
            done.await;
        }
    }

    /// A command from a handle; `None` (every handle dropped) stops the engine.
    fn on_command(&self, command: Option<Command<R::Credential>>) {
        let mut driver = self.lock();
        match command {
            Some(Command::Shutdown) | None => {
                driver.stopping = true;
                // Idle workers leave; busy ones finish first.
                self.work_ready.notify_waiters();
            }
            Some(command) => driver.command(command),
        }
    }
}

/// However the driver task ends (shut down, or dropped with its runtime), the
/// workers are told to leave.
struct StopWorkers<R: Renewable>(Arc<Shared<R>>);

impl<R: Renewable> Drop for StopWorkers<R> {
    fn drop(&mut self) {
        self.0.lock().stopping = true;
        self.0.work_ready.notify_waiters();
    }
}

impl<R: Renewable> Driver<R> {
    fn emit(&self, event: RenewalEvent) {
        // No receiver is not an error: events are optional.
        let _ = self.events.send(event);
    }

    /// Notices wall-clock jumps (suspend, a set clock) and a skewed server clock.
    fn look_at_the_clock(&mut self) {
        let (wall, mono) = (self.now.clock.now(), Instant::now());
        let (last_wall, last_mono) = self.last_look;
        let monotonic = TimeDelta::from_std(mono - last_mono).unwrap_or(TimeDelta::MAX);
        let jump = (wall - last_wall) - monotonic;
        if jump.abs() > TimeDelta::from_std(self.policy.jump_threshold()).unwrap_or(TimeDelta::MAX)
        {
            tracing::warn!(
                jump_ms = jump.num_milliseconds(),
                "wall clock jumped; re-examining due renewals"
            );
            self.emit(RenewalEvent::ClockJump { jump });
        }
        self.last_look = (wall, mono);
        if let Some(offset) = self.renewer.server_clock_offset() {
            self.now.follow(offset);
            let beyond = offset.abs()
                > TimeDelta::from_std(self.policy.skew_warning()).unwrap_or(TimeDelta::MAX);
            if beyond && !self.skew_warned {
                tracing::warn!(
                    offset_ms = offset.num_milliseconds(),
                    "the server's clock differs from ours"
                );
                self.emit(RenewalEvent::ClockSkew { offset });
            }
            self.skew_warned = beyond;
        }
    }

    /// Whether the driver's alarm is later than what is due (or startable) next.
    /// A full pool needs nothing: its workers take the next job as they finish.
    fn needs_earlier_wake(&mut self) -> bool {
        if self.in_flight >= self.policy.max_in_flight() || self.stopping {
            return false;
        }
        Instant::now() + self.time_to_next_wake() < self.alarm_at
    }

    fn time_to_next_wake(&mut self) -> Duration {
        let heartbeat = self.policy.heartbeat();
        if self.in_flight >= self.policy.max_in_flight() || self.stopping {
            // The workers take what is due as they finish; while stopping, nothing
            // new starts and the last job to finish wakes the driver.
            return heartbeat;
        }
        let until_due = match self.schedule.next_due() {
            _ if !self.relogins.is_empty() => Duration::ZERO,
            Some((due_ms, _)) => Duration::from_millis(
                u64::try_from(due_ms - self.now.server().timestamp_millis()).unwrap_or(0),
            ),
            None => return heartbeat,
        };
        // Zero exactly when `start_due_renewals` would start one: a zero wait that
        // starts nothing would spin, and under paused time never let the clock move.
        let until_start = self
            .next_start
            .saturating_duration_since(Instant::now())
            .saturating_sub(TIMER_TICK);
        until_due.max(until_start).min(heartbeat)
    }

    /// Makes ready what is due, within the pool and the rate limit; whether it
    /// started (or expired) anything.
    fn start_due_renewals(&mut self) -> bool {
        let now = self.now.server();
        let now_ms = now.timestamp_millis();
        let mut progressed = false;
        let mut expired_here = 0;
        while self.in_flight < self.policy.max_in_flight() {
            let due = self
                .schedule
                .next_due()
                .filter(|&(due_ms, _)| due_ms <= now_ms);
            let Some((_, slot)) = due else {
                // No renewal due: a queued re-login may start, within the rate limit.
                if self.relogins.is_empty() || !self.may_start_now() {
                    break;
                }
                if self.start_queued_relogin() {
                    progressed = true;
                    continue;
                }
                break;
            };
            if self.has_expired(slot, now_ms) {
                self.schedule.pop_due(now_ms);
                self.expire(slot);
                progressed = true;
                expired_here += 1;
                if expired_here == MAX_EXPIRIES_PER_TURN {
                    break; // the lock is not held for a whole suspend's worth at once
                }
                continue;
            }
            if !self.may_start_now() {
                break;
            }
            // Queued re-logins get at least one start in every few, so a backlog of
            // renewals cannot keep a logged-out customer waiting indefinitely.
            if self.renewals_since_relogin >= RENEWALS_PER_RELOGIN && self.start_queued_relogin() {
                progressed = true;
                continue;
            }
            self.schedule.pop_due(now_ms);
            // Deadlines are in estimated server time; the gap between two attempts is
            // also kept on the monotonic clock, so a moving estimate cannot shorten it.
            let too_soon = self
                .since_last_attempt(slot)
                .and_then(|since| self.policy.min_retry_gap().checked_sub(since));
            match too_soon {
                Some(rest) if !rest.is_zero() => {
                    let at = now_ms + i64::try_from(rest.as_millis()).unwrap_or(i64::MAX);
                    self.schedule.schedule(slot, at);
                }
                _ => {
                    self.start_renewal(slot);
                    progressed = true;
                }
            }
        }
        progressed
    }

    /// Whether the rate limit lets a request start now. A start less than a timer
    /// tick away goes now: the timer could not wait that little anyway, and a high
    /// rate must not mean one start per turn.
    fn may_start_now(&self) -> bool {
        self.next_start.saturating_duration_since(Instant::now()) <= TIMER_TICK
    }

    fn since_last_attempt(&self, slot: Slot) -> Option<Duration> {
        let entry = self.schedule.entry(slot)?;
        (entry.last_attempt_ms > 0).then(|| {
            let now = self.monotonic_ms();
            Duration::from_millis(now.saturating_sub(entry.last_attempt_ms))
        })
    }

    /// Milliseconds since the engine started, on the monotonic clock; at least 1.
    fn monotonic_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn take_start_slot(&mut self) {
        let now = Instant::now();
        self.next_start = self.next_start.max(now) + self.policy.start_interval();
    }

    fn start_renewal(&mut self, slot: Slot) {
        self.take_start_slot();
        self.renewals_since_relogin = self.renewals_since_relogin.saturating_add(1);
        self.schedule.unschedule(slot, Phase::InFlight);
        let attempted_ms = self.monotonic_ms();
        if let Some(entry) = self.schedule.entry_mut(slot) {
            entry.last_attempt_ms = attempted_ms;
        }
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        let (generation, version, previous_expiry) = (
            entry.generation,
            entry.version,
            self.renewer
                .expires_at(&entry.credential)
                .timestamp_millis(),
        );
        let work = Work::Renew {
            id: entry.id.clone(),
            credential: entry.credential.clone(),
            version,
            previous_expiry_ms: previous_expiry,
        };
        self.track(slot, generation, work);
    }

    /// Makes a renewal or re-login ready for the pool; its outcome comes back to
    /// [`complete`](Self::complete) tagged with the token's slot and generation.
    fn track(&mut self, slot: Slot, generation: u32, work: Work<R::Credential>) {
        self.in_flight += 1;
        self.ready.push_back(Job {
            slot,
            generation,
            work,
        });
    }

    /// A worker reported back.
    fn finished(&mut self, done: Completion<R::Credential>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.complete(done);
    }

    /// Queues a re-login for an expired or rejected token. A login is a request
    /// too: it starts under the rate limit, after the renewals that are due (they
    /// keep customers from being logged out; these already are).
    fn start_relogin(&mut self, slot: Slot) {
        if !self.can_relogin || self.stopping {
            return;
        }
        self.schedule.unschedule(slot, Phase::InFlight);
        if let Some(entry) = self.schedule.entry(slot) {
            self.relogins.push_back((slot, entry.generation));
        }
    }

    /// Starts the next queued re-login still wanted (its token neither replaced
    /// nor removed); whether it started one.
    fn start_queued_relogin(&mut self) -> bool {
        while let Some((slot, generation)) = self.relogins.pop_front() {
            let Some(entry) = self.schedule.entry(slot) else {
                continue;
            };
            if entry.generation != generation || entry.phase != Phase::InFlight {
                continue;
            }
            let (version, id) = (entry.version, entry.id.clone());
            self.take_start_slot();
            self.renewals_since_relogin = 0;
            self.track(slot, generation, Work::Relogin { id, version });
            return true;
        }
        false
    }

    fn complete(&mut self, completion: Completion<R::Credential>) {
        let Completion {
            slot,
            generation,
            outcome,
        } = completion;
        // The token was replaced or removed while the renewal ran: its result is moot.
        if self
            .schedule
            .entry(slot)
            .is_none_or(|entry| entry.generation != generation)
        {
            return;
        }
        match outcome {
            Outcome::Renewed {
                credential,
                issued_at,
                stored,
            } => self.renewed(slot, credential, issued_at, stored, false),
            Outcome::LoggedIn {
                credential,
                issued_at,
                stored,
            } => self.renewed(slot, credential, issued_at, stored, true),
            Outcome::Failed { rejected, reason } => self.failed(slot, rejected, reason),
            Outcome::NoLogin => {
                let Some(entry) = self.schedule.entry_mut(slot) else {
                    return;
                };
                entry.phase = Phase::Dead;
                let id = entry.id.clone();
                let kind = self.dead_kind(slot);
                self.publish(slot, None);
                self.answer(slot, Err(RenewalError::new(kind, "no new login")));
                self.emit(RenewalEvent::NotLoggedInAgain { id });
            }
        }
    }

    fn renewed(
        &mut self,
        slot: Slot,
        credential: R::Credential,
        issued_at: DateTime<Utc>,
        stored: Result<PutOutcome<R::Credential>, StoreError>,
        logged_in: bool,
    ) {
        let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) else {
            return;
        };
        let (credential, issued_at, version, event) = match stored {
            Ok(PutOutcome::Stored { version }) => {
                let expires_at = self.renewer.expires_at(&credential);
                let event = if logged_in {
                    RenewalEvent::LoggedInAgain {
                        id: id.clone(),
                        expires_at,
                    }
                } else {
                    RenewalEvent::Renewed {
                        id: id.clone(),
                        expires_at,
                    }
                };
                (credential, issued_at, Some(version), event)
            }
            Ok(PutOutcome::Missing) => {
                // Deleted from the store meanwhile (logged out, by this replica or
                // another): not kept alive any longer.
                self.forget(slot, "the token was deleted from the store");
                self.emit(RenewalEvent::Removed { id });
                return;
            }
            Ok(PutOutcome::Conflict { current }) => {
                let expires_at = self.renewer.expires_at(&current.credential);
                let event = RenewalEvent::AdoptedFromStore {
                    id: id.clone(),
                    expires_at,
                };
                (
                    current.credential,
                    current.issued_at,
                    Some(current.version),
                    event,
                )
            }
            Err(error) => {
                self.emit(RenewalEvent::StoreFailed {
                    id: id.clone(),
                    reason: error_chain(&error),
                });
                let expires_at = self.renewer.expires_at(&credential);
                let id = id.clone();
                let event = if logged_in {
                    RenewalEvent::LoggedInAgain { id, expires_at }
                } else {
                    RenewalEvent::Renewed { id, expires_at }
                };
                (credential, issued_at, None, event)
            }
        };
        let expires_at = self.renewer.expires_at(&credential);
        let due = self.policy.renew_at(&id, issued_at, expires_at);
        // Copies only for those listening: most tokens have neither a watcher nor a
        // waiter.
        let listened = self.watchers.contains_key(&slot) || self.waiters.contains_key(&slot);
        let copy = listened.then(|| credential.clone());
        if let Some(entry) = self.schedule.entry_mut(slot) {
            entry.credential = credential;
            entry.issued_at_ms = issued_at.timestamp_millis();
            entry.failures = 0;
            if let Some(version) = version {
                entry.version = version;
            }
        }
        self.schedule.schedule(slot, due.timestamp_millis());
        if let Some(credential) = copy {
            self.publish(slot, Some(credential.clone()));
            self.answer(slot, Ok(credential));
        }
        self.emit(event);
    }

    fn failed(&mut self, slot: Slot, rejected: bool, reason: String) {
        let now = self.now.server();
        let Some(entry) = self.schedule.entry_mut(slot) else {
            return;
        };
        let id = entry.id.clone();
        if rejected {
            entry.phase = Phase::Dead;
            entry.failures += 1;
            self.publish(slot, None);
            self.answer(
                slot,
                Err(RenewalError::new(
                    RenewalErrorKind::Rejected,
                    reason.clone(),
                )),
            );
            self.emit(RenewalEvent::RenewalFailed {
                id: id.clone(),
                attempt: self.schedule.entry(slot).map_or(1, |e| e.failures),
                next_attempt_at: None,
                transient: false,
                reason: reason.clone(),
            });
            self.emit(RenewalEvent::Rejected { id, reason });
            self.start_relogin(slot);
            return;
        }
        entry.failures += 1;
        let attempt = entry.failures;
        let expires_ms = self
            .renewer
            .expires_at(&entry.credential)
            .timestamp_millis();
        let remaining =
            Duration::from_millis(u64::try_from(expires_ms - now.timestamp_millis()).unwrap_or(0));
        let delay = self.policy.retry_delay(attempt, remaining);
        let next_ms = (now.timestamp_millis()
            + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))
        .min(expires_ms);
        let next_attempt_at = (next_ms < expires_ms)
            .then(|| DateTime::from_timestamp_millis(next_ms))
            .flatten();
        self.schedule.schedule(slot, next_ms);
        self.answer(
            slot,
            Err(RenewalError::new(RenewalErrorKind::Failed, reason.clone())),
        );
        self.emit(RenewalEvent::RenewalFailed {
            id,
            attempt,
            next_attempt_at,
            transient: true,
            reason,
        });
    }

    fn expire(&mut self, slot: Slot) {
        let Some(entry) = self.schedule.entry_mut(slot) else {
            return;
        };
        entry.phase = Phase::Dead;
        let id = entry.id.clone();
        self.publish(slot, None);
        self.answer(slot, Err(RenewalError::new(RenewalErrorKind::Expired, "")));
        self.emit(RenewalEvent::Expired { id });
        self.start_relogin(slot);
    }

    /// Whether the token in `slot` has expired by `now_ms` (server time); an
    /// empty slot counts as expired.
    fn has_expired(&self, slot: Slot, now_ms: i64) -> bool {
        self.schedule.entry(slot).is_none_or(|entry| {
            self.renewer
                .expires_at(&entry.credential)
                .timestamp_millis()
                <= now_ms
        })
    }

    /// Why a dead token is dead: it expired, or (still within its lifetime) it
    /// was rejected.
    fn dead_kind(&self, slot: Slot) -> RenewalErrorKind {
        if self.has_expired(slot, self.now.server().timestamp_millis()) {
            RenewalErrorKind::Expired
        } else {
            RenewalErrorKind::Rejected
        }
    }

    /// Stops holding a token: its waiters hear `why`, its watchers `None`.
    fn forget(&mut self, slot: Slot, why: &'static str) {
        let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) else {
            return;
        };
        self.schedule.remove(&id);
        self.answer(
            slot,
            Err(RenewalError::new(RenewalErrorKind::NotFound, why)),
        );
        if let Some(watcher) = self.watchers.remove(&slot) {
            watcher.send_replace(None);
        }
    }

    fn publish(&mut self, slot: Slot, credential: Option<R::Credential>) {
        if let Some(watcher) = self.watchers.get(&slot) {
            watcher.send_replace(credential);
        }
    }

    fn answer(&mut self, slot: Slot, result: Result<R::Credential, RenewalError>) {
        if let Some(waiters) = self.waiters.remove(&slot) {
            for waiter in waiters {
                let _ = waiter.send(result.clone());
            }
        }
    }

    /// Holds a token: due at its renewal point, or now if that has passed (the rate
    /// limit spreads the overdue ones); an expired one is announced when reached.
    pub(super) fn hold(
        &mut self,
        id: TokenId,
        credential: R::Credential,
        issued_at: DateTime<Utc>,
        version: u64,
    ) -> Slot {
        let due = self.renew_at(&id, &credential, issued_at);
        self.hold_due(id, credential, issued_at, version, due)
    }

    /// When a token issued at `issued_at` is due for renewal, by the policy.
    pub(super) fn renew_at(
        &self,
        id: &TokenId,
        credential: &R::Credential,
        issued_at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let expires_at = self.renewer.expires_at(credential);
        self.policy.renew_at(id, issued_at, expires_at)
    }

    /// [`hold`](Self::hold) with the renewal point already worked out.
    pub(super) fn hold_due(
        &mut self,
        id: TokenId,
        credential: R::Credential,
        issued_at: DateTime<Utc>,
        version: u64,
        due: DateTime<Utc>,
    ) -> Slot {
        let slot = self.schedule.insert(Entry {
            id,
            credential,
            issued_at_ms: issued_at.timestamp_millis(),
            due_at_ms: due.timestamp_millis(),
            version,
            generation: 0,
            failures: 0,
            last_attempt_ms: 0,
            phase: Phase::Waiting,
        });
        self.answer(
            slot,
            Err(RenewalError::new(
                RenewalErrorKind::Failed,
                "the token was replaced",
            )),
        );
        // A copy only for a watcher: at start-up there is none, and no clone.
        if self.watchers.contains_key(&slot) {
            let current = self
                .schedule
                .entry(slot)
                .map(|entry| entry.credential.clone());
            self.publish(slot, current);
        }
        slot
    }

    fn command(&mut self, command: Command<R::Credential>) {
        match command {
            Command::Hold {
                id,
                credential,
                issued_at,
                version,
                reply,
            } => {
                self.hold(id, credential, issued_at, version);
                let _ = reply.send(());
            }
            Command::Forget { id } => {
                if let Some(slot) = self.schedule.slot_of(&id) {
                    self.forget(slot, "the token was removed");
                }
            }
            Command::Status { id, reply } => {
                let status = self
                    .schedule
                    .slot_of(&id)
                    .and_then(|slot| self.status(slot));
                let _ = reply.send(status);
            }
            Command::RenewNow { id, reply } => self.renew_now(&id, reply),
            Command::Watch { id, reply } => {
                let receiver = self.schedule.slot_of(&id).and_then(|slot| {
                    let entry = self.schedule.entry(slot)?;
                    let current = (entry.phase != Phase::Dead).then(|| entry.credential.clone());
                    Some(
                        self.watchers
                            .entry(slot)
                            .or_insert_with(|| watch::channel(current).0)
                            .subscribe(),
                    )
                });
                let _ = reply.send(receiver);
            }
            Command::Len { reply } => {
                let _ = reply.send(self.schedule.len());
            }
            Command::Shutdown => {}
        }
    }

    fn renew_now(
        &mut self,
        id: &TokenId,
        reply: oneshot::Sender<Result<R::Credential, RenewalError>>,
    ) {
        if self.stopping {
            // Nothing new starts now: the workers may already be gone.
            let _ = reply.send(Err(RenewalError::new(RenewalErrorKind::Stopped, "")));
            return;
        }
        let Some(slot) = self.schedule.slot_of(id) else {
            let _ = reply.send(Err(RenewalError::new(RenewalErrorKind::NotFound, "")));
            return;
        };
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        match entry.phase {
            Phase::InFlight => self.waiters.entry(slot).or_default().push(reply),
            Phase::Dead => {
                let kind = self.dead_kind(slot);
                let _ = reply.send(Err(RenewalError::new(kind, "")));
            }
            Phase::Waiting => {
                self.waiters.entry(slot).or_default().push(reply);
                if self.has_expired(slot, self.now.server().timestamp_millis()) {
                    self.expire(slot);
                } else {
                    self.start_renewal(slot);
                }
            }
        }
    }

    fn status(&self, slot: Slot) -> Option<TokenStatus<R::Credential>> {
        let entry = self.schedule.entry(slot)?;
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let state = match entry.phase {
            Phase::Waiting => TokenState::Scheduled,
            Phase::InFlight => TokenState::Renewing,
            Phase::Dead => match self.dead_kind(slot) {
                RenewalErrorKind::Expired => TokenState::Expired,
                _ => TokenState::Rejected,
            },
        };
        Some(TokenStatus {
            credential: entry.credential.clone(),
            state,
            issued_at: at(entry.issued_at_ms),
            expires_at: at(self
                .renewer
                .expires_at(&entry.credential)
                .timestamp_millis()),
            next_renewal_at: (entry.phase == Phase::Waiting).then(|| at(entry.due_at_ms)),
            failures: entry.failures,
        })
    }
}

/// An error and its sources, as one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
