//! The options of one Multi-Paxos node.

use crate::error::{Error, Result};
use crate::message::NodeId;

/// How one node behaves. Build it with [`Config::new`], change fields, and
/// [`Config::validate`] (which [`crate::RawNode::new`] also calls).
///
/// Time is logical: the host calls [`crate::RawNode::tick`] at a fixed
/// interval and every timeout here is a number of those ticks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// This node's id; never 0.
    pub id: NodeId,
    /// Every acceptor, this node included; fixed for the cluster's life.
    pub peers: Vec<NodeId>,
    /// A node that hears no leader for a random number of ticks in
    /// `[election_tick, 2 * election_tick)` prepares a ballot of its own;
    /// randomized, so that two nodes rarely duel (as Raft paper, 5.2).
    pub election_tick: u64,
    /// The leader sends heartbeats (with its chosen prefix) and resends
    /// unanswered accepts every `heartbeat_tick` ticks.
    pub heartbeat_tick: u64,
    /// Seeds the ChaCha8 generator that draws timeouts; give every node a
    /// different one.
    pub seed: u64,
    /// A leader that heard from no quorum for `election_tick` ticks steps
    /// down, so that clients of a leader cut off in a minority are told to
    /// retry elsewhere instead of waiting.
    pub check_quorum: bool,
    /// At most this many slots in phase 2 at once ([`Error::InflightLimit`]
    /// beyond), so a leader cut off from its acceptors stops growing.
    pub max_inflight_slots: usize,
    /// At most this many values in one `Accept` or catch-up message.
    pub max_slots_per_msg: usize,
    /// **For testing checkers only: breaks safety.** A new leader ignores
    /// the accepted values its promises report (Paxos's rule: adopt the
    /// value of the highest ballot) and proposes its own commands in those
    /// slots instead.
    pub unsafe_ignore_promised_values: bool,
}

impl Config {
    /// A config with the defaults: elections after 10 to 20 ticks,
    /// heartbeats every 2.
    pub fn new(id: NodeId, peers: Vec<NodeId>) -> Config {
        Config {
            id,
            peers,
            election_tick: 10,
            heartbeat_tick: 2,
            seed: id,
            check_quorum: true,
            max_inflight_slots: 1024,
            max_slots_per_msg: 256,
            unsafe_ignore_promised_values: false,
        }
    }

    /// Whether the config is usable; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| {
            Err(Error::InvalidConfig {
                field,
                reason: reason.to_string(),
            })
        };
        if self.id == 0 {
            return invalid("id", "must not be 0");
        }
        if !self.peers.contains(&self.id) {
            return invalid("peers", "must include this node's id");
        }
        if self.peers.contains(&0) {
            return invalid("peers", "must not include 0");
        }
        if self.heartbeat_tick == 0 {
            return invalid("heartbeat_tick", "must be at least 1");
        }
        if self.election_tick <= self.heartbeat_tick {
            return invalid("election_tick", "must be more than heartbeat_tick");
        }
        if self.max_inflight_slots == 0 || self.max_slots_per_msg == 0 {
            return invalid(
                "max_inflight_slots",
                "and max_slots_per_msg must be at least 1",
            );
        }
        Ok(())
    }

    /// The smallest majority of `peers`.
    pub fn quorum(&self) -> usize {
        self.peers.len() / 2 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_field() {
        assert!(Config::new(1, vec![1, 2, 3]).validate().is_ok());
        let e = Config::new(4, vec![1, 2, 3]).validate().unwrap_err();
        assert!(e.to_string().contains("peers"), "{e}");
        let mut c = Config::new(1, vec![1]);
        c.election_tick = 2;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("election_tick"));
    }
}
