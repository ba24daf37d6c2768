//! Dotted version vectors, the per-value form (Preguiça, Baquero, Almeida, Fonte, Gonçalves
//! 2010, "Dotted Version Vectors: Logical Clocks for Optimistic Replication"; the kernel
//! operations `sync`, `update`, `join` and `values` follow Almeida, Baquero, Gonçalves,
//! Preguiça, Fonte 2014, "Scalable and Accurate Causality Tracking for Eventually Consistent
//! Stores", section 3).
//!
//! A key-value store whose clients write with the context of their last read must keep the
//! writes that were concurrent (siblings) and drop the ones a later write saw. Version vectors
//! with one entry per *client* do this exactly but grow with the clients; one entry per
//! *replica* is small but makes false concurrency or loses writes. A dotted version vector
//! stamps each write with the replica's new event (the dot) apart from the causal past the
//! client saw (a version vector over replicas), which is exact with entries per replica only.

use serde::{Deserialize, Serialize};

use crate::dot::Dot;
use crate::vector::VectorClock;

/// The clock of one write: its own event `dot` and the `context` it was made with.
///
/// The events it stands for are the context's plus the dot; the dot need not be contiguous with
/// the context (there may be a gap at `dot.node` for concurrent writes at the same replica).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct DottedVersionVector<I = String> {
    /// The write's own event.
    pub dot: Dot<I>,
    /// The causal past the writer had seen.
    pub context: VectorClock<I>,
}

impl<I: Ord + Clone> DottedVersionVector<I> {
    /// Whether `dot` is one of the events this clock stands for.
    pub fn contains(&self, dot: &Dot<I>) -> bool {
        self.context.contains(dot) || self.dot == *dot
    }

    /// Whether the write stamped `self` is in the causal past of (or equal to) the write stamped
    /// `other`. A write's context is the past of its dot, so it is enough to ask whether
    /// `other` covers `self`'s dot (Preguiça et al. 2010, section 4).
    pub fn le(&self, other: &Self) -> bool {
        other.contains(&self.dot)
    }

    /// Every event this clock stands for, summarised as a version vector (the dot raises its
    /// node's entry, which is exact once the gap before it is filled, as it is after `join`).
    pub fn to_version_vector(&self) -> VectorClock<I> {
        let mut clock = self.context.clone();
        clock.raise(&self.dot.node, self.dot.counter);
        clock
    }
}

/// The values one key holds at one replica, each with its dotted version vector.
///
/// No clock in the set is below another, so the values are exactly the writes that no kept
/// write saw: the concurrent siblings a client must reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(
    serialize = "V: Serialize, I: Serialize",
    deserialize = "V: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct DvvSiblings<V, I = String> {
    entries: Vec<(DottedVersionVector<I>, V)>,
}

impl<V, I> Default for DvvSiblings<V, I> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<V: Clone, I: Ord + Clone> DvvSiblings<V, I> {
    /// No value yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Merges the siblings of another replica: the union, less every write some other write
    /// saw. Used for anti-entropy between replicas.
    pub fn sync(&mut self, other: &Self) {
        for (clock, value) in &other.entries {
            self.insert(clock.clone(), value.clone());
        }
    }

    /// Keeps `(clock, value)` unless a kept write saw it, and drops the kept writes it saw.
    fn insert(&mut self, clock: DottedVersionVector<I>, value: V) {
        if self.entries.iter().any(|(kept, _)| clock.le(kept)) {
            return;
        }
        self.entries.retain(|(kept, _)| !kept.le(&clock));
        self.entries.push((clock, value));
    }

    /// A client write at replica `node` with the `context` of the client's last read (empty
    /// for a blind write). Makes a new dot at `node`, past every event of `node` this replica
    /// knows, and drops the siblings the context covers. Returns the new write's clock.
    pub fn update(
        &mut self,
        context: &VectorClock<I>,
        node: &I,
        value: V,
    ) -> DottedVersionVector<I> {
        let known = self
            .entries
            .iter()
            .map(|(clock, _)| {
                let own = if clock.dot.node == *node {
                    clock.dot.counter
                } else {
                    0
                };
                own.max(clock.context.get(node))
            })
            .max()
            .unwrap_or(0);
        let counter = known.max(context.get(node)) + 1;
        let clock = DottedVersionVector {
            dot: Dot::new(node.clone(), counter),
            context: context.clone(),
        };
        // The new write sees exactly its context, so it replaces the siblings inside it.
        self.entries
            .retain(|(kept, _)| !context.contains(&kept.dot));
        self.entries.push((clock.clone(), value));
        clock
    }

    /// The context a read returns: every event behind the current siblings. A client sends it
    /// back with its next write so that write replaces what it read.
    pub fn join(&self) -> VectorClock<I> {
        let mut clock = VectorClock::new();
        for (kept, _) in &self.entries {
            clock.merge(&kept.to_version_vector());
        }
        clock
    }

    /// The sibling values, in the order they were kept.
    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.entries.iter().map(|(_, value)| value)
    }

    /// The siblings with their clocks.
    pub fn iter(&self) -> impl Iterator<Item = &(DottedVersionVector<I>, V)> + '_ {
        self.entries.iter()
    }

    /// How many siblings there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the key has no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn blind_writes_are_siblings_and_a_read_write_replaces_them() {
        let mut key: DvvSiblings<&str> = DvvSiblings::new();
        key.update(&VectorClock::new(), &n("r1"), "x");
        key.update(&VectorClock::new(), &n("r1"), "y");
        let mut values: Vec<_> = key.values().copied().collect();
        values.sort();
        assert_eq!(values, ["x", "y"]);
        let context = key.join();
        assert_eq!(context.get(&n("r1")), 2);
        let clock = key.update(&context, &n("r1"), "z");
        assert_eq!(clock.dot, Dot::new(n("r1"), 3));
        assert_eq!(key.values().copied().collect::<Vec<_>>(), ["z"]);
    }

    #[test]
    fn sync_keeps_concurrent_writes_from_two_replicas() {
        let mut a: DvvSiblings<u32> = DvvSiblings::new();
        let mut b: DvvSiblings<u32> = DvvSiblings::new();
        a.update(&VectorClock::new(), &n("a"), 1);
        b.sync(&a);
        let seen = b.join();
        b.update(&seen, &n("b"), 2);
        a.update(&seen, &n("a"), 3);
        a.sync(&b);
        let mut values: Vec<_> = a.values().copied().collect();
        values.sort();
        assert_eq!(values, [2, 3]);
        // Syncing is idempotent and both sides agree.
        b.sync(&a);
        a.sync(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(b.join(), a.join());
    }
}
