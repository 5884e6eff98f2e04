//! The state the engine's tasks and handles share: the core behind one short
//! lock (never held across an await), the jobs made ready, the watch channels,
//! the event sender, and the notifications that wake workers and the driver.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use hashbrown::HashMap;
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::time::Instant;

use super::instruments::Instruments;
use crate::renewal::core::{Command, Job, Machine, Now, Output, Reply};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;
use crate::Clock;

/// Where an answer goes: a caller waiting on a oneshot, or a `watch` caller who
/// wants a receiver.
pub(crate) enum Waiter<C> {
    Reply(oneshot::Sender<Reply<C>>),
    Watch(TokenId, oneshot::Sender<Option<watch::Receiver<Option<C>>>>),
}

pub(crate) type Core<C> = Machine<C, Waiter<C>>;

/// Everything behind the lock.
pub(crate) struct State<C> {
    pub(crate) core: Core<C>,
    /// Jobs the driver made ready that no worker has taken yet.
    pub(crate) ready: VecDeque<Job<C>>,
    watchers: HashMap<TokenId, watch::Sender<Option<C>>>,
    /// `None` once the engine has stopped: receivers then end with `Closed`.
    pub(crate) events: Option<broadcast::Sender<RenewalEvent>>,
    /// When the driver means to wake next (monotonic µs).
    pub(crate) alarm_us: u64,
}

/// What the driver, the workers and the handles share.
pub(crate) struct Shared<C> {
    state: Mutex<State<C>>,
    /// Wakes idle workers when jobs are ready (all of them when stopping).
    pub(crate) work_ready: Notify,
    /// Wakes the driver: something is due sooner than its alarm, or the last job
    /// finished while stopping.
    pub(crate) wake_driver: Notify,
    clock: std::sync::Arc<dyn Clock>,
    epoch: Instant,
    reset_offset: Box<dyn Fn() + Send + Sync>,
    /// Whether the engine has stopped, for `shutdown` callers to wait on.
    pub(crate) stopped: watch::Sender<bool>,
    /// The last wall-clock reading, and whether the clock has panicked: the
    /// engine then stops (see [`Shared::now`]).
    last_wall_ms: AtomicI64,
    broken: AtomicBool,
    /// The core's server-clock offset, mirrored after each driver turn (the only
    /// place it changes), so stamping a renewal's issue time takes no lock.
    offset_ms: AtomicI64,
    /// The engine's metrics (nothing without the feature `metrics`).
    pub(crate) instruments: Instruments,
}

