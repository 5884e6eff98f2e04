//! A token's life in the machine: holding it, replacing its credential,
//! publishing and answering, and its end (expired, rejected, removed).

use super::machine::{new_entry, Machine};
use super::messages::{Job, Output, Reply, Stored, Tag, Work};
use super::schedule::{flags, Phase, Slot};
use crate::renewal::error::{RenewalError, RenewalErrorKind, SharedError};
use crate::renewal::events::RenewalEvent;
use crate::renewal::id::TokenId;

/// Dead tokens whose end is remembered after they are dropped.
const MAX_GRAVES: usize = 4096;

impl<C: Clone, W> Machine<C, W> {
    /// Holds a stored token under `id`, unless a newer version is held; `None`
    /// if it has expired (it is not held).
    pub(super) fn hold(&mut self, id: TokenId, token: Stored<C>) -> Option<Slot> {
        if token.fresh.expires_ms <= self.server_ms(self.now) {
            return None;
        }
        // Dead here and being deleted: read back before the delete landed.
        if self.deleting.get(&id) == Some(&token.version) {
            return None;
        }
        self.deleting.remove(&id);
        self.graves.remove(&id);
        if let Some(slot) = self.schedule.slot_of(&id) {
            let newer_held = self
                .schedule
                .entry(slot)
                .is_some_and(|entry| entry.version > token.version);
            if !newer_held {
                self.install(slot, token);
            }
            return Some(slot);
        }
        let due = self.renew_at(&id, &token);
        Some(self.schedule.insert(new_entry(id, token, due)))
    }

