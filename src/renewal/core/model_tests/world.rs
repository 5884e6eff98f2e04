//! The world: the clocks, the shop and store, and the replicas (machines) with
//! what each was asked and handed out; one input into a replica and what comes
//! out of it, and ticks.

use std::collections::{HashMap, HashSet};

use chrono::TimeDelta;

use crate::renewal::core::machine::Machine;
use crate::renewal::core::messages::{Now, Output, Reply};
use crate::renewal::events::RenewalEvent;
use crate::renewal::policy::RenewalPolicy;

use super::flight::{Flight, Stage, LATENCY_US};
use super::inputs::{id_num, token_id, Case, Fault};
use super::sim::{Cred, Shop, Store};

const START_WALL_US: i64 = 1_700_000_000_000_000;
const START_MONO_US: u64 = 1_000_000;

/// What a replica was asked, to check its answer against.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ask {
    Hold { lineage: u32 },
    Credential,
    Watch,
}

/// One machine and what the model knows of it.
pub(super) struct Replica {
    pub(super) m: Machine<Cred, u64>,
    pub(super) flights: Vec<Flight>,
    /// The renewer's estimate of the server clock minus ours, from the last
    /// answer (what the runtime hands `observe_offset`).
    estimate_ms: Option<i64>,
    /// Credentials this replica was told are refused, or rotated away by its
    /// own renewal: never to be served by it again.
    pub(super) dead: HashSet<Cred>,
    /// Logins replaced by a newer login held here.
    pub(super) replaced: HashSet<u32>,
    /// When this replica last sent a renewal mutation for each id.
    pub(super) last_send: HashMap<u8, u64>,
    /// Whether the credential held for an id is still to be renewed or reported.
    armed: HashMap<u8, bool>,
    asks: HashMap<u64, (u8, Ask)>,
}

type Snapshot = Vec<Option<(Cred, u64)>>;

/// The clocks, the shop, the store and the replicas.
pub(super) struct World {
    pub(super) case: Case,
    pub(super) mono_us: u64,
    pub(super) wall_us: i64,
    pub(super) server_us: i64,
    pub(super) shop: Shop,
    pub(super) store: Store,
    pub(super) replicas: Vec<Replica>,
    next_reply: u64,
    /// While time advances: how jobs handed out finish.
    pub(super) advancing: Option<Fault>,
    /// `STOREFRONT_MODEL_TRACE` set: every input and output on stderr.
    pub(super) trace: bool,
}

impl World {
    pub(super) fn new(case: Case) -> Result<Self, String> {
        let policy = RenewalPolicy::default();
        let mut world = Self {
            mono_us: START_MONO_US,
            wall_us: START_WALL_US,
            server_us: START_WALL_US - case.skew_ms * 1_000,
            shop: Shop::new(case.lifetime_ms, case.rotate),
            store: Store::default(),
            replicas: Vec::new(),
            next_reply: 0,
            advancing: None,
            trace: std::env::var_os("STOREFRONT_MODEL_TRACE").is_some(),
            case,
        };
        let mut loaded = Vec::new();
        if let Some(age) = world.case.preload {
            let issued_ms = world.server_ms() - world.case.lifetime_ms * i64::from(age) / 100;
            for id in 0..world.case.ids {
                let (cred, _) = world.shop.login(id, issued_ms);
                world.store.put(id, &cred, issued_ms, None)?;
                loaded.push(id);
            }
        }
        let now = world.now();
        for _ in 0..world.case.replicas {
            let mut m = Machine::new(policy.clone(), world.case.can_relogin, now);
            let tokens = loaded
                .iter()
                .filter_map(|&id| Some((token_id(id), world.store.get(id)?)))
                .collect();
            m.load(now, tokens);
            world.replicas.push(Replica {
                m,
                flights: Vec::new(),
                estimate_ms: None,
                dead: HashSet::new(),
                replaced: HashSet::new(),
                last_send: HashMap::new(),
                armed: loaded.iter().map(|&id| (id, true)).collect(),
                asks: HashMap::new(),
            });
        }
        Ok(world)
    }

    fn now(&self) -> Now {
        Now {
            wall_ms: self.wall_us.div_euclid(1_000),
            mono_us: self.mono_us,
        }
    }

    pub(super) fn server_ms(&self) -> i64 {
        self.server_us.div_euclid(1_000)
    }

    /// The replica's idea of server time (what it serves against).
    pub(super) fn server_estimate(&self, r: usize) -> i64 {
        self.now().wall_ms + self.replicas[r].m.offset_ms()
    }

    pub(super) fn reply_id(&mut self, r: usize, id: u8, ask: Ask) -> u64 {
        self.next_reply += 1;
        self.replicas[r].asks.insert(self.next_reply, (id, ask));
        self.next_reply
    }

    fn snapshot(&self, r: usize) -> Snapshot {
        let m = &self.replicas[r].m;
        (0..self.case.ids)
            .map(|id| {
                let slot = m.schedule.slot_of(&token_id(id))?;
                let entry = m.schedule.entry(slot)?;
                Some((entry.credential.clone(), entry.version))
            })
            .collect()
    }

