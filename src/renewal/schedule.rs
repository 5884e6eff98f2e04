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

use super::TokenId;

/// Where a token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for its deadline in the heap.
    Waiting,
    /// A renewal (or re-login) is running.
    InFlight,
    /// Expired or rejected; kept so callers can see it, never scheduled again.
    Dead,
}

/// One token. Times are milliseconds since the Unix epoch, in server time.
pub(crate) struct Entry<C> {
    pub(crate) id: TokenId,
    pub(crate) credential: C,
    pub(crate) issued_at_ms: i64,
    pub(crate) due_at_ms: i64,
    pub(crate) version: u64,
    pub(crate) generation: u32,
    pub(crate) failures: u32,
    /// When the last attempt started: monotonic milliseconds since the engine
    /// started (0: never).
    pub(crate) last_attempt_ms: u64,
    pub(crate) phase: Phase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Deadline {
    at_ms: i64,
    slot: u32,
    generation: u32,
}

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
    /// its `due_at_ms` unless it is dead.
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
        let due = (entry.phase == Phase::Waiting).then_some(entry.due_at_ms);
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
        if let Some(entry) = self.entry_mut(slot) {
            entry.generation = entry.generation.wrapping_add(1);
            entry.due_at_ms = at_ms;
            entry.phase = Phase::Waiting;
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
            let live = self.entry(deadline.slot).is_some_and(|entry| {
                entry.generation == deadline.generation && entry.phase == Phase::Waiting
            });
            if live {
                return Some((deadline.at_ms, deadline.slot));
            }
            self.pop_earliest(from_sorted);
        }
        None
    }

    /// Removes the earliest deadline if it is live and not after `now_ms`.
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
            issued_at_ms: 0,
            due_at_ms: due,
            version: 1,
            generation: 0,
            failures: 0,
            last_attempt_ms: 0,
            phase: Phase::Waiting,
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
        schedule.unschedule(b, Phase::InFlight);
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
        schedule.unschedule(loaded[1], Phase::InFlight);
        let mut order = Vec::new();
        while let Some(slot) = schedule.pop_due(i64::MAX) {
            order.push(schedule.entry(slot).map_or(-1, |e| e.due_at_ms));
        }
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "deadline order across both");
        assert_eq!(order.len(), 100, "one stale, one in flight, one added");
        assert!(order.contains(&51) && order.contains(&101));
        assert_eq!(schedule.entry(late).map(|e| e.due_at_ms), Some(101));
        assert!(
            schedule.sorted.capacity() == 0,
            "the drained backlog is freed"
        );
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
            let due = schedule.entry(slot).map_or(0, |e| e.due_at_ms);
            assert!(due >= last);
            last = due;
            popped += 1;
        }
        assert_eq!(popped, 10_000);
    }
}
