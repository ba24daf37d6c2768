//! A map from keys to nested causal CRDTs (Almeida, Shoker, Baquero 2018, section 7.4, the
//! observed-remove map; Riak's maps work the same way).
//!
//! Every value is a dot store sharing the map's one causal context, so a nested update costs a
//! dot like any other. Updating a key makes it present; removing a key drops the dots its value
//! holds here. A concurrent update survives a remove (add-wins), and what survives is exactly
//! that update's effect: the value is reset to what the remover had not seen (reset-remove).

use serde::{Deserialize, Serialize};

use crate::causal::{Causal, CausalCrdt};
use crate::context::CausalContext;
use crate::dot_store::{DotMap, DotStore};
use crate::lattice::Crdt;

/// A map from `K` to nested CRDTs `V` (an [`crate::ORSet`], [`crate::MVRegister`] or another
/// `ORMap`), replicated between nodes `I`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize, V::Store: Serialize, I: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, V::Store: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct ORMap<K, V: CausalCrdt<I>, I: Ord + Clone = String> {
    causal: Causal<DotMap<K, V::Store>, I>,
}

impl<K, V: CausalCrdt<I>, I: Ord + Clone> Default for ORMap<K, V, I> {
    fn default() -> Self {
        Self {
            causal: Causal {
                store: DotMap::default(),
                context: CausalContext::default(),
            },
        }
    }
}

impl<K: Ord + Clone, V: CausalCrdt<I>, I: Ord + Clone> ORMap<K, V, I> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a mutator of the nested value at `key` and returns the map's delta.
    ///
    /// `mutate` gets the value (the default value if `key` is absent) and must call one of its
    /// mutators and return that mutator's delta, for example
    /// `map.update(key, |set| set.add(&node, element))`. Its dots are made in the map's context,
    /// so the map stays one causal CRDT.
    pub fn update(&mut self, key: K, mutate: impl FnOnce(&mut V) -> V) -> Self {
        let store = self.causal.store.get(&key).cloned().unwrap_or_default();
        let mut value = V::from_causal(Causal {
            store,
            context: self.causal.context.clone(),
        });
        let delta = mutate(&mut value).into_causal();
        // The mutated value is this replica's new state at `key` under the map's context: take
        // it directly rather than merging the delta, which would scan every key.
        let after = value.into_causal();
        if after.store.is_bottom() {
            self.causal.store.remove(&key);
        } else {
            self.causal.store.insert(key.clone(), after.store);
        }
        self.causal.context = after.context;
        let store = if delta.store.is_bottom() {
            DotMap::default()
        } else {
            DotMap::single(key, delta.store)
        };
        Self {
            causal: Causal {
                store,
                context: delta.context,
            },
        }
    }

    /// Removes `key` (the dots its value holds here); returns the delta.
    pub fn remove(&mut self, key: &K) -> Self {
        let context = match self.causal.store.remove(key) {
            Some(store) => store.dots(),
            None => CausalContext::new(),
        };
        Self {
            causal: Causal {
                store: DotMap::default(),
                context,
            },
        }
    }

    /// The value at `key`, as a CRDT of its own (it carries a copy of the map's context).
    pub fn get(&self, key: &K) -> Option<V> {
        self.causal.store.get(key).map(|store| {
            V::from_causal(Causal {
                store: store.clone(),
                context: self.causal.context.clone(),
            })
        })
    }

    /// The dot store at `key`, without copying the context.
    pub fn get_store(&self, key: &K) -> Option<&V::Store> {
        self.causal.store.get(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.causal.store.contains_key(key)
    }

    /// The present keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.causal.store.keys()
    }

    /// How many keys are present.
    pub fn len(&self) -> usize {
        self.causal.store.len()
    }

    /// Whether no key is present.
    pub fn is_empty(&self) -> bool {
        self.causal.store.is_empty()
    }

    /// The shared causal context.
    pub fn context(&self) -> &CausalContext<I> {
        &self.causal.context
    }
}

impl<K: Ord + Clone, V: CausalCrdt<I>, I: Ord + Clone> Crdt for ORMap<K, V, I> {
    fn merge(&mut self, other: &Self) {
        self.causal.merge(&other.causal);
    }

    fn le(&self, other: &Self) -> bool {
        self.causal.le(&other.causal)
    }
}

impl<K: Ord + Clone, V: CausalCrdt<I>, I: Ord + Clone> CausalCrdt<I> for ORMap<K, V, I> {
    crate::causal::causal_field!(DotMap<K, V::Store>);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MVRegister, ORSet};

    fn n(name: &str) -> String {
        name.to_string()
    }

    #[test]
    fn update_wins_over_a_concurrent_remove_and_keeps_only_its_effect() {
        let mut a: ORMap<String, ORSet<u64>> = ORMap::new();
        a.update(n("k"), |set| set.add(&n("a"), 1));
        let mut b = a.clone();
        let removal = b.remove(&n("k"));
        let update = a.update(n("k"), |set| set.add(&n("a"), 2));
        a.merge(&removal);
        b.merge(&update);
        assert_eq!(a, b);
        // Element 1 was seen by the remover and is gone; 2 was concurrent and stays.
        let set = a.get(&n("k")).unwrap();
        assert_eq!(set.elements().into_iter().collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn nested_registers_and_maps() {
        let mut map: ORMap<&str, ORMap<&str, MVRegister<i32>>> = ORMap::new();
        let delta = map.update("user", |profile| {
            profile.update("age", |age| age.write(&n("a"), 41))
        });
        let mut other = ORMap::new();
        other.merge(&delta);
        let age = other.get(&"user").unwrap().get(&"age").unwrap();
        assert_eq!(age.values(), [&41]);
        let json = serde_json::to_string(&other).unwrap();
        let back: ORMap<&str, ORMap<&str, MVRegister<i32>>> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, other);
    }
}
