//! The invariants (see the module's docs), checked after every step.

use std::collections::HashSet;

use crate::renewal::core::messages::Work;
use crate::renewal::core::schedule::Phase;

use super::flight::{Flight, Stage};
use super::inputs::id_num;
use super::sim::Cred;
use super::world::World;

/// An expiry may be reported this late (the timer's resolution).
const REPORT_SLACK_MS: i64 = 1_000;

impl World {
    /// Invariant 3 for a credential replica `r` hands out for `id`.
    pub(super) fn served(&self, r: usize, id: u8, cred: &Cred, how: &str) -> Result<(), String> {
        let replica = &self.replicas[r];
        let server = self.server_estimate(r);
        if cred.exp <= server {
            return Err(format!(
                "replica {r} {how} an expired credential for t{id}: {cred:?} at {server}"
            ));
        }
        if replica.dead.contains(cred) {
            return Err(format!(
                "replica {r} {how} a refused or superseded credential for t{id}: {cred:?}"
            ));
        }
        if replica.replaced.contains(&self.shop.lineage(cred.s)) {
            return Err(format!(
                "replica {r} {how} a credential of a replaced login for t{id}: {cred:?}"
            ));
        }
        match self.shop.strings.get(&cred.s) {
            Some(string) if string.id == id => Ok(()),
            _ => Err(format!(
                "replica {r} {how} another token's credential as t{id}"
            )),
        }
    }

    /// Invariants 4, 5 and (expiries reported) 6 for replica `r`.
    pub(super) fn check_replica(&self, r: usize) -> Result<(), String> {
        let m = &self.replicas[r].m;
        let ids = usize::from(self.case.ids);
        let held = m.schedule.len();
        let occupied: HashSet<u32> = m.schedule.slots().collect();
        if held > ids || occupied.len() != held {
            return Err(format!("replica {r} holds {held} tokens of {ids} ids"));
        }
        if m.schedule.deadlines() > 2 * held + 1024 + 2 {
            return Err(format!(
                "replica {r}: {} deadlines for {held} tokens",
                m.schedule.deadlines()
            ));
        }
        let leaked = |name: &str, slots: &mut dyn Iterator<Item = u32>| {
            let stale: Vec<u32> = slots.filter(|slot| !occupied.contains(slot)).collect();
            if stale.is_empty() {
                Ok(())
            } else {
                Err(format!("replica {r}: {name} keeps freed slots {stale:?}"))
            }
        };
        leaked("waiters", &mut m.waiters.keys().copied())?;
        leaked("last_errors", &mut m.last_errors.keys().copied())?;
        leaked("write_attempts", &mut m.write_attempts.keys().copied())?;
        let bound = 4 * ids + 16;
        for (name, len) in [
            ("loading", m.loading.len()),
            ("deleting", m.deleting.len()),
            ("urgent", m.urgent.len()),
            ("relogins", m.relogins.len()),
            ("store_jobs", m.store_jobs.len()),
            ("writes", m.writes.len()),
            ("in_flight", m.in_flight),
        ] {
            if len > bound {
                return Err(format!("replica {r}: {name} holds {len}"));
            }
        }
        if m.in_flight != self.replicas[r].flights.len() {
            return Err(format!(
                "replica {r}: {} in flight, {} handed out",
                m.in_flight,
                self.replicas[r].flights.len()
            ));
        }
        for slot in &occupied {
            let Some(entry) = m.schedule.entry(*slot) else {
                continue;
            };
            let id = id_num(&entry.id);
            let issued = self.store.issued.get(&id);
            if !issued.is_some_and(|versions| versions.contains(&entry.version)) {
                return Err(format!(
                    "replica {r} holds t{id} at version {}, never stored for it",
                    entry.version
                ));
            }
        }
        Ok(())
    }

    /// Invariant 6, after a tick: nothing alive and waiting has outlived its
    /// expiry unreported.
    pub(super) fn check_reported(&self, r: usize) -> Result<(), String> {
        let m = &self.replicas[r].m;
        let server = self.server_estimate(r);
        // A token due for a start (held back by the rate limit, the pool or the
        // breaker's probe) stops the tick's walk of the deadlines: expiries
        // behind it are settled as starts go out, by design.
        let startable = m
            .schedule
            .slots()
            .filter_map(|slot| m.schedule.entry(slot))
            .any(|e| e.phase == Phase::Waiting && e.due_ms <= server && e.expires_ms > server);
        for slot in m.schedule.slots() {
            let Some(entry) = m.schedule.entry(slot) else {
                continue;
            };
            let waiting = match entry.phase {
                Phase::Waiting => !startable,
                // Shutting down answers the queued requests and starts none:
                // their tokens stay queued, never served, until the end.
                Phase::Queued => !m.is_stopping(),
                _ => false,
            };
            if waiting && entry.expires_ms + REPORT_SLACK_MS <= server {
                return Err(format!(
                    "replica {r}: {:?} expired at {} and is still {:?} at {server}, unreported",
                    entry.id, entry.expires_ms, entry.phase
                ));
            }
        }
        Ok(())
    }

    /// Invariant 2: leased renewal mutations in flight, per token and login.
    pub(super) fn check_in_flight(&self) -> Result<(), String> {
        let mut seen = HashSet::new();
        for replica in &self.replicas {
            for flight in &replica.flights {
                if let (
                    Work::Renew { id, .. },
                    Stage::Sent {
                        leased: true,
                        lineage,
                        ..
                    },
                ) = (&flight.work, flight.stage)
                {
                    if !seen.insert((id_num(id), lineage)) {
                        return Err(format!(
                            "two leased renewal mutations in flight for {id:?} (login {lineage})"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
    /// Invariant 2 for a mutation about to go out.
    pub(super) fn check_in_flight_with(&mut self, flight: &Flight) -> Result<(), String> {
        let Stage::Sent {
            leased: true,
            lineage,
            ..
        } = flight.stage
        else {
            return Ok(());
        };
        let Work::Renew { id, .. } = &flight.work else {
            return Ok(());
        };
        for replica in &self.replicas {
            for other in &replica.flights {
                if let (
                    Work::Renew { id: other_id, .. },
                    Stage::Sent {
                        leased: true,
                        lineage: other_lineage,
                        ..
                    },
                ) = (&other.work, other.stage)
                {
                    if other_id == id && other_lineage == lineage {
                        return Err(format!(
                            "a second leased renewal mutation of {id:?} (login {lineage}) went out"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
