//! Jobs run as the runtime's workers run them (lease → renew → put; a refused
//! renewal re-reads the store), finished with a fault or by timing out.

use std::sync::Arc;
use std::time::Duration;

use crate::renewal::core::breaker::micros;
use crate::renewal::core::messages::{Fresh, Outcome, Put, Work};
use crate::renewal::credential::FailureClass;
use crate::renewal::error::{Message, SharedError};
use crate::renewal::policy::RenewalPolicy;

use super::flight::{Flight, Stage};
use super::inputs::{id_num, token_id, Fault};
use super::sim::{Cred, Lease};
use super::world::World;

/// The policy's gap between attempts (µs).
fn gap_us() -> u64 {
    micros(RenewalPolicy::default().min_retry_gap())
}

fn error(message: &'static str) -> SharedError {
    Arc::new(Message(message))
}

impl World {
    /// A write to the store. Whoever writes releases any lease on the token (the
    /// protocol): a renewal in flight under a lease so released is no longer
    /// protected by it, and is not counted by invariant 2. (A login elsewhere
    /// can release a renewal's lease that way; a retried write takes the lease
    /// first, as the worker does, and cannot.)
    pub(super) fn store_put(
        &mut self,
        id: u8,
        cred: &Cred,
        issued_ms: i64,
        expected: Option<u64>,
    ) -> Result<Put<Cred>, String> {
        let put = self.store.put(id, cred, issued_ms, expected)?;
        if matches!(put, Put::Stored { .. }) {
            self.unprotect(id);
        }
        Ok(put)
    }

    /// A login elsewhere writes a new token under `id` (nobody here is told).
    fn login_elsewhere(&mut self, id: u8) -> Result<(), String> {
        let server_ms = self.server_ms();
        let (cred, _) = self.shop.login(id, server_ms);
        self.store_put(id, &cred, server_ms, None).map(|_| ())
    }

    fn put(
        &mut self,
        id: u8,
        cred: &Cred,
        issued_ms: i64,
        version: u64,
        fault: Fault,
    ) -> Result<Put<Cred>, String> {
        match fault {
            Fault::PutFail => Ok(Put::Failed(error("store write failed"))),
            Fault::Conflict => {
                self.login_elsewhere(id)?;
                self.store_put(id, cred, issued_ms, Some(version))
            }
            _ => self.store_put(id, cred, issued_ms, Some(version)),
        }
    }

