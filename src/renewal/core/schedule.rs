//! The engine's bookkeeping for any number of tokens: one slab of entries, one
//! eight-ary heap of deadlines (plus the deadlines loaded at start, sorted once),
//! one index from id to slot. No task or timer per token; a few dozen bytes per
//! token besides the credential itself.

use std::cmp::Reverse;
use std::collections::VecDeque;
use std::hash::BuildHasher;

use dary_heap::OctonaryHeap;
use hashbrown::hash_table::{Entry as TableEntry, HashTable};
use hashbrown::DefaultHashBuilder;

use crate::renewal::id::TokenId;

/// Where a token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for its deadline in the heap.
    Waiting,
    /// Queued by `renew_now`, ahead of scheduled work.
    Queued,
    /// A renewal is running.
    Renewing,
    /// A retried store write is running.
    Writing,
    /// Expired or rejected: never served; a re-login is queued or running.
    LoggingIn,
    /// Expired or rejected: never served; a re-login is due at the deadline.
    ReloginWait,
}

/// Flags on an entry.
pub(crate) mod flags {
    /// Somebody watches the token: publish every change.
    pub(crate) const WATCHED: u8 = 1;
    /// The credential held is newer than the store's: a write is being retried.
    pub(crate) const PENDING_WRITE: u8 = 2;
    /// The store could not grant the last lease.
    pub(crate) const LEASE_FAILED: u8 = 4;
    /// Dead because rejected (else, expired).
    pub(crate) const REJECTED: u8 = 8;
    /// The last attempt found another replica's lease: nothing was sent.
    pub(crate) const LEASE_HELD: u8 = 16;
}

/// One token. Times are server-time milliseconds since the Unix epoch, except
/// `last_attempt_us` (monotonic microseconds since the engine started; 0: never).
pub(crate) struct Entry<C> {
    pub(crate) id: TokenId,
    pub(crate) credential: C,
    pub(crate) issued_ms: i64,
    pub(crate) expires_ms: i64,
    pub(crate) due_ms: i64,
    pub(crate) version: u64,
    pub(crate) last_attempt_us: u64,
    pub(crate) generation: u32,
    pub(crate) failures: u16,
    pub(crate) phase: Phase,
    pub(crate) flags: u8,
}

impl<C> Entry<C> {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub(crate) fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.flags |= flag;
        } else {
            self.flags &= !flag;
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at_ms: i64,
    slot: u32,
    generation: u32,
}

/// Stale deadlines tolerated beyond one per token before the heap is compacted.
const STALE_MARGIN: usize = 1024;

/// A slot index; stable while the token is held.
pub(crate) type Slot = u32;

pub(crate) struct Schedule<C> {
    slots: Vec<Option<Entry<C>>>,
    /// Freed slots, with the generation their last entry reached: a new entry
    /// there starts past it, so a late result for the old one is never taken for it.
    free: Vec<(Slot, u32)>,
    index: HashTable<Slot>,
    hasher: DefaultHashBuilder,
    /// An eight-ary heap: a third of a binary heap's depth, a node's children on
    /// two adjacent cache lines. Popping from a cold 100,000-entry heap costs about
    /// half what a binary heap's pop does, which shows when a backlog drains.
    heap: OctonaryHeap<Reverse<Deadline>>,
    /// Deadlines held in bulk at start, sorted once: a restart's backlog drains
    /// from the front in order, reading memory sequentially instead of sifting a
    /// large heap. Everything scheduled later goes to the heap.
    sorted: VecDeque<Deadline>,
    len: usize,
}

impl<C> Default for Schedule<C> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            heap: OctonaryHeap::new(),
            sorted: VecDeque::new(),
            len: 0,
        }
    }
}

