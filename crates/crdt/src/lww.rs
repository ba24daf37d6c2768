//! The last-writer-wins register (Shapiro et al. 2011, Specification 8), stamped with hybrid
//! logical clock timestamps (Kulkarni et al. 2014) so that "last" respects causality (a write
//! that saw another gets a larger timestamp) and stays close to physical time.

use lightcone_clock::HlcTimestamp;
use serde::{Deserialize, Serialize};

use crate::lattice::Crdt;

/// One write: the value, its HLC timestamp and the node that wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LwwWrite<V, I = String> {
    /// The value written.
    pub value: V,
    /// When, by the writer's hybrid logical clock.
    pub timestamp: HlcTimestamp,
    /// The writer; breaks ties between equal timestamps of different nodes.
    pub node: I,
}

/// A register holding the write with the largest `(timestamp, node)`.
///
/// Merge is a join only if no two different writes share a `(timestamp, node)`; an HLC hands
/// out strictly increasing timestamps at each node, so writes stamped by
/// [`lightcone_clock::HybridLogicalClock`] never do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LWWRegister<V, I = String> {
    write: Option<LwwWrite<V, I>>,
}

impl<V, I> Default for LWWRegister<V, I> {
    fn default() -> Self {
        Self { write: None }
    }
}

impl<V: Clone, I: Ord + Clone> LWWRegister<V, I> {
    /// A register that was never written.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` stamped `timestamp` by `node` (take the stamp from the node's HLC).
    /// Returns the delta: the write itself, or an empty register when a later write is
    /// already here and this one loses.
    pub fn set(&mut self, value: V, timestamp: HlcTimestamp, node: I) -> Self {
        let delta = Self {
            write: Some(LwwWrite {
                value,
                timestamp,
                node,
            }),
        };
        if delta.le(self) {
            return Self::new();
        }
        self.write.clone_from(&delta.write);
        delta
    }

    /// The current value.
    pub fn get(&self) -> Option<&V> {
        self.write.as_ref().map(|write| &write.value)
    }

    /// The current write with its stamp.
    pub fn write(&self) -> Option<&LwwWrite<V, I>> {
        self.write.as_ref()
    }

    /// The stamp of the current write.
    pub fn timestamp(&self) -> Option<HlcTimestamp> {
        self.write.as_ref().map(|write| write.timestamp)
    }

    fn key(&self) -> Option<(HlcTimestamp, &I)> {
        self.write
            .as_ref()
            .map(|write| (write.timestamp, &write.node))
    }
}

impl<V: Clone, I: Ord + Clone> Crdt for LWWRegister<V, I> {
    fn merge(&mut self, other: &Self) {
        if other.key() > self.key() {
            self.write.clone_from(&other.write);
        }
    }

    fn le(&self, other: &Self) -> bool {
        self.key() <= other.key()
    }
}

#[cfg(test)]
mod tests {
    use lightcone_clock::HybridLogicalClock;

    use super::*;

    #[test]
    fn the_later_hlc_write_wins_even_with_a_slow_clock() {
        let mut n1 = HybridLogicalClock::new(1_000);
        let mut n2 = HybridLogicalClock::new(1_000);
        let mut a = LWWRegister::new();
        let first = a.set("first", n1.now(500).unwrap(), "n1".to_string());
        // n2's physical clock is behind n1's, but it saw the first write: its HLC moves past.
        let stamp = n2.update(first.timestamp().unwrap(), 100).unwrap();
        let mut b = LWWRegister::new();
        b.merge(&first);
        let second = b.set("second", n2.now(100).unwrap(), "n2".to_string());
        assert!(stamp < second.timestamp().unwrap());
        a.merge(&second);
        assert_eq!(a.get(), Some(&"second"));
        // A stale write loses and produces no delta.
        let stale = a.set("stale", HlcTimestamp::new(1, 0), "n3".to_string());
        assert_eq!(stale, LWWRegister::new());
        assert_eq!(a.get(), Some(&"second"));
    }

    #[test]
    fn equal_timestamps_are_ordered_by_node() {
        let t = HlcTimestamp::new(10, 0);
        let mut a = LWWRegister::new();
        a.set(1, t, "n1".to_string());
        let mut b = LWWRegister::new();
        b.set(2, t, "n2".to_string());
        let mut ab = a.clone();
        ab.merge(&b);
        b.merge(&a);
        assert_eq!(ab, b);
        assert_eq!(ab.get(), Some(&2));
    }
}