    /// Runs flight `flight` of replica `r` as a worker would, with `fault`:
    /// its outcome, or the flight back if it stays in flight.
    #[allow(clippy::too_many_lines)]
    fn run(
        &mut self,
        r: usize,
        mut flight: Flight,
        fault: Fault,
    ) -> Result<Result<Outcome<Cred>, Flight>, String> {
        let store_down = matches!(fault, Fault::PutFail | Fault::LeaseFail);
        let outcome = match &flight.work {
            Work::Renew {
                id,
                credential,
                version,
                lease,
            } => {
                let (id, credential, version, lease) =
                    (id_num(id), credential.clone(), *version, *lease);
                if flight.stage == Stage::Pending {
                    if lease {
                        if fault == Fault::LeaseFail {
                            return Ok(Ok(Outcome::LeaseFailed {
                                error: error("store lease failed"),
                            }));
                        }
                        match self.store.try_lease(id, r, version, self.mono_us) {
                            Lease::Acquired => {}
                            Lease::Held(remaining) => {
                                return Ok(Ok(Outcome::LeaseHeld {
                                    remaining: Duration::from_micros(remaining),
                                }))
                            }
                            Lease::Changed(current) => return Ok(Ok(Outcome::Adopt(current))),
                            Lease::Missing => return Ok(Ok(Outcome::Missing)),
                        }
                    }
                    // Invariant 1: the gap since this replica's last mutation.
                    let sent_us = flight.handed_us;
                    if let Some(&last) = self.replicas[r].last_send.get(&id) {
                        if sent_us < last + gap_us() {
                            return Err(format!(
                                "replica {r} sent a renewal of t{id} {} ms after the previous one",
                                (sent_us - last) / 1_000
                            ));
                        }
                    }
                    self.replicas[r].last_send.insert(id, sent_us);
                    flight.stage = Stage::Sent {
                        leased: lease,
                        lineage: self.shop.lineage(credential.s),
                        at_us: self.mono_us,
                    };
                    self.check_in_flight_with(&flight)?;
                }
                if fault == Fault::Slow {
                    flight.slow = true;
                    flight.auto = None;
                    return Ok(Err(flight));
                }
                let server_ms = self.server_ms();
                let renewed = match fault {
                    Fault::Reject => {
                        if let Some(string) = self.shop.strings.get_mut(&credential.s) {
                            string.live = false;
                        }
                        None
                    }
                    Fault::Transient(retry_after) => {
                        self.shop_answered(r);
                        self.release(id, r, lease, version);
                        return Ok(Ok(Outcome::Failed {
                            class: FailureClass::Transient {
                                retry_after: retry_after.map(|s| Duration::from_secs(u64::from(s))),
                            },
                            error: error("transient"),
                        }));
                    }
                    Fault::Shop => {
                        self.shop_answered(r);
                        self.release(id, r, lease, version);
                        return Ok(Ok(Outcome::Failed {
                            class: FailureClass::Shop,
                            error: error("shop"),
                        }));
                    }
                    _ => self.shop.renew(&credential, server_ms),
                };
                self.shop_answered(r);
                match renewed {
                    Some(fresh) => {
                        let issued_ms = self.issued_ms(r);
                        if fresh.exp <= issued_ms {
                            self.release(id, r, lease, version);
                            return Ok(Ok(Outcome::Failed {
                                class: FailureClass::Transient { retry_after: None },
                                error: error("expiry not in the future"),
                            }));
                        }
                        if fresh.s != credential.s {
                            self.replicas[r].dead.insert(credential.clone());
                        }
                        let put = self.put(id, &fresh, issued_ms, version, fault)?;
                        Outcome::Renewed {
                            fresh: Fresh {
                                expires_ms: fresh.exp,
                                credential: fresh,
                                issued_ms,
                            },
                            put,
                        }
                    }
                    None => match self.store.get(id) {
                        Some(current) if current.version != version => {
                            self.release(id, r, lease, version);
                            Outcome::Adopt(current)
                        }
                        None => Outcome::Missing,
                        Some(_) => {
                            self.release(id, r, lease, version);
                            self.replicas[r].dead.insert(credential.clone());
                            Outcome::Failed {
                                class: FailureClass::Token,
                                error: error("refused"),
                            }
                        }
                    },
                }
            }
            Work::Relogin { id, version } => {
                let (id, version) = (id_num(id), *version);
                match fault {
                    Fault::Slow => {
                        flight.slow = true;
                        flight.auto = None;
                        return Ok(Err(flight));
                    }
                    Fault::Reject | Fault::Shop => Outcome::NoLogin {
                        retry: false,
                        error: Some(error("no login")),
                    },
                    Fault::Transient(_) => Outcome::NoLogin {
                        retry: true,
                        error: Some(error("no login for now")),
                    },
                    Fault::Ok | Fault::Conflict | Fault::PutFail | Fault::LeaseFail => {
                        self.shop_answered(r);
                        let server_ms = self.server_ms();
                        let (cred, _) = self.shop.login(id, server_ms);
                        let issued_ms = self.issued_ms(r);
                        if cred.exp <= issued_ms {
                            Outcome::NoLogin {
                                retry: false,
                                error: Some(error("expired login")),
                            }
                        } else {
                            let put = self.put(id, &cred, issued_ms, version, fault)?;
                            Outcome::LoggedIn {
                                fresh: Fresh {
                                    expires_ms: cred.exp,
                                    credential: cred,
                                    issued_ms,
                                },
                                put,
                            }
                        }
                    }
                }
            }
            _ if fault == Fault::Slow => {
                flight.slow = true;
                flight.auto = None;
                return Ok(Err(flight));
            }
            Work::Write { id, fresh, version } => {
                let (id, cred, issued_ms, version) = (
                    id_num(id),
                    fresh.credential.clone(),
                    fresh.issued_ms,
                    *version,
                );
                // Under the lease, as the worker retries a write.
                if fault == Fault::LeaseFail {
                    Outcome::Written(Put::Failed(error("store lease failed")))
                } else {
                    match self.store.try_lease(id, r, version, self.mono_us) {
                        Lease::Acquired => {
                            let put = self.put(id, &cred, issued_ms, version, fault)?;
                            if matches!(put, Put::Failed(_)) {
                                self.release(id, r, true, version);
                            }
                            Outcome::Written(put)
                        }
                        Lease::Held(_) => Outcome::Written(Put::Failed(error("lease held"))),
                        Lease::Changed(current) => Outcome::Written(Put::Conflict(current)),
                        Lease::Missing => Outcome::Written(Put::Missing),
                    }
                }
            }
            Work::Load { id } => Outcome::Loaded {
                id: id.clone(),
                result: if store_down {
                    Err(error("store read failed"))
                } else {
                    Ok(self.store.get(id_num(id)))
                },
            },
            Work::Delete { id, version } => {
                if store_down {
                    Outcome::Deleted(Some(error("store delete failed")))
                } else {
                    self.store.delete(id_num(id), Some(*version));
                    Outcome::Deleted(None)
                }
            }
            Work::Reconcile => Outcome::Versions(if store_down {
                Err(error("store versions failed"))
            } else {
                Ok(self
                    .store
                    .entries
                    .iter()
                    .map(|(&id, entry)| (token_id(id), entry.version))
                    .collect())
            }),
        };
        Ok(Ok(outcome))
    }