impl<C> Schedule<C> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every slot holding a token.
    pub(crate) fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, entry)| entry.is_some())
            .map(|(slot, _)| slot as Slot)
    }

    /// One past the highest slot in use.
    pub(crate) fn slot_bound(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn slot_of(&self, id: &TokenId) -> Option<Slot> {
        let hash = self.hasher.hash_one(id);
        self.index
            .find(hash, |&slot| {
                self.entry(slot).is_some_and(|entry| &entry.id == id)
            })
            .copied()
    }

    pub(crate) fn entry(&self, slot: Slot) -> Option<&Entry<C>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    pub(crate) fn entry_mut(&mut self, slot: Slot) -> Option<&mut Entry<C>> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Holds `entry`, replacing any entry with the same id, and schedules it at
    /// its `due_ms` unless it is dead.
    pub(crate) fn insert(&mut self, mut entry: Entry<C>) -> Slot {
        let hash = self.hasher.hash_one(&entry.id);
        let slots = &self.slots;
        let found = self.index.entry(
            hash,
            |&slot| {
                slots
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|held| held.id == entry.id)
            },
            |&slot| {
                slots
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .map_or(0, |held| self.hasher.hash_one(&held.id))
            },
        );
        let slot = match found {
            TableEntry::Occupied(occupied) => {
                let slot = *occupied.get();
                if let Some(previous) = self.slots.get(slot as usize).and_then(Option::as_ref) {
                    entry.generation = previous.generation.wrapping_add(1);
                }
                slot
            }
            TableEntry::Vacant(vacant) => {
                let slot = match self.free.pop() {
                    Some((slot, last_generation)) => {
                        entry.generation = last_generation.wrapping_add(1);
                        slot
                    }
                    None => {
                        self.slots.push(None);
                        (self.slots.len() - 1) as Slot
                    }
                };
                vacant.insert(slot);
                self.len += 1;
                slot
            }
        };
        self.compact_if_stale();
        let due =
            matches!(entry.phase, Phase::Waiting | Phase::ReloginWait).then_some(entry.due_ms);
        let generation = entry.generation;
        self.slots[slot as usize] = Some(entry);
        if let Some(at_ms) = due {
            self.heap.push(Reverse(Deadline {
                at_ms,
                slot,
                generation,
            }));
        }
        slot
    }

    /// Forgets a token; its heap deadline goes stale.
    pub(crate) fn remove(&mut self, id: &TokenId) -> Option<(Slot, Entry<C>)> {
        let hash = self.hasher.hash_one(id);
        let slots = &self.slots;
        let found = self
            .index
            .find_entry(hash, |&slot| {
                slots
                    .get(slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|held| &held.id == id)
            })
            .ok()?;
        let (slot, _) = found.remove();
        let entry = self.slots.get_mut(slot as usize)?.take()?;
        self.free.push((slot, entry.generation));
        self.len -= 1;
        Some((slot, entry))
    }

    /// Schedules a held token at `at_ms`, replacing its previous deadline.
    pub(crate) fn schedule(&mut self, slot: Slot, at_ms: i64) {
        self.schedule_as(slot, at_ms, Phase::Waiting);
    }

    /// Schedules a held token at `at_ms` in `phase` (waiting for a renewal, or
    /// for a re-login), replacing its previous deadline.
    pub(crate) fn schedule_as(&mut self, slot: Slot, at_ms: i64, phase: Phase) {
        self.compact_if_stale();
        if let Some(entry) = self.entry_mut(slot) {
            entry.generation = entry.generation.wrapping_add(1);
            entry.due_ms = at_ms;
            entry.phase = phase;
            let generation = entry.generation;
            self.heap.push(Reverse(Deadline {
                at_ms,
                slot,
                generation,
            }));
        }
    }

    /// Takes a token out of the heap without rescheduling it (it is in flight or
    /// dead); its heap deadline goes stale.
    pub(crate) fn unschedule(&mut self, slot: Slot, phase: Phase) {
        if let Some(entry) = self.entry_mut(slot) {
            entry.generation = entry.generation.wrapping_add(1);
            entry.phase = phase;
        }
    }

    /// Whether a deadline is its token's current one.
    fn is_live(&self, deadline: Deadline) -> bool {
        self.entry(deadline.slot).is_some_and(|entry| {
            entry.generation == deadline.generation
                && matches!(entry.phase, Phase::Waiting | Phase::ReloginWait)
        })
    }

    /// Deadlines held, live or stale.
    pub(crate) fn deadlines(&self) -> usize {
        self.heap.len() + self.sorted.len()
    }

    /// Drops stale deadlines once they outnumber the tokens (plus a margin), so
    /// memory follows the live tokens, not the churn: every removal, replacement
    /// and reschedule leaves one behind. Amortised O(1) per deadline pushed.
    fn compact_if_stale(&mut self) {
        if self.deadlines() <= 2 * self.len + STALE_MARGIN {
            return;
        }
        let mut live: Vec<Reverse<Deadline>> = Vec::with_capacity(self.len);
        let sorted = std::mem::take(&mut self.sorted);
        let heap = std::mem::take(&mut self.heap);
        for deadline in sorted
            .into_iter()
            .chain(heap.into_iter().map(|Reverse(d)| d))
        {
            if self.is_live(deadline) {
                live.push(Reverse(deadline));
            }
        }
        self.heap = OctonaryHeap::from(live);
    }

    /// Sorts every deadline held so far into one run, taken from the front: for a
    /// bulk load, after which most deadlines stay put until they are due.
    pub(crate) fn settle(&mut self) {
        let mut all: Vec<Deadline> = self.sorted.drain(..).collect();
        all.extend(self.heap.drain().map(|Reverse(deadline)| deadline));
        all.sort_unstable();
        self.sorted = all.into();
        self.heap = OctonaryHeap::new();
    }

    /// The earliest deadline, live or stale, and whether it is in the sorted run.
    fn earliest(&self) -> Option<(Deadline, bool)> {
        match (self.sorted.front(), self.heap.peek()) {
            (Some(&sorted), Some(&Reverse(heap))) if heap < sorted => Some((heap, false)),
            (Some(&sorted), _) => Some((sorted, true)),
            (None, Some(&Reverse(heap))) => Some((heap, false)),
            (None, None) => None,
        }
    }

    fn pop_earliest(&mut self, from_sorted: bool) {
        if from_sorted {
            self.sorted.pop_front();
            if self.sorted.is_empty() {
                self.sorted = VecDeque::new(); // the backlog's memory goes back
            }
        } else {
            self.heap.pop();
        }
    }

    /// The earliest live deadline, dropping stale ones on the way.
    pub(crate) fn next_due(&mut self) -> Option<(i64, Slot)> {
        while let Some((deadline, from_sorted)) = self.earliest() {
            let live = self.is_live(deadline);
            if live {
                return Some((deadline.at_ms, deadline.slot));
            }
            self.pop_earliest(from_sorted);
        }
        None
    }

    /// Removes the earliest deadline if it is live and not after `now_ms`.
    #[cfg(test)]
    pub(crate) fn pop_due(&mut self, now_ms: i64) -> Option<Slot> {
        let (at_ms, slot) = self.next_due()?;
        if at_ms > now_ms {
            return None;
        }
        let (_, from_sorted) = self.earliest()?;
        self.pop_earliest(from_sorted);
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, due: i64) -> Entry<u8> {
        Entry {
            id: TokenId::new(id),
            credential: 0,
            issued_ms: 0,
            expires_ms: i64::MAX,
            due_ms: due,
            version: 1,
            last_attempt_us: 0,
            generation: 0,
            failures: 0,
            phase: Phase::Waiting,
            flags: 0,
        }
    }

    #[test]
    fn pops_in_deadline_order_and_skips_stale_deadlines() {
        let mut schedule = Schedule::default();
        let a = schedule.insert(entry("a", 30));
        let b = schedule.insert(entry("b", 10));
        let c = schedule.insert(entry("c", 20));
        schedule.schedule(c, 40); // c's deadline at 20 goes stale
        assert_eq!(schedule.pop_due(5), None);
        assert_eq!(schedule.pop_due(100), Some(b));
        assert_eq!(schedule.pop_due(100), Some(a));
        assert_eq!(schedule.pop_due(100), Some(c));
        assert_eq!(schedule.pop_due(100), None);
        assert_eq!(schedule.len(), 3);
    }

    #[test]
    fn replacing_and_removing_keep_the_index_right() {
        let mut schedule = Schedule::default();
        let a = schedule.insert(entry("a", 10));
        let again = schedule.insert(entry("a", 50));
        assert_eq!(a, again);
        assert_eq!(schedule.len(), 1);
        assert_eq!(schedule.pop_due(20), None, "the old deadline is stale");
        assert!(schedule.remove(&TokenId::new("a")).is_some());
        assert_eq!(schedule.slot_of(&TokenId::new("a")), None);
        assert_eq!(schedule.pop_due(100), None);
        let b = schedule.insert(entry("b", 1));
        assert_eq!(b, a, "the slot is reused");
        let generation = |schedule: &Schedule<u8>| schedule.entry(b).map(|e| e.generation);
        assert!(
            generation(&schedule) > Some(1),
            "a reused slot starts past the old generation"
        );
        assert_eq!(schedule.slot_of(&TokenId::new("b")), Some(b));
        schedule.unschedule(b, Phase::Renewing);
        assert_eq!(schedule.pop_due(100), None);
    }

    #[test]
    fn a_settled_backlog_and_the_heap_pop_as_one_schedule() {
        let mut schedule = Schedule::default();
        let loaded: Vec<Slot> = (0..100i64)
            .map(|n| schedule.insert(entry(&format!("t{n}"), (n * 37) % 100 * 2)))
            .collect();
        schedule.settle();
        // Rescheduled and new tokens go to the heap, interleaving with the backlog.
        schedule.schedule(loaded[0], 51);
        let late = schedule.insert(entry("late", 101));
        schedule.unschedule(loaded[1], Phase::Renewing);
        let mut order = Vec::new();
        while let Some(slot) = schedule.pop_due(i64::MAX) {
            order.push(schedule.entry(slot).map_or(-1, |e| e.due_ms));
        }
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "deadline order across both");
        assert_eq!(order.len(), 100, "one stale, one in flight, one added");
        assert!(order.contains(&51) && order.contains(&101));
        assert_eq!(schedule.entry(late).map(|e| e.due_ms), Some(101));
        assert!(
            schedule.sorted.capacity() == 0,
            "the drained backlog is freed"
        );
    }

    #[test]
    fn churn_leaves_no_more_stale_deadlines_than_tokens_plus_a_margin() {
        let mut schedule = Schedule::default();
        for n in 0..1_000i64 {
            schedule.insert(entry(&format!("t{n}"), n));
        }
        for round in 0..50i64 {
            for n in 0..1_000i64 {
                let id = format!("t{n}");
                if n % 10 == 0 {
                    schedule.remove(&TokenId::new(id.as_str()));
                    schedule.insert(entry(&id, round * 1_000 + n));
                } else if let Some(slot) = schedule.slot_of(&TokenId::new(id.as_str())) {
                    schedule.schedule(slot, round * 1_000 + n);
                }
            }
            assert!(
                schedule.deadlines() <= 2 * schedule.len() + STALE_MARGIN + 1,
                "round {round}: {} deadlines for {} tokens",
                schedule.deadlines(),
                schedule.len()
            );
        }
        let mut popped = 0;
        while schedule.pop_due(i64::MAX).is_some() {
            popped += 1;
        }
        assert_eq!(popped, 1_000, "every live token once, no stale one");
    }

    #[test]
    fn many_tokens() {
        let mut schedule = Schedule::default();
        for n in 0..10_000i64 {
            schedule.insert(entry(&format!("t{n}"), (n * 7919) % 10_000));
        }
        let mut last = i64::MIN;
        let mut popped = 0;
        while let Some(slot) = schedule.pop_due(i64::MAX) {
            let due = schedule.entry(slot).map_or(0, |e| e.due_ms);
            assert!(due >= last);
            last = due;
            popped += 1;
        }
        assert_eq!(popped, 10_000);
    }
}
