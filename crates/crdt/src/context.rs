//! Causal contexts: the set of dots a replica has seen (Almeida, Shoker, Baquero 2018, section
//! 6.1), stored compactly as a version vector plus the dots not yet contiguous with it (the
//! "dot cloud").
//!
//! A delta carries only the few dots it concerns, with gaps before them, so a context must hold
//! non-contiguous dots; once the gaps fill, `compact` folds them into the vector. A full state
//! merged by anti-entropy has no gaps, so in steady state the context is one counter per
//! replica and removals leave no tombstones behind.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_clock::{Dot, VectorClock};
use serde::{Deserialize, Serialize};

/// A set of dots: all of `clock`, plus the `cloud`.
///
/// Invariant (keeps equality structural): every cloud counter of a node is above that node's
/// clock entry plus one, and no cloud set is empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct CausalContext<I = String> {
    clock: VectorClock<I>,
    cloud: BTreeMap<I, BTreeSet<u64>>,
}

impl<I> Default for CausalContext<I> {
    fn default() -> Self {
        Self {
            clock: VectorClock::default(),
            cloud: BTreeMap::new(),
        }
    }
}

impl<I: Ord + Clone> CausalContext<I> {
    /// No dots.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `dot` was seen.
    pub fn contains(&self, dot: &Dot<I>) -> bool {
        self.clock.contains(dot)
            || self
                .cloud
                .get(&dot.node)
                .is_some_and(|counters| counters.contains(&dot.counter))
    }

    /// A fresh dot for `node`: one past the largest of its dots seen. A replica only makes dots
    /// with its own id, so this never repeats one it made.
    pub fn next_dot(&self, node: &I) -> Dot<I> {
        let in_cloud = self
            .cloud
            .get(node)
            .and_then(|counters| counters.last().copied())
            .unwrap_or(0);
        Dot::new(node.clone(), self.clock.get(node).max(in_cloud) + 1)
    }

    /// Adds one dot.
    pub fn insert(&mut self, dot: Dot<I>) {
        if self.clock.contains(&dot) {
            return;
        }
        let node = dot.node.clone();
        self.cloud.entry(dot.node).or_default().insert(dot.counter);
        self.compact(&node);
    }

    /// Adds every dot of `other`.
    pub fn merge(&mut self, other: &Self) {
        self.clock.merge(&other.clock);
        for (node, counters) in &other.cloud {
            let mine = self.cloud.entry(node.clone()).or_default();
            mine.extend(counters.iter().copied());
        }
        let nodes: Vec<I> = self.cloud.keys().cloned().collect();
        for node in &nodes {
            self.compact(node);
        }
    }

    /// Folds `node`'s cloud dots that are now contiguous with its clock entry into the clock.
    fn compact(&mut self, node: &I) {
        let Some(counters) = self.cloud.get_mut(node) else {
            return;
        };
        let mut top = self.clock.get(node);
        // Dots at or below the clock are already counted; the next one extends it.
        while let Some(&lowest) = counters.first() {
            if lowest <= top + 1 {
                top = top.max(lowest);
                counters.pop_first();
            } else {
                break;
            }
        }
        if counters.is_empty() {
            self.cloud.remove(node);
        }
        self.clock.raise(node, top);
    }

    /// Whether every dot of `self` is in `other`.
    pub fn le(&self, other: &Self) -> bool {
        // In compact form `other` lacks the dot after its clock entry, so it covers `self`'s
        // contiguous part only if its clock does.
        self.clock.le(&other.clock)
            && self.cloud.iter().all(|(node, counters)| {
                counters
                    .iter()
                    .all(|&counter| other.contains(&Dot::new(node.clone(), counter)))
            })
    }

    /// The contiguous part.
    pub fn clock(&self) -> &VectorClock<I> {
        &self.clock
    }

    /// How many dots lie outside the contiguous part.
    pub fn cloud_len(&self) -> usize {
        self.cloud.values().map(BTreeSet::len).sum()
    }

    /// Whether the context holds no dot.
    pub fn is_empty(&self) -> bool {
        self.clock.is_empty() && self.cloud.is_empty()
    }
}

impl<I: Ord + Clone> FromIterator<Dot<I>> for CausalContext<I> {
    fn from_iter<T: IntoIterator<Item = Dot<I>>>(iter: T) -> Self {
        let mut context = Self::new();
        for dot in iter {
            context.insert(dot);
        }
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(node: &str, counter: u64) -> Dot<String> {
        Dot::new(node.to_string(), counter)
    }

    #[test]
    fn gaps_fill_and_compact() {
        let mut context: CausalContext = [dot("a", 1), dot("a", 3), dot("b", 2)]
            .into_iter()
            .collect();
        assert_eq!(context.clock().get(&"a".to_string()), 1);
        assert_eq!(context.cloud_len(), 2);
        assert!(context.contains(&dot("a", 3)));
        assert!(!context.contains(&dot("a", 2)));
        assert_eq!(context.next_dot(&"a".to_string()), dot("a", 4));
        context.insert(dot("a", 2));
        assert_eq!(context.clock().get(&"a".to_string()), 3);
        let other: CausalContext = [dot("b", 1)].into_iter().collect();
        context.merge(&other);
        assert_eq!(context.cloud_len(), 0);
        assert_eq!(context.clock().get(&"b".to_string()), 2);
        assert!(other.le(&context));
        assert!(!context.le(&other));
    }

    #[test]
    fn serialises_as_clock_and_cloud() {
        let context: CausalContext = [dot("a", 1), dot("a", 3)].into_iter().collect();
        let json = serde_json::to_string(&context).unwrap();
        assert_eq!(json, r#"{"clock":{"a":1},"cloud":{"a":[3]}}"#);
        assert_eq!(
            serde_json::from_str::<CausalContext>(&json).unwrap(),
            context
        );
    }
}