impl<C: Clone + Send + Sync + 'static> Shared<C> {
    pub(crate) fn new(
        core: Core<C>,
        events: broadcast::Sender<RenewalEvent>,
        clock: std::sync::Arc<dyn Clock>,
        epoch: Instant,
        reset_offset: Box<dyn Fn() + Send + Sync>,
        instruments: Instruments,
    ) -> Self {
        Self {
            state: Mutex::new(State {
                core,
                ready: VecDeque::new(),
                watchers: HashMap::new(),
                events: Some(events),
                alarm_us: 0,
            }),
            work_ready: Notify::new(),
            wake_driver: Notify::new(),
            clock,
            epoch,
            reset_offset,
            stopped: watch::channel(false).0,
            last_wall_ms: AtomicI64::new(0),
            broken: AtomicBool::new(false),
            offset_ms: AtomicI64::new(0),
            instruments,
        }
    }

    /// Server time now, in milliseconds: the wall clock shifted by the offset the
    /// core applied at its last turn.
    pub(crate) fn server_now_ms(&self) -> i64 {
        self.now().wall_ms + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Mirrors the core's offset after a turn that may have changed it.
    pub(crate) fn mirror_offset(&self, state: &State<C>) {
        self.offset_ms
            .store(state.core.offset_ms(), Ordering::Relaxed);
    }

    /// Whether caller code the engine cannot do without (the clock) panicked.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    /// Stops the engine at once after caller code broke its contract: nothing in
    /// flight is waited for, every caller hears `Stopped`.
    pub(crate) fn abandon(&self) {
        tracing::error!("the renewal engine stopped: the clock panicked");
        self.broken.store(true, Ordering::Relaxed);
        self.lock().core.abandon();
        self.wake_driver.notify_one();
        self.work_ready.notify_waiters();
    }

    /// The time, read once for an input.
    ///
    /// A clock that panics breaks the engine's contract: the last reading is used
    /// and the engine stops ([`abandon`](Self::abandon)).
    pub(crate) fn now(&self) -> Now {
        let wall = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.clock.now().timestamp_millis()
        }));
        let wall_ms = match wall {
            Ok(wall_ms) => {
                self.last_wall_ms.store(wall_ms, Ordering::Relaxed);
                wall_ms
            }
            Err(_) => {
                self.broken.store(true, Ordering::Relaxed);
                self.last_wall_ms.load(Ordering::Relaxed)
            }
        };
        Now {
            wall_ms,
            mono_us: u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX),
        }
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<C>> {
        // The core is our code and keeps itself consistent; the only caller code
        // run under the lock is the credential's `Clone` and `Drop`. A poisoned
        // lock still guards a usable state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A handle's command: applied, jobs it makes ready handed to the workers,
    /// answers delivered.
    pub(crate) fn command(&self, command: Command<C, Waiter<C>>) {
        let now = self.now();
        if self.is_broken() {
            self.abandon();
            return;
        }
        let mut state = self.lock();
        state.core.command(now, command);
        self.make_ready(&mut state, now);
        self.after_turn(&mut state);
    }

    /// Moves what may start now into the ready queue and wakes that many workers.
    /// Once the engine is stopping, jobs nobody has taken are cancelled instead:
    /// nothing starts after shutdown.
    pub(crate) fn make_ready(&self, state: &mut State<C>, now: Now) {
        if state.core.is_stopping() {
            for job in std::mem::take(&mut state.ready) {
                state.core.cancel(job);
            }
            return;
        }
        while let Some(job) = state.core.poll_job(now) {
            state.ready.push_back(job);
            self.work_ready.notify_one();
        }
    }

    /// Delivers the core's outputs and wakes the driver if it must look sooner
    /// than it means to.
    pub(crate) fn after_turn(&self, state: &mut State<C>) {
        self.flush(state);
        let wake = state.core.is_stopped()
            || state
                .core
                .poll_timeout()
                .is_some_and(|at| at < state.alarm_us);
        if wake {
            self.wake_driver.notify_one();
        }
    }

    /// Delivers replies, events and watch updates.
    pub(crate) fn flush(&self, state: &mut State<C>) {
        let mut unwatched = Vec::new();
        while let Some(output) = state.core.poll_output() {
            match output {
                Output::Reply(waiter, reply) => deliver(&mut state.watchers, waiter, reply),
                Output::Event(event) => {
                    self.instruments.event(&event);
                    if let Some(events) = &state.events {
                        // No receiver is not an error: events are optional.
                        let _ = events.send(event);
                    }
                }
                Output::Publish { id, credential } => match state.watchers.get(&id) {
                    Some(sender) if sender.receiver_count() > 0 => {
                        sender.send_replace(credential);
                    }
                    _ => {
                        state.watchers.remove(&id);
                        unwatched.push(id);
                    }
                },
                Output::Unwatch { id } => {
                    if let Some(sender) = state.watchers.remove(&id) {
                        sender.send_replace(None);
                    }
                }
                Output::ResetClockOffset => (self.reset_offset)(),
            }
        }
        if !unwatched.is_empty() {
            let now = self.now();
            for id in unwatched {
                state.core.command(now, Command::Unwatched { id });
            }
        }
    }

    /// Sends an event the runtime itself reports.
    pub(crate) fn announce(&self, state: &State<C>, event: RenewalEvent) {
        if let Some(events) = &state.events {
            // No receiver is not an error: events are optional.
            let _ = events.send(event);
        }
    }

    /// How many watch channels are kept (for tests of memory).
    #[cfg(test)]
    pub(crate) fn watchers(&self) -> usize {
        self.lock().watchers.len()
    }

    /// Drops the watch channels nobody listens to any more.
    pub(crate) fn sweep_watchers(&self, state: &mut State<C>) {
        let now = self.now();
        let mut gone = Vec::new();
        state.watchers.retain(|id, sender| {
            let keep = sender.receiver_count() > 0;
            if !keep {
                gone.push(id.clone());
            }
            keep
        });
        for id in gone {
            state.core.command(now, Command::Unwatched { id });
        }
    }

    /// The engine has stopped: events end, watchers hear `None` and close,
    /// workers leave, `shutdown` callers return.
    pub(crate) fn finish(&self) {
        let mut state = self.lock();
        // Whoever still waits (on a handle kept after the stop) hears `Stopped`.
        state.core.abandon();
        state.events = None;
        for (_, sender) in state.watchers.drain() {
            sender.send_replace(None);
        }
        state.ready.clear();
        drop(state);
        self.instruments.stopped();
        self.work_ready.notify_waiters();
        self.stopped.send_replace(true);
    }
}

fn deliver<C: Clone>(
    watchers: &mut HashMap<TokenId, watch::Sender<Option<C>>>,
    waiter: Waiter<C>,
    reply: Reply<C>,
) {
    match (waiter, reply) {
        (Waiter::Reply(sender), reply) => {
            let _ = sender.send(reply);
        }
        (Waiter::Watch(id, sender), Reply::Watch(Ok(current))) => {
            let channel = watchers
                .entry(id)
                .or_insert_with(|| watch::channel(current.clone()).0);
            let _ = sender.send(Some(channel.subscribe()));
        }
        (Waiter::Watch(_, sender), _) => {
            let _ = sender.send(None);
        }
    }
}