    /// One input into replica `r`, then what it hands out and says, checked.
    pub(super) fn call(
        &mut self,
        r: usize,
        input: impl FnOnce(&mut Machine<Cred, u64>, Now),
    ) -> Result<(), String> {
        let now = self.now();
        let before = self.snapshot(r);
        input(&mut self.replicas[r].m, now);
        while let Some(job) = self.replicas[r].m.poll_job(now) {
            if self.trace {
                eprintln!("    r{r} -> {job:?}");
            }
            let auto = self
                .advancing
                .map(|fault| (self.mono_us + LATENCY_US, fault));
            self.replicas[r].flights.push(Flight {
                tag: job.tag,
                work: job.work,
                handed_us: self.mono_us,
                stage: Stage::Pending,
                auto,
                slow: false,
            });
        }
        let mut outputs = Vec::new();
        while let Some(output) = self.replicas[r].m.poll_output() {
            outputs.push(output);
        }
        let after = self.snapshot(r);
        for id in 0..self.case.ids {
            if let Some((cred, version)) = &after[usize::from(id)] {
                if before[usize::from(id)].as_ref() != Some(&(cred.clone(), *version)) {
                    self.replicas[r].armed.insert(id, true);
                }
            }
        }
        for output in outputs {
            self.output(r, output)?;
        }
        for id in 0..self.case.ids {
            if after[usize::from(id)].is_none() {
                let replica = &mut self.replicas[r];
                replica.armed.remove(&id);
                replica.last_send.remove(&id);
            }
        }
        self.check_replica(r)
    }

    fn output(&mut self, r: usize, output: Output<Cred, u64>) -> Result<(), String> {
        if self.trace {
            eprintln!("    r{r} <- {output:?}");
        }
        match output {
            Output::Reply(to, reply) => {
                let Some((id, ask)) = self.replicas[r].asks.remove(&to) else {
                    return Err(format!("replica {r}: a reply to nobody ({to}): {reply:?}"));
                };
                match (ask, reply) {
                    (Ask::Hold { lineage }, Reply::Done(Ok(()))) => {
                        // Every older login of this id is replaced here.
                        let older: Vec<u32> = self
                            .shop
                            .strings
                            .values()
                            .filter(|s| s.id == id && s.lineage < lineage)
                            .map(|s| s.lineage)
                            .collect();
                        self.replicas[r].replaced.extend(older);
                    }
                    (Ask::Hold { .. }, Reply::Done(Err(_))) => {}
                    (Ask::Credential, Reply::Credential(Ok(cred)))
                    | (Ask::Watch, Reply::Watch(Ok(Some(cred)))) => {
                        self.served(r, id, &cred, "answered")?;
                    }
                    (Ask::Credential, Reply::Credential(Err(_)))
                    | (Ask::Watch, Reply::Watch(Ok(None) | Err(_))) => {}
                    (ask, reply) => {
                        return Err(format!("replica {r}: {reply:?} answers {ask:?}"));
                    }
                }
            }
            Output::Publish {
                id,
                credential: Some(cred),
            } => self.served(r, id_num(&id), &cred, "published")?,
            Output::Publish { .. } | Output::Unwatch { .. } => {}
            Output::ResetClockOffset => self.replicas[r].estimate_ms = None,
            Output::Event(RenewalEvent::Expired { id } | RenewalEvent::Rejected { id, .. }) => {
                let id = id_num(&id);
                let armed = self.replicas[r].armed.insert(id, false);
                if armed != Some(true) {
                    return Err(format!(
                        "replica {r}: t{id} reported expired or rejected twice"
                    ));
                }
            }
            Output::Event(_) => {}
        }
        Ok(())
    }
    fn tick(&mut self, r: usize) -> Result<(), String> {
        if self.replicas[r].m.is_stopped() {
            return Ok(());
        }
        if self.trace {
            let m = &self.replicas[r].m;
            let entries: Vec<_> = m
                .schedule
                .slots()
                .filter_map(|slot| m.schedule.entry(slot))
                .map(|e| (e.id.clone(), e.phase, e.due_ms, e.expires_ms, e.version))
                .collect();
            eprintln!(
                "  r{r} tick at server {} (est {}): {entries:?} breaker {:?}",
                self.server_ms(),
                self.server_estimate(r),
                m.breaker
            );
        }
        let estimate = self.replicas[r].estimate_ms.map(TimeDelta::milliseconds);
        self.call(r, |m, now| {
            m.observe_offset(estimate);
            m.tick(now);
        })?;
        self.check_reported(r)
    }

    pub(super) fn tick_all(&mut self) -> Result<(), String> {
        for r in 0..self.replicas.len() {
            self.tick(r)?;
        }
        self.check_in_flight()
    }

    /// The shop answered replica `r`: its renewer now knows the server clock.
    pub(super) fn shop_answered(&mut self, r: usize) {
        self.replicas[r].estimate_ms = Some(self.server_ms() - self.now().wall_ms);
    }

    /// The renewer's `issued_at` for a fresh credential: its server time.
    pub(super) fn issued_ms(&self, r: usize) -> i64 {
        self.server_estimate(r)
    }
}
