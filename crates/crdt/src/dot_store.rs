//! Dot stores: the payloads of causal CRDTs (Almeida, Shoker, Baquero 2018, section 6.1).
//!
//! A causal CRDT is a dot store paired with a causal context. The join of two such pairs
//! keeps a dot if both stores have it, or if one store has it and the other side's context
//! has not seen it (so it is new to that side, not removed by it). This is how an OR-Set
//! removes without tombstones: a removal drops the dots from the store and leaves them in the
//! context, and the context is what tells a later merge that their absence is a removal.
//!
//! Three stores compose everything here: [`DotSet`] (a set of dots), [`DotFun`] (dots mapped
//! to values; a multi-value register) and [`DotMap`] (keys mapped to nested dot stores that
//! share one context; OR-Set and OR-Map).

use std::collections::{BTreeMap, BTreeSet};

use lightcone_clock::Dot;
use serde::{Deserialize, Serialize};

use crate::context::CausalContext;

/// A payload of a causal CRDT: something whose dots can be listed and that joins under two
/// causal contexts.
pub trait DotStore<I: Ord + Clone>: Clone + Default + PartialEq {
    /// Whether the store holds no dot (the bottom element; a `DotMap` drops such entries).
    fn is_bottom(&self) -> bool;

    /// Calls `visit` on every dot in the store.
    fn visit_dots(&self, visit: &mut dyn FnMut(&Dot<I>));

    /// Joins `other` (seen under `other_context`) into `self` (seen under `context`). The
    /// contexts are the states' before the join; the caller merges them afterwards.
    fn join(&mut self, context: &CausalContext<I>, other: &Self, other_context: &CausalContext<I>);

    /// Every dot in the store, as a context: what a removal of this store must cover.
    fn dots(&self) -> CausalContext<I> {
        let mut context = CausalContext::new();
        self.visit_dots(&mut |dot| context.insert(dot.clone()));
        context
    }
}

/// A set of dots. On its own (with a context) it is an enable-wins flag; under a [`DotMap`] it
/// records which adds support an element.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(serialize = "I: Serialize", deserialize = "I: Deserialize<'de> + Ord"))]
pub struct DotSet<I = String> {
    dots: BTreeSet<Dot<I>>,
}

impl<I> Default for DotSet<I> {
    fn default() -> Self {
        Self {
            dots: BTreeSet::new(),
        }
    }
}

impl<I: Ord + Clone> DotSet<I> {
    /// The set holding `dot` alone.
    pub fn single(dot: Dot<I>) -> Self {
        Self {
            dots: BTreeSet::from([dot]),
        }
    }

    /// The dots in order.
    pub fn iter(&self) -> impl Iterator<Item = &Dot<I>> + '_ {
        self.dots.iter()
    }

    /// How many dots there are.
    pub fn len(&self) -> usize {
        self.dots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.dots.is_empty()
    }
}

impl<I: Ord + Clone> DotStore<I> for DotSet<I> {
    fn is_bottom(&self) -> bool {
        self.dots.is_empty()
    }

    fn visit_dots(&self, visit: &mut dyn FnMut(&Dot<I>)) {
        self.dots.iter().for_each(visit);
    }

    fn join(&mut self, context: &CausalContext<I>, other: &Self, other_context: &CausalContext<I>) {
        // Equal sets join to themselves; the common case when replicas are in sync.
        if self.dots == other.dots {
            return;
        }
        // (s ∩ s') ∪ (s \ c') ∪ (s' \ c)
        self.dots
            .retain(|dot| other.dots.contains(dot) || !other_context.contains(dot));
        for dot in &other.dots {
            if !context.contains(dot) && !self.dots.contains(dot) {
                self.dots.insert(dot.clone());
            }
        }
    }
}

/// Dots mapped to values: each value is one write, named by its dot. Under a causal context
/// this is the multi-value register; the values present are the concurrent writes.
/// Serialises as `[[dot, value], ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "V: Serialize, I: Serialize",
    deserialize = "V: Deserialize<'de>, I: Deserialize<'de> + Ord"
))]
pub struct DotFun<V, I = String> {
    #[serde(with = "crate::serde_pairs")]
    entries: BTreeMap<Dot<I>, V>,
}

