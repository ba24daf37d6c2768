//! The multi-value register (Shapiro et al. 2011, Specification 10; as a causal CRDT over a
//! dot function, Almeida, Shoker, Baquero 2018, section 7.3).
//!
//! Each write is tagged with a fresh dot and overwrites the values whose dots it has seen.
//! Concurrent writes survive side by side as siblings. Each sibling's dot together with the
//! shared causal context is its dotted version vector (Preguiça et al. 2010), so the register
//! is bounded by the number of replicas, not of clients.

use serde::{Deserialize, Serialize};

use crate::causal::{Causal, CausalCrdt};
use crate::context::CausalContext;
use crate::dot_store::{DotFun, DotStore};
use crate::lattice::Crdt;

/// A multi-value register of values `V` replicated between nodes `I`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "V: Serialize, I: Serialize",
    deserialize = "V: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct MVRegister<V, I = String> {
    causal: Causal<DotFun<V, I>, I>,
}

impl<V, I> Default for MVRegister<V, I> {
    fn default() -> Self {
        Self {
            causal: Causal {
                store: DotFun::default(),
                context: CausalContext::default(),
            },
        }
    }
}

impl<V: Clone + PartialEq, I: Ord + Clone> MVRegister<V, I> {
    /// A register never written.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `value` at replica `node`, overwriting every sibling seen here; returns the
    /// delta (the new value under its dot, with a context of the dots it overwrites).
    pub fn write(&mut self, node: &I, value: V) -> Self {
        let dot = self.causal.context.next_dot(node);
        let mut context = self.causal.store.dots();
        context.insert(dot.clone());
        self.causal.store = DotFun::single(dot.clone(), value.clone());
        self.causal.context.insert(dot.clone());
        Self {
            causal: Causal {
                store: DotFun::single(dot, value),
                context,
            },
        }
    }

    /// Empties the register (the values seen here); returns the delta.
    pub fn clear(&mut self) -> Self {
        let context = self.causal.store.dots();
        self.causal.store = DotFun::default();
        Self {
            causal: Causal {
                store: DotFun::default(),
                context,
            },
        }
    }

    /// The siblings: one value per concurrent write, in dot order.
    pub fn values(&self) -> Vec<&V> {
        self.causal.store.iter().map(|(_, value)| value).collect()
    }

    /// The siblings with the dots that name their writes.
    pub fn siblings(&self) -> &DotFun<V, I> {
        &self.causal.store
    }

    /// The causal context: every write seen.
    pub fn context(&self) -> &CausalContext<I> {
        &self.causal.context
    }
}

impl<V: Clone + PartialEq, I: Ord + Clone> Crdt for MVRegister<V, I> {
    fn merge(&mut self, other: &Self) {
        self.causal.merge(&other.causal);
    }

    fn le(&self, other: &Self) -> bool {
        self.causal.le(&other.causal)
    }
}

impl<V: Clone + PartialEq, I: Ord + Clone> CausalCrdt<I> for MVRegister<V, I> {
    crate::causal::causal_field!(DotFun<V, I>);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn concurrent_writes_are_siblings_until_overwritten() {
        let mut a = MVRegister::new();
        let mut b = MVRegister::new();
        let from_a = a.write(&n("a"), "x");
        let from_b = b.write(&n("b"), "y");
        a.merge(&from_b);
        b.merge(&from_a);
        assert_eq!(a.values(), [&"x", &"y"]);
        assert_eq!(a, b);
        let resolved = b.write(&n("b"), "z");
        a.merge(&resolved);
        assert_eq!(a.values(), [&"z"]);
        assert_eq!(a.context().clock().get(&n("b")), 2);
    }
}
