//! A grow-only set (Shapiro et al. 2011, Specification 11): merge is union. Its own delta is
//! the set of the one element added.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::lattice::Crdt;

/// A grow-only set. Serialises as a JSON array in element order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de> + Ord"))]
pub struct GSet<E> {
    elements: BTreeSet<E>,
}

impl<E> Default for GSet<E> {
    fn default() -> Self {
        Self {
            elements: BTreeSet::new(),
        }
    }
}

impl<E: Ord + Clone> GSet<E> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `element`; returns the delta (empty if it was already there, so a gossiping
    /// node sends nothing for a duplicate).
    pub fn insert(&mut self, element: E) -> Self {
        let mut delta = Self::new();
        if self.elements.insert(element.clone()) {
            delta.elements.insert(element);
        }
        delta
    }

    /// Whether `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.elements.contains(element)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.elements.iter()
    }

    /// The elements as a `BTreeSet`.
    pub fn elements(&self) -> &BTreeSet<E> {
        &self.elements
    }

    /// How many elements there are.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

impl<E: Ord + Clone> Crdt for GSet<E> {
    fn merge(&mut self, other: &Self) {
        // Only clone what is new: merging a state into an up-to-date replica allocates nothing.
        for element in &other.elements {
            if !self.elements.contains(element) {
                self.elements.insert(element.clone());
            }
        }
    }

    fn le(&self, other: &Self) -> bool {
        self.elements.is_subset(&other.elements)
    }
}

impl<E: Ord + Clone> FromIterator<E> for GSet<E> {
    fn from_iter<T: IntoIterator<Item = E>>(iter: T) -> Self {
        Self {
            elements: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_inserts_make_empty_deltas() {
        let mut set = GSet::new();
        assert_eq!(set.insert(3u64).len(), 1);
        assert!(set.insert(3).is_empty());
        let mut other: GSet<u64> = [1, 2].into_iter().collect();
        other.merge(&set);
        assert_eq!(other.iter().copied().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(serde_json::to_string(&other).unwrap(), "[1,2,3]");
    }
}
