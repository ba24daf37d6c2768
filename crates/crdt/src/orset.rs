//! The add-wins observed-remove set without tombstones (Bieniusa, Zawirski, Preguiça, Shapiro,
//! Baquero, Balegas, Duarte 2012, "An optimized conflict-free replicated set"; as a
//! delta-state CRDT, Almeida, Shoker, Baquero 2018, section 7.1, "Add-wins set").
//!
//! Each add makes a fresh dot and tags the element with it; a remove drops the element's dots,
//! which stay in the causal context. On merge an element survives if it has a dot the other
//! side never saw, so a remove only cancels the adds it observed and a concurrent add wins.
//! The context compacts into one counter per replica, so a removal costs nothing forever.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::causal::{Causal, CausalCrdt};
use crate::context::CausalContext;
use crate::dot_store::{DotMap, DotSet, DotStore};
use crate::lattice::Crdt;

/// An add-wins OR-Set of elements `E`, replicated between nodes `I`. Every mutator returns its
/// delta, itself an `ORSet` to gossip and `merge`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "E: Serialize, I: Serialize",
    deserialize = "E: Deserialize<'de> + Ord, I: Deserialize<'de> + Ord"
))]
pub struct ORSet<E, I = String> {
    causal: Causal<DotMap<E, DotSet<I>>, I>,
}

impl<E, I> Default for ORSet<E, I> {
    fn default() -> Self {
        Self {
            causal: Causal {
                store: DotMap::default(),
                context: CausalContext::default(),
            },
        }
    }
}

impl<E: Ord + Clone, I: Ord + Clone> ORSet<E, I> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `element` at replica `node` and returns the delta: the element with a fresh dot,
    /// and a context of that dot and the element's older dots (which the new dot replaces).
    pub fn add(&mut self, node: &I, element: E) -> Self {
        let dot = self.causal.context.next_dot(node);
        let mut context = self
            .causal
            .store
            .get(&element)
            .map(DotStore::dots)
            .unwrap_or_default();
        context.insert(dot.clone());
        // Apply locally what merging the delta would do, without scanning every element.
        self.causal
            .store
            .insert(element.clone(), DotSet::single(dot.clone()));
        self.causal.context.insert(dot.clone());
        Self {
            causal: Causal {
                store: DotMap::single(element, DotSet::single(dot)),
                context,
            },
        }
    }

    /// Removes `element` and returns the delta: no element, and a context of the dots
    /// removed. Removing an absent element is a no-op with an empty delta.
    pub fn remove(&mut self, element: &E) -> Self {
        match self.causal.store.remove(element) {
            Some(dots) => Self {
                causal: Causal {
                    store: DotMap::default(),
                    context: dots.dots(),
                },
            },
            None => Self::new(),
        }
    }

    /// Removes every element this replica has seen; returns the delta.
    pub fn clear(&mut self) -> Self {
        let context = self.causal.store.dots();
        self.causal.store = DotMap::default();
        Self {
            causal: Causal {
                store: DotMap::default(),
                context,
            },
        }
    }

    /// Whether `element` is in the set.
    pub fn contains(&self, element: &E) -> bool {
        self.causal.store.contains_key(element)
    }

    /// The elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.causal.store.keys()
    }

    /// The elements, collected.
    pub fn elements(&self) -> BTreeSet<E> {
        self.iter().cloned().collect()
    }

    /// How many elements there are.
    pub fn len(&self) -> usize {
        self.causal.store.len()
    }

    /// Whether the set is empty. A delta that only removes is empty in this sense but not
    /// bottom; use [`ORSet::is_bottom`] to decide whether there is anything to send.
    pub fn is_empty(&self) -> bool {
        self.causal.store.is_empty()
    }

    /// Whether this is the bottom state (no element, no context): nothing to gossip.
    pub fn is_bottom(&self) -> bool {
        self.causal.store.is_empty() && self.causal.context.is_empty()
    }

    /// The causal context: every add this replica has seen.
    pub fn context(&self) -> &CausalContext<I> {
        &self.causal.context
    }

    /// The dots that support `element`.
    pub fn dots(&self, element: &E) -> Option<&DotSet<I>> {
        self.causal.store.get(element)
    }
}

impl<E: Ord + Clone, I: Ord + Clone> Crdt for ORSet<E, I> {
    fn merge(&mut self, other: &Self) {
        self.causal.merge(&other.causal);
    }

    fn le(&self, other: &Self) -> bool {
        self.causal.le(&other.causal)
    }
}

impl<E: Ord + Clone, I: Ord + Clone> CausalCrdt<I> for ORSet<E, I> {
    crate::causal::causal_field!(DotMap<E, DotSet<I>>);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn a_concurrent_add_wins_over_a_remove() {
        let mut a: ORSet<u64> = ORSet::new();
        a.add(&n("a"), 1);
        let mut b = a.clone();
        let removal = b.remove(&1);
        let re_add = a.add(&n("a"), 1);
        a.merge(&removal);
        b.merge(&re_add);
        assert!(a.contains(&1));
        assert_eq!(a, b);
    }

    #[test]
    fn an_observed_remove_sticks_and_leaves_no_tombstone() {
        let mut a: ORSet<u64> = ORSet::new();
        let mut b: ORSet<u64> = ORSet::new();
        for element in 0..10 {
            b.merge(&a.add(&n("a"), element));
        }
        let removal = b.remove(&3);
        a.merge(&removal);
        a.merge(&b);
        assert!(!a.contains(&3));
        assert_eq!(a.len(), 9);
        // The context is one counter, not a record per removed element.
        assert_eq!(a.context().cloud_len(), 0);
        assert_eq!(a.context().clock().len(), 1);
        // And a later add brings the element back.
        a.add(&n("a"), 3);
        assert!(a.contains(&3));
    }

    #[test]
    fn deltas_serialise_to_json_and_back() {
        let mut set: ORSet<u64> = ORSet::new();
        let delta = set.add(&n("n1"), 7);
        let json = serde_json::to_string(&delta).unwrap();
        assert_eq!(
            json,
            r#"{"store":[[7,[{"node":"n1","counter":1}]]],"context":{"clock":{"n1":1},"cloud":{}}}"#
        );
        let back: ORSet<u64> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, delta);
        assert!(set.remove(&8).is_bottom());
    }
}
