use std::collections::BTreeMap;

use lightcone_proto::Envelope;

/// Something the core has promised to do at a time.
#[derive(Debug, Clone)]
pub(crate) enum Event {
    /// A node-to-node (or service-to-node) message arrives.
    Arrive(Envelope),
    /// A node's request arrives at a service.
    ServiceArrive(Envelope),
    /// A worker's request `msg_id` runs out of time.
    ClientTimeout { worker: usize, msg_id: u64 },
    /// The generator may hand out its next operation.
    Generate,
    /// The nemesis acts.
    Nemesis,
    /// Nodes that have not answered init (or setup) by now fail the test.
    StartupTimeout,
    /// The time limit of the main phase.
    MainEnd,
    /// Recovery is over: run the final reads.
    RecoveryEnd,
}

/// A handle to a scheduled event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventKey((u64, u64));

/// Events ordered by (time, insertion order): deterministic, no ties.
#[derive(Debug, Default)]
pub(crate) struct EventQueue {
    events: BTreeMap<(u64, u64), Event>,
    next_seq: u64,
    pub depth_max: usize,
}

impl EventQueue {
    /// Schedules `event` at `at`; the returned key cancels it.
    pub fn push(&mut self, at: u64, event: Event) -> EventKey {
        let key = (at, self.next_seq);
        self.events.insert(key, event);
        self.next_seq += 1;
        self.depth_max = self.depth_max.max(self.events.len());
        EventKey(key)
    }

    /// Removes a scheduled event; false if it already happened.
    pub fn cancel(&mut self, key: EventKey) -> bool {
        self.events.remove(&key.0).is_some()
    }

    pub fn next_time(&self) -> Option<u64> {
        self.events.keys().next().map(|(t, _)| *t)
    }

    /// The earliest event due at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, Event)> {
        let (&(t, _), _) = self.events.iter().next()?;
        if t > now {
            return None;
        }
        self.events.pop_first().map(|((t, _), e)| (t, e))
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }
}
