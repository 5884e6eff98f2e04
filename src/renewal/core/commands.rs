//! What handles ask: holding and forgetting tokens, handing out valid ones
//! (reading through to the store for ids not held here), `renew_now` through the
//! gates, watching, status, and shutting down.

use super::breaker::micros;
use super::machine::{Machine, Want};
use super::messages::{Command, Job, Now, Reply, Tag, Work};
use super::schedule::{flags, Phase, Slot};
use crate::renewal::error::{RenewalError, RenewalErrorKind};
use crate::renewal::id::TokenId;

impl<C: Clone, W> Machine<C, W> {
    /// A command from a handle.
    pub(crate) fn command(&mut self, now: Now, command: Command<C, W>) {
        self.now = now;
        match command {
            Command::Hold { token, id, reply } => {
                let result = if self.stopping {
                    Err(RenewalError::new(RenewalErrorKind::Stopped))
                } else if self.hold(id, token).is_some() {
                    Ok(())
                } else {
                    Err(RenewalError::new(RenewalErrorKind::Expired))
                };
                self.reply(reply, Reply::Done(result));
            }
            Command::Forget { id } => {
                if let Some(slot) = self.schedule.slot_of(&id) {
                    self.removed(slot);
                }
            }
            Command::Status { id, reply } => {
                let status = self
                    .schedule
                    .slot_of(&id)
                    .and_then(|slot| self.status_of(slot));
                self.reply(reply, Reply::Status(status));
            }
            Command::Valid { id, reply } => match self.schedule.slot_of(&id) {
                Some(slot) => {
                    let valid = self.valid(slot);
                    self.reply(reply, Reply::Credential(valid));
                }
                None => self.read_through(id, reply, Want::Valid),
            },
            Command::RenewNow { id, reply } => match self.schedule.slot_of(&id) {
                _ if self.stopping => self.reply(
                    reply,
                    Reply::Credential(Err(RenewalError::new(RenewalErrorKind::Stopped))),
                ),
                Some(slot) => self.renew_now(slot, reply),
                None => self.read_through(id, reply, Want::RenewNow),
            },
            Command::Watch { id, reply } => match self.schedule.slot_of(&id) {
                Some(slot) => {
                    let current = self.watch(slot);
                    self.reply(reply, Reply::Watch(Ok(current)));
                }
                None => self.read_through(id, reply, Want::Watch),
            },
            Command::Snapshot { reply } => {
                let statuses = self
                    .schedule
                    .slots()
                    .filter_map(|slot| {
                        let id = self.schedule.entry(slot)?.id.clone();
                        Some((id, self.status_of(slot)?))
                    })
                    .collect();
                self.reply(reply, Reply::Snapshot(statuses));
            }
            Command::Len { reply } => {
                let len = self.schedule.len();
                self.reply(reply, Reply::Len(len));
            }
            Command::Unwatched { id } => {
                if let Some(entry) = self
                    .schedule
                    .slot_of(&id)
                    .and_then(|slot| self.schedule.entry_mut(slot))
                {
                    entry.set(flags::WATCHED, false);
                }
            }
            Command::Shutdown => self.shutdown(),
        }
    }

    /// The credential in `slot` if it may be used now.
    pub(super) fn valid(&self, slot: Slot) -> Result<C, RenewalError> {
        match self.schedule.entry(slot) {
            Some(entry) if self.servable(entry) => Ok(entry.credential.clone()),
            _ => Err(RenewalError::new(self.dead_kind(slot))),
        }
    }

    /// Watches `slot`; its credential if it may be used now.
    pub(super) fn watch(&mut self, slot: Slot) -> Option<C> {
        let entry = self.schedule.entry_mut(slot)?;
        entry.set(flags::WATCHED, true);
        let entry = self.schedule.entry(slot)?;
        self.servable(entry).then(|| entry.credential.clone())
    }

