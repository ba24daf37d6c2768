//! The two-phase set (Shapiro et al. 2011, Specification 12): a G-Set of added elements and a
//! G-Set of removed ones (tombstones). An element can be added and then removed once; a removed
//! element never comes back. Kept for comparison with the OR-Set, which has neither limit.

use std::fmt::Debug;

use serde::{Deserialize, Serialize};

use crate::error::CrdtError;
use crate::gset::GSet;
use crate::lattice::Crdt;

/// A two-phase set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de> + Ord"))]
pub struct TwoPSet<E> {
    added: GSet<E>,
    removed: GSet<E>,
}

impl<E> Default for TwoPSet<E> {
    fn default() -> Self {
        Self {
            added: GSet::default(),
            removed: GSet::default(),
        }
    }
}

impl<E: Ord + Clone + Debug> TwoPSet<E> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `element`; returns the delta. Refuses an element that was removed before.
    pub fn insert(&mut self, element: E) -> Result<Self, CrdtError> {
        if self.removed.contains(&element) {
            return Err(CrdtError::ReAddAfterRemove {
                element: format!("{element:?}"),
            });
        }
        Ok(Self {
            added: self.added.insert(element),
            removed: GSet::new(),
        })
    }

    /// Removes `element` for good; returns the delta. Removing an element this replica has not
    /// seen added still records the tombstone, so a concurrent add of it loses (the
    /// specification's precondition `lookup(e)` is relaxed so that deltas stay total).
    pub fn remove(&mut self, element: E) -> Self {
        Self {
            added: GSet::new(),
            removed: self.removed.insert(element),
        }
    }

    /// Whether `element` was added and not removed.
    pub fn contains(&self, element: &E) -> bool {
        self.added.contains(element) && !self.removed.contains(element)
    }

    /// The present elements, in order.
    pub fn iter(&self) -> impl Iterator<Item = &E> + '_ {
        self.added
            .iter()
            .filter(move |element| !self.removed.contains(element))
    }

    /// How many elements are present.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether no element is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<E: Ord + Clone> Crdt for TwoPSet<E> {
    fn merge(&mut self, other: &Self) {
        self.added.merge(&other.added);
        self.removed.merge(&other.removed);
    }

    fn le(&self, other: &Self) -> bool {
        self.added.le(&other.added) && self.removed.le(&other.removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_wins_forever() {
        let mut a = TwoPSet::new();
        a.insert("x").unwrap();
        let mut b = a.clone();
        let removal = b.remove("x");
        a.merge(&removal);
        assert!(!a.contains(&"x"));
        let error = a.insert("x").unwrap_err();
        assert_eq!(
            error.to_string(),
            "element \"x\" was removed from this 2P-set and can never be added again; \
             use an OR-Set if elements must come back"
        );
        assert!(a.is_empty());
    }
}