    fn release(&mut self, id: u8, r: usize, lease: bool, version: u64) {
        if lease {
            self.store.release(id, r, version);
        }
    }

    /// Renewals of `id` in flight lose their lease (a write released it).
    fn unprotect(&mut self, id: u8) {
        for replica in &mut self.replicas {
            for flight in &mut replica.flights {
                if let (Work::Renew { id: renewing, .. }, Stage::Sent { leased, .. }) =
                    (&flight.work, &mut flight.stage)
                {
                    if id_num(renewing) == id {
                        *leased = false;
                    }
                }
            }
        }
    }
    /// What a flight that timed out comes to (the worker's timeouts).
    fn timed_out(&mut self, r: usize, flight: &Flight) -> Outcome<Cred> {
        let timeout = || error("timed out");
        match (&flight.work, flight.stage) {
            (
                Work::Renew {
                    id, lease, version, ..
                },
                Stage::Sent { .. },
            ) => {
                self.release(id_num(id), r, *lease, *version);
                Outcome::Failed {
                    class: FailureClass::Transient { retry_after: None },
                    error: timeout(),
                }
            }
            (Work::Renew { lease: true, .. }, Stage::Pending) => {
                Outcome::LeaseFailed { error: timeout() }
            }
            (Work::Renew { .. }, Stage::Pending) => Outcome::Failed {
                class: FailureClass::Transient { retry_after: None },
                error: timeout(),
            },
            (Work::Relogin { .. }, _) => Outcome::NoLogin {
                retry: true,
                error: Some(timeout()),
            },
            (Work::Write { .. }, _) => Outcome::Written(Put::Failed(timeout())),
            (Work::Load { id }, _) => Outcome::Loaded {
                id: id.clone(),
                result: Err(timeout()),
            },
            (Work::Delete { .. }, _) => Outcome::Deleted(Some(timeout())),
            (Work::Reconcile, _) => Outcome::Versions(Err(timeout())),
        }
    }

    /// Finishes flight `index` of replica `r` with `fault` (or by timing out).
    pub(super) fn finish(
        &mut self,
        r: usize,
        index: usize,
        fault: Option<Fault>,
    ) -> Result<(), String> {
        let flight = self.replicas[r].flights.remove(index);
        let tag = flight.tag;
        if self.trace {
            eprintln!("  r{r} finishes {:?} ({fault:?})", flight.work);
        }
        let outcome = match fault {
            Some(fault) => match self.run(r, flight, fault)? {
                Ok(outcome) => outcome,
                Err(flight) => {
                    self.replicas[r].flights.insert(index, flight);
                    return self.check_in_flight();
                }
            },
            None => self.timed_out(r, &flight),
        };
        if self.trace {
            eprintln!("  r{r} outcome {outcome:?}");
        }
        self.call(r, |m, now| m.outcome(now, tag, outcome))?;
        self.check_in_flight()
    }

    /// Finishes every flight due by now (by itself, or timed out), earliest first.
    pub(super) fn finish_due(&mut self) -> Result<(), String> {
        loop {
            let mut due: Option<(u64, usize, usize, Option<Fault>)> = None;
            for (r, replica) in self.replicas.iter().enumerate() {
                for (index, flight) in replica.flights.iter().enumerate() {
                    let timeout = flight.timeout_at();
                    let (at, fault) = match flight.auto {
                        Some((at, fault)) if at < timeout => (at, Some(fault)),
                        _ => (timeout, None),
                    };
                    if at <= self.mono_us && due.is_none_or(|(best, ..)| at < best) {
                        due = Some((at, r, index, fault));
                    }
                }
            }
            let Some((_, r, index, fault)) = due else {
                return Ok(());
            };
            self.finish(r, index, fault)?;
        }
    }
}
