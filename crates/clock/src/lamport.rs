//! Lamport clocks (Lamport 1978, "Time, Clocks, and the Ordering of Events in a Distributed
//! System").
//!
//! A Lamport clock is one integer. It is consistent with causality (if `a` happened before `b`
//! then `L(a) < L(b)`) but the converse fails: `L(a) < L(b)` says nothing about whether `a`
//! could have influenced `b`, so a Lamport clock cannot detect concurrency. Ties are broken by
//! node id to get the total order of section 3 of the paper.

use serde::{Deserialize, Serialize};

/// A Lamport logical clock: one counter per process.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct LamportClock {
    time: u64,
}

impl LamportClock {
    /// A clock at zero: no event has happened yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the last event this clock stamped.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// Rule IR1: a local event or a send. Returns the event's timestamp, which the sender puts
    /// on its message.
    pub fn tick(&mut self) -> u64 {
        self.time += 1;
        self.time
    }

    /// Rule IR2: a receive of a message stamped `remote`. The receive event is later than both
    /// the previous local event and the send, so it gets `max(local, remote) + 1`.
    pub fn observe(&mut self, remote: u64) -> u64 {
        self.time = self.time.max(remote) + 1;
        self.time
    }

    /// The last event's time paired with `node`, ordered totally (ties broken by node id).
    pub fn stamp<I>(&self, node: I) -> LamportTimestamp<I> {
        LamportTimestamp {
            time: self.time,
            node,
        }
    }
}

/// A Lamport time with the node that produced it. The derived order compares `time` first and
/// then `node`, so it is the total order "=>" of Lamport 1978, section 3.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LamportTimestamp<I = String> {
    /// The Lamport time.
    pub time: u64,
    /// The node that stamped it: the tie-breaker.
    pub node: I,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_jumps_past_the_sender() {
        let mut a = LamportClock::new();
        let mut b = LamportClock::new();
        assert_eq!(a.tick(), 1);
        assert_eq!(a.tick(), 2);
        let sent = a.tick();
        assert_eq!(b.observe(sent), 4);
        assert_eq!(b.tick(), 5);
        // A receive of an old message still moves time forward.
        assert_eq!(b.observe(1), 6);
    }

    #[test]
    fn timestamps_break_ties_by_node() {
        let clock = LamportClock { time: 3 };
        assert!(clock.stamp("n1") < clock.stamp("n2"));
        assert!(LamportClock { time: 2 }.stamp("n9") < clock.stamp("n1"));
    }

    #[test]
    fn serialises_as_a_number() {
        let clock = LamportClock { time: 7 };
        assert_eq!(serde_json::to_string(&clock).unwrap(), "7");
        let back: LamportClock = serde_json::from_str("7").unwrap();
        assert_eq!(back, clock);
    }
}
