//! The compact form of dotted version vectors: DVVSet (Almeida, Baquero, Gonçalves, Preguiça,
//! Fonte 2014, "Scalable and Accurate Causality Tracking for Eventually Consistent Stores",
//! section 5).
//!
//! Instead of one clock per sibling, a DVVSet keeps per replica `r` a counter `n` (the events
//! of `r` known) and the values of the newest of those events that no one has overwritten yet.
//! Events of `r` older than the kept values are known to be overwritten. The whole state has
//! one entry per replica, however many clients write, and the values are exactly the
//! concurrent siblings. This is the form Riak uses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vector::VectorClock;

/// One replica's entry: the number of its events known, and the values of the newest of them
/// still alive, oldest first (so `values[i]` is event `counter - values.len() + 1 + i`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DvvSetEntry<V> {
    /// How many events of this replica are known.
    pub counter: u64,
    /// The values of its newest, not yet overwritten events, oldest first.
    pub values: Vec<V>,
}

impl<V: Clone> DvvSetEntry<V> {
    /// Keeps only the newest `count` values.
    fn keep_newest(&mut self, count: usize) {
        if count < self.values.len() {
            self.values.drain(..self.values.len() - count);
        }
    }

    /// The paper's `merge` of two entries for the same replica: the larger counter wins, and a
    /// value survives only if neither side knows it was overwritten. Event `k` is known
    /// overwritten by a side with `(n, l)` when `k <= n - |l|`.
    fn sync(&mut self, other: &Self) {
        if self.counter >= other.counter {
            let alive_other = other.values.len() as u64 + (self.counter - other.counter);
            self.keep_newest(usize::try_from(alive_other).unwrap_or(usize::MAX));
        } else {
            let alive_self = self.values.len() as u64 + (other.counter - self.counter);
            let mut values = other.values.clone();
            let keep = usize::try_from(alive_self).unwrap_or(usize::MAX);
            if keep < values.len() {
                values.drain(..values.len() - keep);
            }
            self.counter = other.counter;
            self.values = values;
        }
    }
}

/// A DVVSet: the siblings of one key at one replica, with one entry per replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "V: Serialize, I: Serialize",
    deserialize = "V: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct DvvSet<V, I = String> {
    entries: BTreeMap<I, DvvSetEntry<V>>,
}

impl<V, I> Default for DvvSet<V, I> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<V: Clone, I: Ord + Clone> DvvSet<V, I> {
    /// No value yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges another replica's DVVSet (anti-entropy): entry by entry, as in the paper's
    /// `sync`.
    pub fn sync(&mut self, other: &Self) {
        for (node, theirs) in &other.entries {
            match self.entries.get_mut(node) {
                Some(ours) => ours.sync(theirs),
                None => {
                    self.entries.insert(node.clone(), theirs.clone());
                }
            }
        }
    }

    /// Drops the values a client's read `context` covers: the paper's `discard`, which is a
    /// sync with the context seen as a DVVSet without values.
    fn discard(&mut self, context: &VectorClock<I>) {
        for (node, counter) in context.iter() {
            let seen = DvvSetEntry {
                counter,
                values: Vec::new(),
            };
            match self.entries.get_mut(node) {
                Some(ours) => ours.sync(&seen),
                None => {
                    self.entries.insert(node.clone(), seen);
                }
            }
        }
    }

    /// A client write at replica `node` with the `context` of its last read (empty for a blind
    /// write): discard what the context covers, then add the value as `node`'s next event
    /// (the paper's `update` = `event(discard(S, C), r, v)`). Returns the new event's number.
    pub fn update(&mut self, context: &VectorClock<I>, node: &I, value: V) -> u64 {
        self.discard(context);
        let entry = self.entries.entry(node.clone()).or_insert(DvvSetEntry {
            counter: 0,
            values: Vec::new(),
        });
        entry.counter += 1;
        entry.values.push(value);
        entry.counter
    }

    /// The context a read returns: every replica's counter.
    pub fn join(&self) -> VectorClock<I> {
        self.entries
            .iter()
            .map(|(node, entry)| (node.clone(), entry.counter))
            .collect()
    }

    /// The concurrent siblings, by replica and then oldest first.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.values().flat_map(|entry| entry.values.iter())
    }

    /// Per-replica entries.
    pub fn iter(&self) -> impl Iterator<Item = (&I, &DvvSetEntry<V>)> + '_ {
        self.entries.iter()
    }

    /// How many sibling values there are.
    pub fn len(&self) -> usize {
        self.entries.values().map(|entry| entry.values.len()).sum()
    }

    /// Whether there are no sibling values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many replica entries the set keeps: its size bound.
    pub fn replica_count(&self) -> usize {
        self.entries.len()
    }
}

impl<V: Clone + PartialEq, I: Ord + Clone> DvvSet<V, I> {
    /// The lattice order: `self <= other` when syncing `self` into `other` changes nothing.
    pub fn le(&self, other: &Self) -> bool {
        let mut joined = other.clone();
        joined.sync(self);
        joined == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn example_of_figure_3() {
        // Two clients write blindly at r1, a third reads and overwrites both at r2.
        let mut r1: DvvSet<&str> = DvvSet::new();
        r1.update(&VectorClock::new(), &n("r1"), "v1");
        r1.update(&VectorClock::new(), &n("r1"), "v2");
        assert_eq!(r1.values().copied().collect::<Vec<_>>(), ["v1", "v2"]);
        let read = r1.join();
        let mut r2: DvvSet<&str> = DvvSet::new();
        r2.update(&read, &n("r2"), "v3");
        // r2 has not received v1 and v2, but it knows they are overwritten.
        r1.sync(&r2);
        assert_eq!(r1.values().copied().collect::<Vec<_>>(), ["v3"]);
        assert_eq!(r1.replica_count(), 2);
        let mut again = r2.clone();
        again.sync(&r1);
        assert_eq!(again, r1);
        assert!(r2.le(&r1));
    }

    #[test]
    fn a_partial_context_keeps_the_newer_concurrent_write() {
        let mut s: DvvSet<u8> = DvvSet::new();
        s.update(&VectorClock::new(), &n("r"), 1);
        let read = s.join();
        s.update(&VectorClock::new(), &n("r"), 2);
        s.update(&read, &n("r"), 3);
        assert_eq!(s.values().copied().collect::<Vec<_>>(), [2, 3]);
    }
}
