//! The join-semilattice every CRDT here is, and a delta buffer for gossip.
//!
//! A state-based CRDT is a join-semilattice: `merge` is the least upper bound, so it is
//! commutative, associative and idempotent, and every update inflates the state (Shapiro,
//! Preguiça, Baquero, Zawirski 2011, "Conflict-free Replicated Data Types", section 2.2).
//! Replicas that exchange states in any order, any number of times, converge.
//!
//! Delta-state CRDTs (Almeida, Shoker, Baquero 2018, "Delta State Replicated Data Types")
//! make each update return a *delta*: a small state of the same lattice such that merging it
//! is the same as applying the update. Deltas join into delta groups, so a node can buffer the
//! deltas of its updates, gossip their join, and a receiver merges it like any state. In this
//! crate every delta has the type of the state it came from, so `merge` applies both.

/// A join-semilattice with the least upper bound `merge` and its partial order `le`.
pub trait Crdt {
    /// Joins `other` into `self`: afterwards `self` is the least upper bound of both. This is
    /// how a replica takes in both a remote state and a delta.
    fn merge(&mut self, other: &Self);

    /// The lattice order: `self <= other`, that is, merging `self` into `other` changes
    /// nothing.
    fn le(&self, other: &Self) -> bool;
}

/// Joins the deltas of local updates until the next gossip round: Almeida et al. 2018,
/// Algorithm 1 sends the join of the deltas produced since the last send (a delta group).
///
/// The buffer holds one joined state, not a list, so it is bounded by the size of the state
/// it replicates however many updates it absorbs. A delta that may be lost in the network is
/// not lost for good as long as the node also sends its whole state now and then.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeltaBuffer<T> {
    group: Option<T>,
    delta_count: u64,
}

impl<T> Default for DeltaBuffer<T> {
    fn default() -> Self {
        Self {
            group: None,
            delta_count: 0,
        }
    }
}

impl<T: Crdt + Clone> DeltaBuffer<T> {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Joins `delta` into the pending delta group.
    pub fn push(&mut self, delta: T) {
        self.delta_count += 1;
        match &mut self.group {
            Some(group) => group.merge(&delta),
            None => self.group = Some(delta),
        }
    }

    /// The pending delta group, if any, leaving the buffer empty: what to gossip now.
    pub fn take(&mut self) -> Option<T> {
        self.delta_count = 0;
        self.group.take()
    }

    /// The pending delta group without taking it (to resend to a peer that missed it).
    pub fn peek(&self) -> Option<&T> {
        self.group.as_ref()
    }

    /// How many deltas were joined since the last `take`.
    pub fn delta_count(&self) -> u64 {
        self.delta_count
    }

    /// Whether no delta is pending.
    pub fn is_empty(&self) -> bool {
        self.group.is_none()
    }
}