    /// `renew_now` on a held token: joins a renewal in flight; within the gap
    /// after an attempt, answers what that attempt gave (its error, or the fresh
    /// credential); otherwise queues a renewal ahead of scheduled work, within
    /// the queue's bound.
    pub(super) fn renew_now(&mut self, slot: Slot, reply: W) {
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        let server_now = self.server_ms(self.now);
        let since_attempt = self.now.mono_us.saturating_sub(entry.last_attempt_us);
        let within_gap =
            entry.last_attempt_us != 0 && since_attempt < micros(self.policy.min_retry_gap());
        match entry.phase {
            Phase::Renewing | Phase::Queued => self.waiters.entry(slot).or_default().push(reply),
            Phase::LoggingIn | Phase::ReloginWait => {
                let kind = self.dead_kind(slot);
                self.reply(reply, Reply::Credential(Err(RenewalError::new(kind))));
            }
            Phase::Waiting | Phase::Writing if entry.expires_ms <= server_now => {
                self.waiters.entry(slot).or_default().push(reply);
                self.kill(slot, false, None);
            }
            // A write being retried holds a credential renewed moments ago.
            Phase::Writing => {
                let credential = entry.credential.clone();
                self.reply(reply, Reply::Credential(Ok(credential)));
            }
            Phase::Waiting if within_gap => {
                let answer = match self.last_errors.get(&slot) {
                    Some(error) => Err(RenewalError::with_source(
                        RenewalErrorKind::Failed,
                        error.clone(),
                    )),
                    None => Ok(entry.credential.clone()),
                };
                self.reply(reply, Reply::Credential(answer));
            }
            Phase::Waiting if self.urgent.len() >= self.policy.max_queued() => {
                let busy = RenewalError::new(RenewalErrorKind::Busy);
                self.reply(reply, Reply::Credential(Err(busy)));
            }
            Phase::Waiting => {
                self.waiters.entry(slot).or_default().push(reply);
                self.schedule.unschedule(slot, Phase::Queued);
                if let Some(entry) = self.schedule.entry(slot) {
                    self.urgent.push_back((slot, entry.generation));
                }
            }
        }
    }

    /// An id not held here: read it from the store (one read per id however
    /// many ask), then answer.
    fn read_through(&mut self, id: TokenId, reply: W, want: Want) {
        if let Some(waiting) = self.loading.get_mut(&id) {
            waiting.push((reply, want));
            return;
        }
        if self.stopping || self.loading.len() >= self.policy.max_queued() {
            let kind = if self.stopping {
                RenewalErrorKind::Stopped
            } else {
                RenewalErrorKind::Busy
            };
            self.refuse(reply, want, RenewalError::new(kind));
            return;
        }
        self.loading.insert(id.clone(), vec![(reply, want)]);
        self.store_jobs.push_back(Job {
            tag: Tag::Store,
            work: Work::Load { id },
        });
    }

    /// Answers a read-through's caller with an error.
    pub(super) fn refuse(&mut self, reply: W, want: Want, error: RenewalError) {
        let reply_with = match want {
            Want::Watch => Reply::Watch(Err(error)),
            Want::Valid | Want::RenewNow => Reply::Credential(Err(error)),
        };
        self.reply(reply, reply_with);
    }

    /// A job handed out but never run (the engine stopped before a worker took
    /// it): its token goes back to waiting, and whoever waits on it hears
    /// `Stopped`.
    pub(crate) fn cancel(&mut self, job: Job<C>) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let Tag::Token { slot, generation } = job.tag else {
            return;
        };
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        if matches!(entry.phase, Phase::Renewing | Phase::Writing) {
            let due_ms = entry.due_ms;
            self.schedule.schedule(slot, due_ms);
        }
        self.answer(slot, &Err(RenewalError::new(RenewalErrorKind::Stopped)));
    }

    /// Starts nothing new from now on; answers everyone queued.
    fn shutdown(&mut self) {
        if self.stopping {
            return;
        }
        self.stopping = true;
        let stopped = RenewalError::new(RenewalErrorKind::Stopped);
        for (slot, _) in std::mem::take(&mut self.urgent) {
            self.answer(slot, &Err(stopped.clone()));
        }
        for (_, waiting) in std::mem::take(&mut self.loading) {
            for (reply, want) in waiting {
                self.refuse(reply, want, stopped.clone());
            }
        }
        self.relogins.clear();
        self.store_jobs.clear();
        self.writes.clear();
    }
}
