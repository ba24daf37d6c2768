//! Dots: the name of one event.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One event: the `counter`-th event of `node`. Dots name writes in dotted version vectors and
/// in the causal CRDTs of `lightcone-crdt` (Almeida, Shoker, Baquero 2018, section 6.1), where a
/// replica makes its n-th dot by counting its own events.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dot<I = String> {
    /// The node (replica) that made the event.
    pub node: I,
    /// Its sequence number at that node, from 1.
    pub counter: u64,
}

impl<I> Dot<I> {
    /// The `counter`-th event of `node`.
    pub fn new(node: I, counter: u64) -> Self {
        Self { node, counter }
    }
}

impl<I: fmt::Display> fmt::Display for Dot<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.node, self.counter)
    }
}
