//! One action of a run applied to the world, and time advancing as the
//! runtime's driver advances it.

use crate::renewal::core::breaker::micros;
use crate::renewal::core::messages::{Command, Fresh, Put, Stored};
use crate::renewal::policy::RenewalPolicy;

use super::flight::LATENCY_US;
use super::inputs::{token_id, Action, Fault};
use super::world::{Ask, World};

/// Sub-steps of one advance, at most: more means the machine asks to be woken
/// again and again without anything changing.
const MAX_SUBSTEPS: usize = 20_000;

/// The driver's heartbeat (µs).
fn heartbeat_us() -> u64 {
    micros(RenewalPolicy::default().heartbeat())
}

impl World {
    fn advance(&mut self, ms: u32, fault: Fault) -> Result<(), String> {
        let target = self.mono_us + u64::from(ms) * 1_000;
        self.advancing = Some(fault);
        for replica in &mut self.replicas {
            for flight in &mut replica.flights {
                if !flight.slow && flight.auto.is_none() {
                    flight.auto = Some((self.mono_us + LATENCY_US, fault));
                }
            }
        }
        let mut steps = 0;
        loop {
            self.finish_due()?;
            self.tick_all()?;
            if self.mono_us >= target {
                break;
            }
            let mut next = target;
            for replica in &mut self.replicas {
                if replica.m.is_stopped() {
                    continue;
                }
                // As the driver: the core's deadline, a heartbeat at most.
                let at = replica.m.poll_timeout().unwrap_or(u64::MAX);
                next = next.min(
                    at.min(self.mono_us + heartbeat_us())
                        .max(self.mono_us + 1_000),
                );
                for flight in &replica.flights {
                    let at = flight.auto.map_or(u64::MAX, |(at, _)| at);
                    next = next.min(at.min(flight.timeout_at()).max(self.mono_us + 1));
                }
            }
            steps += 1;
            if steps > MAX_SUBSTEPS {
                self.advancing = None;
                return Err("the machines ask to be woken again and again".into());
            }
            let step = next - self.mono_us;
            self.mono_us = next;
            self.wall_us += step as i64;
            self.server_us += step as i64;
        }
        self.advancing = None;
        Ok(())
    }

    pub(super) fn step(&mut self, action: &Action) -> Result<(), String> {
        let replicas = self.case.replicas;
        let pick_r = |r: u8| usize::from(r % replicas);
        let ids = self.case.ids;
        let pick_id = |id: u8| id % ids;
        match *action {
            Action::Add { r, id } => {
                let (r, id) = (pick_r(r), pick_id(id));
                let server_ms = self.server_ms();
                let (cred, lineage) = self.shop.login(id, server_ms);
                let issued_ms = self.issued_ms(r);
                let Put::Stored { version } = self.store_put(id, &cred, issued_ms, None)? else {
                    return Err("a new login was not written".into());
                };
                let token = Stored {
                    fresh: Fresh {
                        expires_ms: cred.exp,
                        credential: cred,
                        issued_ms,
                    },
                    version,
                };
                let reply = self.reply_id(r, id, Ask::Hold { lineage });
                self.call(r, |m, now| {
                    m.command(
                        now,
                        Command::Hold {
                            token,
                            id: token_id(id),
                            reply,
                        },
                    );
                })?;
            }
            Action::Remove { r, id } => {
                let (r, id) = (pick_r(r), pick_id(id));
                // As the handle: the store first, then the engine forgets.
                self.store.delete(id, None);
                // A logout: the shop refuses the login's strings from now on.
                for string in self.shop.strings.values_mut() {
                    if string.id == id {
                        string.live = false;
                    }
                }
                self.call(r, |m, now| {
                    m.command(now, Command::Forget { id: token_id(id) })
                })?;
            }
            Action::RenewNow { r, id } | Action::Valid { r, id } | Action::Watch { r, id } => {
                let (r, id) = (pick_r(r), pick_id(id));
                let ask = if matches!(action, Action::Watch { .. }) {
                    Ask::Watch
                } else {
                    Ask::Credential
                };
                let reply = self.reply_id(r, id, ask);
                let id = token_id(id);
                let command = match action {
                    Action::RenewNow { .. } => Command::RenewNow { id, reply },
                    Action::Valid { .. } => Command::Valid { id, reply },
                    _ => Command::Watch { id, reply },
                };
                self.call(r, |m, now| m.command(now, command))?;
            }
            Action::Advance { ms, fault } => self.advance(ms, fault)?,
            Action::Jump { suspend, ms } => {
                let jump = i64::from(ms) * 1_000;
                if suspend {
                    self.wall_us += jump.abs();
                    self.server_us += jump.abs();
                } else {
                    self.wall_us += jump;
                }
                self.tick_all()?;
            }
            Action::Complete { pick, fault } => {
                let total: usize = self.replicas.iter().map(|r| r.flights.len()).sum();
                if total > 0 {
                    let mut index = usize::from(pick) % total;
                    for r in 0..self.replicas.len() {
                        let len = self.replicas[r].flights.len();
                        if index < len {
                            self.finish(r, index, Some(fault))?;
                            break;
                        }
                        index -= len;
                    }
                }
            }
            Action::Unwatched { r, id } => {
                let (r, id) = (pick_r(r), pick_id(id));
                self.call(r, |m, now| {
                    m.command(now, Command::Unwatched { id: token_id(id) })
                })?;
            }
            Action::Shutdown { r } => {
                let r = pick_r(r);
                self.call(r, |m, now| m.command(now, Command::Shutdown))?;
            }
        }
        self.check_in_flight()
    }
}