impl<V, I> Default for DotFun<V, I> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<V, I: Ord + Clone> DotFun<V, I> {
    /// The store holding `value` at `dot` alone.
    pub fn single(dot: Dot<I>, value: V) -> Self {
        Self {
            entries: BTreeMap::from([(dot, value)]),
        }
    }

    /// The dots and their values, in dot order.
    pub fn iter(&self) -> impl Iterator<Item = (&Dot<I>, &V)> + '_ {
        self.entries.iter()
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<V: Clone + PartialEq, I: Ord + Clone> DotStore<I> for DotFun<V, I> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn visit_dots(&self, visit: &mut dyn FnMut(&Dot<I>)) {
        self.entries.keys().for_each(visit);
    }

    fn join(&mut self, context: &CausalContext<I>, other: &Self, other_context: &CausalContext<I>) {
        if self.entries == other.entries {
            return;
        }
        // A dot names one write, so a dot in both stores has the same value in both.
        self.entries
            .retain(|dot, _| other.entries.contains_key(dot) || !other_context.contains(dot));
        for (dot, value) in &other.entries {
            if !context.contains(dot) && !self.entries.contains_key(dot) {
                self.entries.insert(dot.clone(), value.clone());
            }
        }
    }
}

/// Keys mapped to nested dot stores that share the enclosing context. Keys whose store is
/// bottom are absent. Serialises as `[[key, store], ...]`, so any key type works in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "K: Serialize, S: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, S: Deserialize<'de>"
))]
pub struct DotMap<K, S> {
    #[serde(with = "crate::serde_pairs")]
    entries: BTreeMap<K, S>,
}

impl<K, S> Default for DotMap<K, S> {
    fn default() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }
}

impl<K: Ord, S> DotMap<K, S> {
    /// The store at `key`.
    pub fn get(&self, key: &K) -> Option<&S> {
        self.entries.get(key)
    }

    /// Keys and stores in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &S)> + '_ {
        self.entries.iter()
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.entries.keys()
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// How many keys are present.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no key is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The map holding `store` at `key` alone.
    pub fn single(key: K, store: S) -> Self {
        Self {
            entries: BTreeMap::from([(key, store)]),
        }
    }

    /// Sets `key` to `store` directly. For local mutators that know the result of their own
    /// delta; the caller keeps the context in step.
    pub(crate) fn insert(&mut self, key: K, store: S) {
        self.entries.insert(key, store);
    }

    /// Drops `key` directly; the same caveat as `insert`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<S> {
        self.entries.remove(key)
    }
}

impl<K: Ord + Clone, S: DotStore<I>, I: Ord + Clone> DotStore<I> for DotMap<K, S> {
    fn is_bottom(&self) -> bool {
        self.entries.is_empty()
    }

    fn visit_dots(&self, visit: &mut dyn FnMut(&Dot<I>)) {
        for store in self.entries.values() {
            store.visit_dots(visit);
        }
    }

    fn join(&mut self, context: &CausalContext<I>, other: &Self, other_context: &CausalContext<I>) {
        // Keys only here lose the dots the other side has seen and no longer has. A delta's
        // context is small, but the scan is over all keys: merging costs O(keys) even for a
        // one-element delta, so gossip joins deltas into groups first (`DeltaBuffer`).
        if !other_context.is_empty() {
            let bottom = S::default();
            self.entries.retain(|key, store| {
                if other.entries.contains_key(key) {
                    return true;
                }
                // Most keys hold no dot the other side has seen: check before rebuilding.
                let mut seen_by_other = false;
                store.visit_dots(&mut |dot| seen_by_other |= other_context.contains(dot));
                if !seen_by_other {
                    return true;
                }
                store.join(context, &bottom, other_context);
                !store.is_bottom()
            });
        }
        for (key, theirs) in &other.entries {
            match self.entries.get_mut(key) {
                Some(mine) => {
                    mine.join(context, theirs, other_context);
                    if mine.is_bottom() {
                        self.entries.remove(key);
                    }
                }
                None => {
                    let mut store = S::default();
                    store.join(context, theirs, other_context);
                    if !store.is_bottom() {
                        self.entries.insert(key.clone(), store);
                    }
                }
            }
        }
    }
}
