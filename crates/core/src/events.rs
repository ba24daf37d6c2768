use std::cmp::Reverse;
use std::collections::BinaryHeap;

use lightcone_proto::Envelope;

/// Something the core has promised to do at a time.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A node-to-node (or service-to-node) message arrives; it was due at
    /// `due_ns`, which may be before the event's time (see
    /// `Test::receive`).
    Arrive { msg: Envelope, due_ns: u64 },
    /// A node's request arrives at a service.
    ServiceArrive(Envelope),
    /// A worker's request `msg_id` runs out of time.
    ClientTimeout { worker: usize, msg_id: u64 },
    /// The generator may hand out its next operation.
    Generate,
    /// The nemesis acts.
    Nemesis,
    /// The flag flip at this index of the nemesis config's `flags` is due.
    Flag(usize),
    /// Nodes that have not answered init (or setup) by now fail the test.
    StartupTimeout,
    /// The time limit of the main phase.
    MainEnd,
    /// Recovery is over: run the final reads.
    RecoveryEnd,
    /// A worker's staggered final operation is due.
    FinalOp { worker: usize },
}

/// A handle to a scheduled event: its slot, and the sequence number that
/// tells it from later events in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventKey {
    slot: u32,
    seq: u64,
}

/// An event in its slot, or a free slot.
#[derive(Debug)]
struct Slot {
    seq: u64,
    event: Option<Event>,
}

/// Events ordered by (time, insertion order): deterministic, no ties.
///
/// A binary heap of `(time, seq, slot)` orders them; the events themselves
/// (an `Arrive` holds a whole message) stay put in `slots` from push to pop,
/// so the heap moves 24-byte entries rather than messages. Cancelling frees
/// the slot at once and leaves the heap entry behind, stale: its slot no
/// longer holds its `seq`. The top of the heap is never stale (cancel and
/// pop clear stale entries off it). Stale entries are at most the cancelled
/// events not yet due (client timeouts of answered requests).
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Events scheduled and not yet popped or cancelled.
    live: usize,
    next_seq: u64,
    pub depth_max: usize,
    /// The time of the last event popped: they come out in time order.
    popped_at: u64,
}

impl EventQueue {
    /// Schedules `event` at `at`; the returned key cancels it.
    pub fn push(&mut self, at: u64, event: Event) -> EventKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let filled = Slot {
            seq,
            event: Some(event),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = filled;
                slot
            }
            None => {
                self.slots.push(filled);
                u32::try_from(self.slots.len() - 1).expect("under 2^32 pending events")
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
        self.live += 1;
        self.depth_max = self.depth_max.max(self.live);
        EventKey { slot, seq }
    }

    /// Removes a scheduled event; false if it already happened.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        let slot = &mut self.slots[key.slot as usize];
        if slot.seq != key.seq || slot.event.is_none() {
            return false;
        }
        slot.event = None;
        self.free.push(key.slot);
        self.live -= 1;
        self.skip_stale();
        true
    }

    /// Drops cancelled entries from the top of the heap.
    fn skip_stale(&mut self) {
        while let Some(&Reverse((_, seq, slot))) = self.heap.peek() {
            let s = &self.slots[slot as usize];
            if s.seq == seq && s.event.is_some() {
                return;
            }
            self.heap.pop();
        }
    }

    pub fn next_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// The earliest event due at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Event)> {
        let &Reverse((t, _, slot)) = self.heap.peek()?;
        if t > now {
            return None;
        }
        self.heap.pop();
        debug_assert!(t >= self.popped_at, "events come out in time order");
        self.popped_at = t;
        let event = self.slots[slot as usize]
            .event
            .take()
            .expect("the top of the heap is never stale");
        self.free.push(slot);
        self.live -= 1;
        self.skip_stale();
        Some((t, event))
    }

    pub fn len(&self) -> usize {
        self.live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeout(msg_id: u64) -> Event {
        Event::ClientTimeout { worker: 0, msg_id }
    }

    fn id(event: Event) -> u64 {
        match event {
            Event::ClientTimeout { msg_id, .. } => msg_id,
            other => panic!("not a timeout: {other:?}"),
        }
    }

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::default();
        q.push(20, timeout(1));
        q.push(10, timeout(2));
        q.push(20, timeout(3));
        q.push(10, timeout(4));
        assert_eq!(q.next_time(), Some(10));
        assert!(q.pop_due(9).is_none());
        let popped: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop_due(20))
            .map(|(t, e)| (t, id(e)))
            .collect();
        assert_eq!(popped, [(10, 2), (10, 4), (20, 1), (20, 3)]);
        assert_eq!(q.len(), 0);
        assert_eq!(q.depth_max, 4);
    }

    #[test]
    fn a_cancelled_event_never_pops_even_when_its_slot_is_reused() {
        let mut q = EventQueue::default();
        let a = q.push(10, timeout(1));
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "cancelling twice");
        assert_eq!(q.len(), 0);
        // The freed slot takes a new event, later than the stale entry.
        let b = q.push(30, timeout(2));
        assert!(!q.cancel(a), "the old key does not cancel the new event");
        q.push(20, timeout(3));
        assert_eq!(q.next_time(), Some(20));
        assert_eq!(q.pop_due(100).map(|(t, e)| (t, id(e))), Some((20, 3)));
        assert_eq!(q.pop_due(100).map(|(t, e)| (t, id(e))), Some((30, 2)));
        assert!(q.pop_due(100).is_none());
        assert!(!q.cancel(b), "already popped");
        assert_eq!(q.len(), 0);
    }
}
