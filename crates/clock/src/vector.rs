//! Vector clocks (Fidge 1988; Mattern 1989, "Virtual Time and Global States of Distributed
//! Systems").
//!
//! A vector clock holds, for each node, how many of that node's events are in the causal past.
//! Unlike a Lamport clock it characterises causality exactly: `a` happened before `b` if and
//! only if `VC(a) < VC(b)` (Mattern 1989, Theorem 10), and two events are concurrent exactly
//! when their clocks are incomparable. The price is size: one entry per node that ever ticked.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dot::Dot;

/// How two clocks (and so the events they stamp) relate under happens-before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CausalOrder {
    /// The left clock is strictly in the causal past of the right.
    Before,
    /// The left clock strictly succeeds the right.
    After,
    /// Same clock.
    Equal,
    /// Neither saw the other: concurrent.
    Concurrent,
}

/// A vector clock: a map from node id to the number of that node's events seen.
///
/// Entries at zero are never stored, so two clocks are equal exactly when they are the same
/// function. Serialises as a JSON object such as `{"n1": 3, "n2": 1}` (node ids must therefore
/// serialise as strings or integers).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct VectorClock<I = String> {
    counters: BTreeMap<I, u64>,
}

impl<I> Default for VectorClock<I> {
    fn default() -> Self {
        Self {
            counters: BTreeMap::new(),
        }
    }
}

impl<I: Ord + Clone> VectorClock<I> {
    /// The clock of the initial state: no events.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many of `node`'s events this clock has seen.
    pub fn get(&self, node: &I) -> u64 {
        self.counters.get(node).copied().unwrap_or(0)
    }

    /// Counts one new event at `node` (a local event or a send) and returns its number.
    pub fn increment(&mut self, node: &I) -> u64 {
        let counter = self.counters.entry(node.clone()).or_insert(0);
        *counter += 1;
        *counter
    }

    /// The dot `increment(node)` would make, without making it.
    pub fn next_dot(&self, node: &I) -> Dot<I> {
        Dot::new(node.clone(), self.get(node) + 1)
    }

    /// Raises `node`'s entry to at least `counter`.
    pub fn raise(&mut self, node: &I, counter: u64) {
        if counter == 0 {
            return;
        }
        match self.counters.get_mut(node) {
            Some(current) => *current = (*current).max(counter),
            None => {
                self.counters.insert(node.clone(), counter);
            }
        }
    }

    /// The pointwise maximum: what a receive does before it ticks.
    pub fn merge(&mut self, other: &Self) {
        for (node, &counter) in &other.counters {
            self.raise(node, counter);
        }
    }

    /// Whether the event `dot` is in the history this clock summarises.
    pub fn contains(&self, dot: &Dot<I>) -> bool {
        dot.counter <= self.get(&dot.node)
    }

    /// Compares two clocks under happens-before.
    pub fn compare(&self, other: &Self) -> CausalOrder {
        let mut less = false;
        let mut greater = false;
        for (node, &counter) in &self.counters {
            let theirs = other.get(node);
            less |= counter < theirs;
            greater |= counter > theirs;
        }
        // Entries only `other` has are nonzero, so they make `self` smaller there.
        less |= other
            .counters
            .keys()
            .any(|node| !self.counters.contains_key(node));
        match (less, greater) {
            (false, false) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,
            (false, true) => CausalOrder::After,
            (true, true) => CausalOrder::Concurrent,
        }
    }

    /// `self <= other` pointwise: everything `self` saw, `other` saw too.
    pub fn le(&self, other: &Self) -> bool {
        self.counters
            .iter()
            .all(|(node, &counter)| counter <= other.get(node))
    }

    /// Whether the two clocks are concurrent (incomparable).
    pub fn concurrent(&self, other: &Self) -> bool {
        self.compare(other) == CausalOrder::Concurrent
    }

    /// The nonzero entries in node order.
    pub fn iter(&self) -> impl Iterator<Item = (&I, u64)> + '_ {
        self.counters.iter().map(|(node, &counter)| (node, counter))
    }

    /// How many nodes have a nonzero entry.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Whether the clock has seen no event.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }
}

impl<I: Ord + Clone> PartialOrd for VectorClock<I> {
    /// The causal order; `None` for concurrent clocks.
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.compare(other) {
            CausalOrder::Before => Some(Ordering::Less),
            CausalOrder::After => Some(Ordering::Greater),
            CausalOrder::Equal => Some(Ordering::Equal),
            CausalOrder::Concurrent => None,
        }
    }
}

impl<I: Ord + Clone> FromIterator<(I, u64)> for VectorClock<I> {
    fn from_iter<T: IntoIterator<Item = (I, u64)>>(iter: T) -> Self {
        let mut clock = Self::new();
        for (node, counter) in iter {
            clock.raise(&node, counter);
        }
        clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vc(entries: &[(&str, u64)]) -> VectorClock<String> {
        entries.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    #[test]
    fn compare_covers_the_four_cases() {
        assert_eq!(
            vc(&[("a", 1)]).compare(&vc(&[("a", 1)])),
            CausalOrder::Equal
        );
        assert_eq!(
            vc(&[("a", 1)]).compare(&vc(&[("a", 1), ("b", 1)])),
            CausalOrder::Before
        );
        assert_eq!(
            vc(&[("a", 2), ("b", 1)]).compare(&vc(&[("b", 1)])),
            CausalOrder::After
        );
        assert_eq!(
            vc(&[("a", 1)]).compare(&vc(&[("b", 1)])),
            CausalOrder::Concurrent
        );
        assert!(vc(&[("a", 1)]) < vc(&[("a", 2)]));
        assert_eq!(vc(&[("a", 1)]).partial_cmp(&vc(&[("b", 1)])), None);
    }

    #[test]
    fn zeros_are_not_stored() {
        let mut clock = vc(&[("a", 0)]);
        assert!(clock.is_empty());
        clock.raise(&"b".to_string(), 0);
        assert_eq!(clock, VectorClock::new());
    }

    #[test]
    fn merge_is_pointwise_max() {
        let mut a = vc(&[("a", 3), ("b", 1)]);
        a.merge(&vc(&[("b", 4), ("c", 2)]));
        assert_eq!(a, vc(&[("a", 3), ("b", 4), ("c", 2)]));
        assert_eq!(a.increment(&"c".to_string()), 3);
        assert!(a.contains(&Dot::new("b".to_string(), 4)));
        assert!(!a.contains(&Dot::new("b".to_string(), 5)));
    }

    #[test]
    fn serialises_as_an_object() {
        let clock = vc(&[("n1", 3), ("n2", 1)]);
        let json = serde_json::to_string(&clock).unwrap();
        assert_eq!(json, r#"{"n1":3,"n2":1}"#);
        let back: VectorClock<String> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, clock);
    }
}
