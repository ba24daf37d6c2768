//! A causal CRDT: a dot store with its causal context (Almeida, Shoker, Baquero 2018, section
//! 6.2), and the trait that lets one be nested in an [`crate::ORMap`].

use serde::{Deserialize, Serialize};

use crate::context::CausalContext;
use crate::dot_store::DotStore;
use crate::lattice::Crdt;

/// A dot store `store` together with the `context` of every dot its replica has seen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "S: Serialize, I: Serialize",
    deserialize = "S: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct Causal<S, I = String> {
    /// The live dots and what hangs off them.
    pub store: S,
    /// Every dot seen, live or removed.
    pub context: CausalContext<I>,
}

impl<S: Default, I> Default for Causal<S, I> {
    fn default() -> Self {
        Self {
            store: S::default(),
            context: CausalContext::default(),
        }
    }
}

impl<S: DotStore<I>, I: Ord + Clone> Crdt for Causal<S, I> {
    fn merge(&mut self, other: &Self) {
        self.store.join(&self.context, &other.store, &other.context);
        self.context.merge(&other.context);
    }

    fn le(&self, other: &Self) -> bool {
        if !self.context.le(&other.context) {
            return false;
        }
        let mut joined = other.clone();
        joined.merge(self);
        joined == *other
    }
}

/// A CRDT that is a causal CRDT underneath, so it can be a value in an [`crate::ORMap`]: the
/// map keeps only its store and lends it the map's shared context.
pub trait CausalCrdt<I: Ord + Clone>: Crdt + Sized {
    /// The dot store it is made of.
    type Store: DotStore<I>;

    /// Wraps a store and a context.
    fn from_causal(causal: Causal<Self::Store, I>) -> Self;

    /// Unwraps into the store and the context.
    fn into_causal(self) -> Causal<Self::Store, I>;
}

/// The body of a [`CausalCrdt`] impl for a CRDT that is one field, `causal`, of type
/// `Causal<$store, I>` (`I` being the impl's replica id type).
macro_rules! causal_field {
    ($store:ty) => {
        type Store = $store;

        fn from_causal(causal: $crate::Causal<Self::Store, I>) -> Self {
            Self { causal }
        }

        fn into_causal(self) -> $crate::Causal<Self::Store, I> {
            self.causal
        }
    };
}
pub(crate) use causal_field;