    /// Replaces the credential in `slot` (renewed, adopted, logged in again, or
    /// replaced by a new login), schedules its renewal, publishes it and answers
    /// whoever waits. A job in flight for the old credential becomes moot.
    pub(super) fn install(&mut self, slot: Slot, token: Stored<C>) {
        let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) else {
            return;
        };
        let due = self.renew_at(&id, &token);
        if let Some(entry) = self.schedule.entry_mut(slot) {
            entry.credential = token.fresh.credential;
            entry.issued_ms = token.fresh.issued_ms;
            entry.expires_ms = token.fresh.expires_ms;
            entry.version = token.version;
            entry.failures = 0;
            entry.set(
                flags::PENDING_WRITE | flags::LEASE_FAILED | flags::REJECTED | flags::LEASE_HELD,
                false,
            );
        }
        self.last_errors.remove(&slot);
        self.write_attempts.remove(&slot);
        self.schedule.schedule(slot, due);
        self.publish(slot);
        // Copies only for those listening: most tokens have neither a watcher
        // nor a waiter. One already expired (adopted from the store, say) is
        // not handed out: its end answers the waiters.
        if self.waiters.contains_key(&slot) {
            let servable = self.schedule.entry(slot).filter(|e| self.servable(e));
            if let Some(credential) = servable.map(|e| e.credential.clone()) {
                self.answer(slot, &Ok(credential));
            }
        }
    }

    /// Tells a watcher of `slot` its current credential (`None` when it may not
    /// be used).
    pub(super) fn publish(&mut self, slot: Slot) {
        let Some(entry) = self.schedule.entry(slot) else {
            return;
        };
        if !entry.has(flags::WATCHED) {
            return;
        }
        let credential = self.servable(entry).then(|| entry.credential.clone());
        let id = entry.id.clone();
        self.outputs.push_back(Output::Publish { id, credential });
    }

    /// Answers every `renew_now` caller waiting on `slot`.
    pub(super) fn answer(&mut self, slot: Slot, result: &Result<C, RenewalError>) {
        if let Some(waiters) = self.waiters.remove(&slot) {
            for waiter in waiters {
                self.reply(waiter, Reply::Credential(result.clone()));
            }
        }
    }

    /// Why a token that may not be served may not be.
    pub(super) fn dead_kind(&self, slot: Slot) -> RenewalErrorKind {
        match self.schedule.entry(slot) {
            Some(entry)
                if entry.has(flags::REJECTED)
                    && matches!(entry.phase, Phase::LoggingIn | Phase::ReloginWait) =>
            {
                RenewalErrorKind::Rejected
            }
            Some(_) => RenewalErrorKind::Expired,
            None => RenewalErrorKind::NotFound,
        }
    }

    /// The token in `slot` expired or was rejected: it is never served again;
    /// watchers hear `None` and waiters the reason at once. A re-login is queued
    /// when there is a hook; otherwise the token is dropped and deleted from the
    /// store.
    pub(super) fn kill(&mut self, slot: Slot, rejected: bool, error: Option<SharedError>) {
        let Some(entry) = self.schedule.entry_mut(slot) else {
            return;
        };
        entry.set(flags::REJECTED, rejected);
        entry.failures = 0;
        let (id, version) = (entry.id.clone(), entry.version);
        self.schedule.unschedule(slot, Phase::LoggingIn);
        self.publish(slot);
        let kind = if rejected {
            RenewalErrorKind::Rejected
        } else {
            RenewalErrorKind::Expired
        };
        let error = match error {
            Some(source) => RenewalError::with_source(kind, source),
            None => RenewalError::new(kind),
        };
        self.answer(slot, &Err(error.clone()));
        self.last_errors.remove(&slot);
        if rejected {
            self.emit(RenewalEvent::Rejected { id, error });
        } else {
            self.emit(RenewalEvent::Expired { id });
        }
        if self.can_relogin && !self.stopping {
            self.queue_relogin(slot);
        } else {
            self.drop_token(slot, Some(version));
        }
    }

    /// Queues a re-login for a dead token, behind the rate limit.
    pub(super) fn queue_relogin(&mut self, slot: Slot) {
        if let Some(entry) = self.schedule.entry(slot) {
            self.relogins.push_back((slot, entry.generation));
        }
    }

    /// Stops holding the token in `slot`; with `delete`, also deletes that
    /// version from the store.
    pub(super) fn drop_token(&mut self, slot: Slot, delete: Option<u64>) {
        let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) else {
            return;
        };
        if delete.is_some() {
            let kind = self.dead_kind(slot);
            self.bury(id.clone(), kind);
        }
        let watched = self
            .schedule
            .entry(slot)
            .is_some_and(|entry| entry.has(flags::WATCHED));
        self.schedule.remove(&id);
        let gone = RenewalError::new(RenewalErrorKind::NotFound);
        self.answer(slot, &Err(gone));
        self.last_errors.remove(&slot);
        self.write_attempts.remove(&slot);
        if watched {
            self.outputs.push_back(Output::Unwatch { id: id.clone() });
        }
        if let Some(version) = delete {
            self.deleting.insert(id.clone(), version);
            self.store_jobs.push_back(Job {
                tag: Tag::Store,
                work: Work::Delete { id, version },
            });
        }
    }

    /// Remembers why a dead token is gone, for the last [`MAX_GRAVES`] of them.
    fn bury(&mut self, id: TokenId, kind: RenewalErrorKind) {
        if self.graves.insert(id.clone(), kind).is_none() {
            self.grave_order.push_back(id);
        }
        while self.grave_order.len() > MAX_GRAVES {
            if let Some(oldest) = self.grave_order.pop_front() {
                self.graves.remove(&oldest);
            }
        }
    }

    /// The token was deleted from the store (logged out, here or elsewhere).
    pub(super) fn removed(&mut self, slot: Slot) {
        if let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) {
            self.drop_token(slot, None);
            self.emit(RenewalEvent::Removed { id });
        }
    }

    /// Another replica renewed or replaced the token: take the stored version.
    pub(super) fn adopt(&mut self, slot: Slot, token: Stored<C>) {
        let Some(id) = self.schedule.entry(slot).map(|entry| entry.id.clone()) else {
            return;
        };
        let expires_ms = token.fresh.expires_ms;
        self.install(slot, token);
        if expires_ms <= self.server_ms(self.now) {
            self.kill(slot, false, None);
        } else {
            let expires_at = Self::at(expires_ms);
            self.emit(RenewalEvent::AdoptedFromStore { id, expires_at });
        }
    }
}
