//! Durable acceptor state behind a trait, and the in-memory implementation
//! used by simulations and tests.
//!
//! An acceptor's promise and its accepted values must survive a crash: an
//! acceptor that forgets a promise may accept a lower ballot's value after
//! a higher ballot's leader counted on it, and one that forgets an
//! accepted value may let a new leader miss a chosen value (Paxos Made
//! Simple, 2.2: "an acceptor must remember this information even if it
//! fails and then restarts"). Chosen values are kept too, so that a
//! restarted node replays its log without asking the leader.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::message::{Accepted, Ballot, Slot, Value};

/// The durable state of one Multi-Paxos node.
///
/// Writes must be durable when they return: the host persists a `Ready`
/// before sending its messages.
pub trait Storage {
    /// The highest ballot promised (`Ballot::ZERO` when none).
    fn promised(&self) -> Ballot;
    /// Every accepted value still held, by slot.
    fn accepted(&self) -> Vec<Accepted>;
    /// Every chosen value held, by slot.
    fn chosen(&self) -> Vec<Slot>;

    fn set_promised(&mut self, ballot: Ballot) -> Result<()>;
    /// Records `accepted`, replacing what was accepted at those slots.
    fn accept(&mut self, accepted: &[Accepted]) -> Result<()>;
    /// Records chosen values; the accepted values at those slots may go.
    fn choose(&mut self, chosen: &[Slot]) -> Result<()>;
}

/// A [`Storage`] in memory. Cloning it is what a simulated crash keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStorage {
    promised: Ballot,
    accepted: BTreeMap<u64, (Ballot, Value)>,
    chosen: BTreeMap<u64, Value>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }
}

impl Storage for MemoryStorage {
    fn promised(&self) -> Ballot {
        self.promised
    }

    fn accepted(&self) -> Vec<Accepted> {
        self.accepted
            .iter()
            .map(|(slot, (ballot, value))| Accepted {
                slot: *slot,
                ballot: *ballot,
                value: value.clone(),
            })
            .collect()
    }

    fn chosen(&self) -> Vec<Slot> {
        self.chosen
            .iter()
            .map(|(slot, value)| Slot {
                slot: *slot,
                value: value.clone(),
            })
            .collect()
    }

    fn set_promised(&mut self, ballot: Ballot) -> Result<()> {
        self.promised = ballot;
        Ok(())
    }

    fn accept(&mut self, accepted: &[Accepted]) -> Result<()> {
        for a in accepted {
            self.accepted.insert(a.slot, (a.ballot, a.value.clone()));
        }
        Ok(())
    }

    fn choose(&mut self, chosen: &[Slot]) -> Result<()> {
        for s in chosen {
            self.accepted.remove(&s.slot);
            self.chosen.insert(s.slot, s.value.clone());
        }
        Ok(())
    }
}
