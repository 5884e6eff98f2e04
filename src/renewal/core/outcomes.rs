//! What a job came to, applied: renewed and stored, adopted from another
//! replica, failed (for this token, for the whole shop, or for now), logged in
//! again, written at last, read, reconciled.

use super::breaker::{micros, Change};
use super::machine::{duration_ms, Machine, Want};
use super::messages::{Fresh, Job, Now, Outcome, Put, Reply, Stored, Tag, Work};
use super::schedule::{flags, Phase, Slot};
use crate::renewal::credential::FailureClass;
use crate::renewal::error::{RenewalError, RenewalErrorKind, SharedError};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;

/// How often a replica told that another holds a token's renewal lease looks
/// at the store again.
const HELD_LEASE_POLL: std::time::Duration = std::time::Duration::from_secs(1);

impl<C: Clone, W> Machine<C, W> {
    /// A worker reports what a job came to.
    pub(crate) fn outcome(&mut self, now: Now, tag: Tag, outcome: Outcome<C>) {
        self.now = now;
        self.in_flight = self.in_flight.saturating_sub(1);
        match (tag, outcome) {
            (Tag::Store, Outcome::Loaded { id, result }) => self.loaded(id, result),
            (Tag::Store, Outcome::Deleted(Some(error))) => self.store_failed(None, false, error),
            (Tag::Store, Outcome::Versions(result)) => self.reconcile(result),
            (Tag::Store, _) => {}
            (Tag::Token { slot, generation }, outcome) => {
                let current = self
                    .schedule
                    .entry(slot)
                    .is_some_and(|entry| entry.generation == generation);
                // Otherwise the token was replaced or removed meanwhile: moot.
                if current {
                    self.token_outcome(slot, outcome);
                }
            }
        }
    }

    fn token_outcome(&mut self, slot: Slot, outcome: Outcome<C>) {
        match outcome {
            Outcome::Renewed { fresh, put } => self.renewed(slot, fresh, put, false),
            Outcome::LoggedIn { fresh, put } => self.renewed(slot, fresh, put, true),
            Outcome::Failed { class, error } => self.failed(slot, class, error),
            Outcome::LeaseHeld { remaining } => {
                // Another replica is renewing it: look again (a store call, nothing
                // sent to the shop) when its lease lapses, after a second (it
                // usually writes within one renewal's round trip, and with a shop
                // that rotates strings the one held here is dead from then on), or
                // halfway to expiry, whichever is first, and adopt what it wrote.
                let server_now = self.server_ms(self.now);
                let expires_ms = self.schedule.entry(slot).map_or(0, |e| e.expires_ms);
                let halfway = expires_ms.saturating_sub(server_now) / 2;
                let gap = duration_ms(remaining.min(HELD_LEASE_POLL)).min(halfway.max(1));
                let at = server_now.saturating_add(gap).min(expires_ms);
                if let Some(entry) = self.schedule.entry_mut(slot) {
                    entry.set(flags::LEASE_HELD, true);
                }
                self.schedule.schedule(slot, at);
            }
            Outcome::LeaseFailed { error } => {
                if let Some(entry) = self.schedule.entry_mut(slot) {
                    entry.set(flags::LEASE_FAILED, true);
                }
                let id = self.schedule.entry(slot).map(|e| e.id.clone());
                self.store_failed(id, true, error.clone());
                self.failed(slot, FailureClass::Transient { retry_after: None }, error);
            }
            Outcome::Adopt(token) => self.adopt(slot, token),
            Outcome::Missing => self.removed(slot),
            Outcome::NoLogin { retry, error } => self.no_login(slot, retry, error),
            Outcome::Written(put) => self.written(slot, put),
            Outcome::Loaded { result, .. } => match result {
                // A reconciling read of a held token.
                Ok(Some(token)) => {
                    let newer = self
                        .schedule
                        .entry(slot)
                        .is_some_and(|entry| token.version > entry.version);
                    if newer {
                        self.adopt(slot, token);
                    }
                }
                Ok(None) => self.removed(slot),
                Err(error) => self.store_failed(None, false, error),
            },
            Outcome::Deleted(_) | Outcome::Versions(_) => {}
        }
    }

    fn store_failed(&mut self, id: Option<TokenId>, will_retry: bool, error: SharedError) {
        self.emit(RenewalEvent::StoreFailed {
            id,
            will_retry,
            error: RenewalError::with_source(RenewalErrorKind::Store, error),
        });
    }

    fn shop_answered(&mut self) {
        if self.breaker.shop_answered() == Some(Change::Closed) {
            self.emit(RenewalEvent::ShopResumed);
        }
    }

