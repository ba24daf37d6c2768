//! Counters: the grow-only G-Counter and the PN-Counter (Shapiro et al. 2011, Specifications
//! 6 and 7), as delta-state CRDTs (Almeida, Shoker, Baquero 2018, section 4.1: the delta of an
//! increment is the one entry it changed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::lattice::Crdt;

/// A grow-only counter: one count per node, the value is their sum, merge is the pointwise
/// maximum. Each node only ever increments its own entry, which is what makes the maximum
/// the right join. Serialises as a JSON object `{"n1": 3, "n2": 5}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct GCounter<I = String> {
    counts: BTreeMap<I, u64>,
}

impl<I> Default for GCounter<I> {
    fn default() -> Self {
        Self {
            counts: BTreeMap::new(),
        }
    }
}

impl<I: Ord + Clone> GCounter<I> {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` at `node` and returns the delta: `node`'s new entry alone. Panics if `node`'s
    /// entry would pass `u64::MAX`, which no realistic counter reaches.
    pub fn increment(&mut self, node: &I, n: u64) -> Self {
        if n == 0 {
            return Self::new();
        }
        let count = self.counts.entry(node.clone()).or_insert(0);
        *count = count
            .checked_add(n)
            .expect("a G-Counter entry overflowed u64");
        let mut delta = Self::new();
        delta.counts.insert(node.clone(), *count);
        delta
    }

    /// The counter's value: the sum of all entries (saturating at `u64::MAX`).
    pub fn value(&self) -> u64 {
        self.counts
            .values()
            .fold(0u64, |sum, &count| sum.saturating_add(count))
    }

    /// `node`'s own entry.
    pub fn get(&self, node: &I) -> u64 {
        self.counts.get(node).copied().unwrap_or(0)
    }

    /// The entries in node order.
    pub fn iter(&self) -> impl Iterator<Item = (&I, u64)> + '_ {
        self.counts.iter().map(|(node, &count)| (node, count))
    }
}

impl<I: Ord + Clone> Crdt for GCounter<I> {
    fn merge(&mut self, other: &Self) {
        for (node, &count) in &other.counts {
            let mine = self.counts.entry(node.clone()).or_insert(0);
            *mine = (*mine).max(count);
        }
    }

    fn le(&self, other: &Self) -> bool {
        self.counts
            .iter()
            .all(|(node, &count)| count <= other.get(node))
    }
}

/// A counter that goes up and down: two G-Counters, one for increments and one for
/// decrements; the value is their difference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct PNCounter<I = String> {
    increments: GCounter<I>,
    decrements: GCounter<I>,
}

impl<I> Default for PNCounter<I> {
    fn default() -> Self {
        Self {
            increments: GCounter::default(),
            decrements: GCounter::default(),
        }
    }
}

impl<I: Ord + Clone> PNCounter<I> {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` at `node`; returns the delta.
    pub fn increment(&mut self, node: &I, n: u64) -> Self {
        Self {
            increments: self.increments.increment(node, n),
            decrements: GCounter::new(),
        }
    }

    /// Subtracts `n` at `node`; returns the delta.
    pub fn decrement(&mut self, node: &I, n: u64) -> Self {
        Self {
            increments: GCounter::new(),
            decrements: self.decrements.increment(node, n),
        }
    }

    /// Adds a signed `amount` at `node` (what Maelstrom's pn-counter `add` carries); returns
    /// the delta.
    pub fn add(&mut self, node: &I, amount: i64) -> Self {
        if amount >= 0 {
            self.increment(node, amount.unsigned_abs())
        } else {
            self.decrement(node, amount.unsigned_abs())
        }
    }

    /// Increments minus decrements, clamped to the range of `i64`.
    pub fn value(&self) -> i64 {
        let value = i128::from(self.increments.value()) - i128::from(self.decrements.value());
        value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    /// The increments, per node.
    pub fn increments(&self) -> &GCounter<I> {
        &self.increments
    }

    /// The decrements, per node.
    pub fn decrements(&self) -> &GCounter<I> {
        &self.decrements
    }
}

impl<I: Ord + Clone> Crdt for PNCounter<I> {
    fn merge(&mut self, other: &Self) {
        self.increments.merge(&other.increments);
        self.decrements.merge(&other.decrements);
    }

    fn le(&self, other: &Self) -> bool {
        self.increments.le(&other.increments) && self.decrements.le(&other.decrements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn increments_from_two_nodes_add_up() {
        let mut a = GCounter::new();
        let mut b = GCounter::new();
        let delta = a.increment(&n("a"), 3);
        assert_eq!(delta.value(), 3);
        b.increment(&n("b"), 4);
        b.merge(&delta);
        b.merge(&delta);
        assert_eq!(b.value(), 7);
        assert!(a.le(&b));
        assert!(!b.le(&a));
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"a":3,"b":4}"#);
    }

    #[test]
    fn pn_counter_goes_down() {
        let mut a = PNCounter::new();
        a.add(&n("a"), 5);
        let delta = a.add(&n("a"), -7);
        assert_eq!(a.value(), -2);
        let mut b = PNCounter::new();
        b.merge(&delta);
        assert_eq!(b.value(), -7);
        b.merge(&a);
        assert_eq!(b.value(), -2);
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(json, r#"{"increments":{"a":5},"decrements":{"a":7}}"#);
        assert_eq!(serde_json::from_str::<PNCounter>(&json).unwrap(), b);
    }

    #[test]
    fn value_clamps_instead_of_wrapping() {
        let mut c = PNCounter::new();
        c.increment(&n("a"), u64::MAX);
        assert_eq!(c.value(), i64::MAX);
    }
}