    /// A renewal or re-login gave a fresh credential; `put` says whether it is
    /// stored.
    fn renewed(&mut self, slot: Slot, fresh: Fresh<C>, put: Put<C>, logged_in: bool) {
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        let (id, version) = (entry.id.clone(), entry.version);
        if !logged_in {
            self.shop_answered();
        }
        let expires_at = Self::at(fresh.expires_ms);
        let announce = |id| {
            if logged_in {
                RenewalEvent::LoggedInAgain { id, expires_at }
            } else {
                RenewalEvent::Renewed { id, expires_at }
            }
        };
        match put {
            Put::Stored { version } => {
                self.install(slot, Stored { fresh, version });
                self.emit(announce(id));
            }
            Put::Conflict(current) if current.fresh.expires_ms > self.server_ms(self.now) => {
                self.adopt(slot, current);
            }
            // What is stored has expired; ours has not: ours goes in on top of it.
            Put::Conflict(current) => {
                self.keep_unwritten(slot, id, fresh, current.version, announce)
            }
            Put::Missing => self.removed(slot),
            Put::Failed(error) => {
                self.store_failed(Some(id.clone()), true, error);
                self.keep_unwritten(slot, id, fresh, version, announce);
            }
        }
    }

    /// Serves a fresh credential the store does not hold yet, and retries the
    /// write (compare-and-swap on `version`) until it lands or is superseded.
    fn keep_unwritten(
        &mut self,
        slot: Slot,
        id: TokenId,
        fresh: Fresh<C>,
        version: u64,
        announce: impl FnOnce(TokenId) -> RenewalEvent,
    ) {
        self.install(slot, Stored { fresh, version });
        if let Some(entry) = self.schedule.entry_mut(slot) {
            entry.set(flags::PENDING_WRITE, true);
        }
        self.retry_write(slot);
        self.emit(announce(id));
    }

    fn failed(&mut self, slot: Slot, class: FailureClass, error: SharedError) {
        let server_now = self.server_ms(self.now);
        let Some(entry) = self.schedule.entry_mut(slot) else {
            return;
        };
        entry.failures = entry.failures.saturating_add(1);
        let (id, attempt, expires_ms) = (
            entry.id.clone(),
            u32::from(entry.failures),
            entry.expires_ms,
        );
        let (kind, next_ms) = match class {
            FailureClass::Token => {
                self.shop_answered();
                self.emit(RenewalEvent::RenewalFailed {
                    id,
                    attempt,
                    next_attempt_at: None,
                    transient: false,
                    error: RenewalError::with_source(RenewalErrorKind::Rejected, error.clone()),
                });
                self.kill(slot, true, Some(error));
                return;
            }
            FailureClass::Shop => {
                let policy = &self.policy;
                let change = self
                    .breaker
                    .shop_failed(self.now.mono_us, |probes| policy.shop_pause(probes));
                let until_us = self.breaker.open_until().unwrap_or(self.now.mono_us);
                let pause = i64::try_from(until_us.saturating_sub(self.now.mono_us) / 1_000)
                    .unwrap_or(i64::MAX);
                let until_ms = server_now.saturating_add(pause);
                if let Some(Change::Opened { .. }) = change {
                    self.emit(RenewalEvent::ShopPaused {
                        until: Self::at(until_ms),
                        error: RenewalError::with_source(
                            RenewalErrorKind::ShopUnavailable,
                            error.clone(),
                        ),
                    });
                }
                (RenewalErrorKind::ShopUnavailable, until_ms.min(expires_ms))
            }
            FailureClass::Transient { retry_after } => {
                self.shop_answered();
                let remaining = std::time::Duration::from_millis(
                    u64::try_from(expires_ms.saturating_sub(server_now)).unwrap_or(0),
                );
                let delay = self
                    .policy
                    .retry_delay(attempt, remaining)
                    .max(retry_after.unwrap_or_default());
                self.last_errors.insert(slot, error.clone());
                let next = server_now.saturating_add(duration_ms(delay));
                (RenewalErrorKind::Failed, next.min(expires_ms))
            }
        };
        self.schedule.schedule(slot, next_ms);
        let error = RenewalError::with_source(kind, error);
        self.answer(slot, &Err(error.clone()));
        self.emit(RenewalEvent::RenewalFailed {
            id,
            attempt,
            next_attempt_at: (next_ms < expires_ms).then(|| Self::at(next_ms)),
            transient: true,
            error,
        });
    }

    fn no_login(&mut self, slot: Slot, retry: bool, error: Option<SharedError>) {
        let server_now = self.server_ms(self.now);
        let Some(entry) = self.schedule.entry_mut(slot) else {
            return;
        };
        entry.failures = entry.failures.saturating_add(1);
        let (id, attempt, version) = (entry.id.clone(), u32::from(entry.failures), entry.version);
        let error = error.map(|e| RenewalError::with_source(RenewalErrorKind::Failed, e));
        if retry && attempt < self.policy.relogin_attempts() && !self.stopping {
            let delay = self.policy.retry_delay(attempt, std::time::Duration::MAX);
            let at = server_now.saturating_add(duration_ms(delay));
            self.schedule.schedule_as(slot, at, Phase::ReloginWait);
            self.emit(RenewalEvent::ReloginFailed {
                id,
                attempt,
                next_attempt_at: Some(Self::at(at)),
                error: error.unwrap_or_else(|| RenewalError::new(RenewalErrorKind::Failed)),
            });
        } else {
            self.emit(RenewalEvent::NotLoggedInAgain { id, error });
            self.drop_token(slot, Some(version));
        }
    }

    /// A retried write came back.
    fn written(&mut self, slot: Slot, put: Put<C>) {
        let due_ms = self.schedule.entry(slot).map_or(0, |entry| entry.due_ms);
        match put {
            Put::Stored { version } => {
                let Some(entry) = self.schedule.entry_mut(slot) else {
                    return;
                };
                entry.version = version;
                entry.set(flags::PENDING_WRITE, false);
                let id = entry.id.clone();
                self.write_attempts.remove(&slot);
                self.schedule.schedule(slot, due_ms);
                self.emit(RenewalEvent::Persisted { id });
            }
            Put::Conflict(current) => self.adopt(slot, current),
            Put::Missing => self.removed(slot),
            Put::Failed(error) => {
                let id = self.schedule.entry(slot).map(|entry| entry.id.clone());
                self.schedule.schedule(slot, due_ms);
                self.retry_write(slot);
                self.store_failed(id, true, error);
            }
        }
    }

    /// A read-through (or a reconciling read of an id not held) came back.
    fn loaded(&mut self, id: TokenId, result: Result<Option<Stored<C>>, SharedError>) {
        let waiting = self.loading.remove(&id).unwrap_or_default();
        let token = match result {
            Ok(token) => token,
            Err(error) => {
                if waiting.is_empty() {
                    self.store_failed(Some(id), false, error);
                } else {
                    let failed = RenewalError::with_source(RenewalErrorKind::Store, error);
                    for (reply, want) in waiting {
                        self.refuse(reply, want, failed.clone());
                    }
                }
                return;
            }
        };
        let slot = match (token, self.schedule.slot_of(&id)) {
            (Some(token), Some(slot)) => {
                let newer = self.schedule.entry(slot).is_some_and(|entry| {
                    token.version > entry.version && entry.phase == Phase::Waiting
                });
                if newer {
                    self.adopt(slot, token);
                }
                Some(slot)
            }
            (Some(token), None) if !self.stopping => self.hold(id.clone(), token),
            (None, slot) => {
                self.deleting.remove(&id);
                slot
            }
            (Some(_), None) => None,
        };
        for (reply, want) in waiting {
            match (slot, want) {
                (None, _) => {
                    // A token that died here is gone for that reason.
                    let kind = self.graves.get(&id).copied();
                    let kind = kind.unwrap_or(RenewalErrorKind::NotFound);
                    self.refuse(reply, want, RenewalError::new(kind));
                }
                (Some(slot), Want::Valid) => {
                    let valid = self.valid(slot);
                    self.reply(reply, Reply::Credential(valid));
                }
                (Some(slot), Want::Watch) => {
                    let current = self.watch(slot);
                    self.reply(reply, Reply::Watch(Ok(current)));
                }
                (Some(slot), Want::RenewNow) => self.renew_now(slot, reply),
            }
        }
    }

    /// Compares the tokens held here with the store's versions: a token deleted
    /// there (a logout on another replica) is confirmed by a read and dropped, one
    /// changed there is read and adopted, one added there is read and held.
    fn reconcile(&mut self, result: Result<Vec<(TokenId, u64)>, SharedError>) {
        self.reconciling = false;
        self.next_reconcile_us = self
            .now
            .mono_us
            .saturating_add(micros(self.policy.reconcile_interval()));
        let stored = match result {
            Ok(stored) => stored,
            Err(error) => return self.store_failed(None, true, error),
        };
        let mut seen = vec![false; self.schedule.slot_bound()];
        let mut deleting = std::mem::take(&mut self.deleting);
        for (id, version) in stored {
            // A dead token still stored: kept in mind, not read again.
            if let Some(dead) = deleting.remove(&id).filter(|&dead| dead == version) {
                self.deleting.insert(id, dead);
                continue;
            }
            match self.schedule.slot_of(&id) {
                Some(slot) => {
                    if let Some(flag) = seen.get_mut(slot as usize) {
                        *flag = true;
                    }
                    let differs = self
                        .schedule
                        .entry(slot)
                        .is_some_and(|entry| entry.version != version);
                    if differs {
                        self.read_held(slot);
                    }
                }
                None if !self.loading.contains_key(&id) => {
                    self.loading.insert(id.clone(), Vec::new());
                    self.store_jobs.push_back(Job {
                        tag: Tag::Store,
                        work: Work::Load { id },
                    });
                }
                None => {}
            }
        }
        let unseen: Vec<Slot> = self
            .schedule
            .slots()
            .filter(|&slot| !seen.get(slot as usize).copied().unwrap_or(false))
            .collect();
        for slot in unseen {
            self.read_held(slot);
        }
    }

    /// Reads a held, waiting token from the store to reconcile it.
    fn read_held(&mut self, slot: Slot) {
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        if entry.phase != Phase::Waiting || entry.has(flags::PENDING_WRITE) {
            return;
        }
        let job = Job {
            tag: Tag::Token {
                slot,
                generation: entry.generation,
            },
            work: Work::Load {
                id: entry.id.clone(),
            },
        };
        self.store_jobs.push_back(job);
    }
}
