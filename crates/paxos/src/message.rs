//! What Multi-Paxos nodes say to each other, as plain serde data, and the
//! values they agree on.

use serde::{Deserialize, Serialize};

/// A node's id; never 0.
pub type NodeId = u64;

/// A ballot (Lamport's "proposal number", Paxos Made Simple, 2.2): a round
/// and the node that leads it, ordered by round and then by node, so two
/// nodes never share a ballot.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    pub round: u64,
    pub node: NodeId,
}

impl Ballot {
    /// The ballot below every real one: nothing promised yet.
    pub const ZERO: Ballot = Ballot { round: 0, node: 0 };

    pub fn new(round: u64, node: NodeId) -> Ballot {
        Ballot { round, node }
    }
}

impl std::fmt::Display for Ballot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.round, self.node)
    }
}

/// What one slot of the replicated log holds once chosen: a host's command,
/// or a no-op with which a new leader fills a gap (Paxos Made Simple, 3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Value {
    Noop,
    Command(#[serde(with = "crate::bytes")] Vec<u8>),
}

impl Value {
    pub fn is_noop(&self) -> bool {
        matches!(self, Value::Noop)
    }

    /// The command's bytes; empty for a no-op.
    pub fn data(&self) -> &[u8] {
        match self {
            Value::Noop => &[],
            Value::Command(data) => data,
        }
    }
}

/// A value at a slot: a proposal in phase 2, or a chosen value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slot {
    pub slot: u64,
    pub value: Value,
}

/// What an acceptor accepted at a slot, and under which ballot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub slot: u64,
    pub ballot: Ballot,
    pub value: Value,
}

/// A message between two nodes. `ballot` is the sender's: the ballot it
/// leads or prepares, or (in an acceptor's answers) the ballot answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub ballot: Ballot,
    pub body: MessageBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// Phase 1a, once per ballot for every slot from `first_unchosen` on
    /// (Multi-Paxos: one prepare covers the whole rest of the log).
    Prepare { first_unchosen: u64 },
    /// Phase 1b: the acceptor promises to accept nothing below the ballot,
    /// and reports, from the preparer's `first_unchosen` on, the values it
    /// knows chosen and the (ballot, value) it accepted at every other slot.
    Promise {
        chosen: Vec<Slot>,
        accepted: Vec<Accepted>,
    },
    /// Phase 2a for a batch of slots (the leader pipelines them), with the
    /// leader's chosen prefix: every slot up to `commit` is chosen.
    Accept { slots: Vec<Slot>, commit: u64 },
    /// Phase 2b for the slots of an `Accept`.
    AcceptedSlots { slots: Vec<u64> },
    /// The leader is alive; every slot up to `commit` is chosen.
    Heartbeat { commit: u64 },
    /// The answer, with the follower's chosen prefix.
    HeartbeatResponse { commit: u64 },
    /// Catch-up: chosen values a follower lacks, sent by the leader.
    Chosen { slots: Vec<Slot> },
    /// The acceptor has promised a higher ballot, `promised`: the sender's
    /// ballot is over.
    Nack { promised: Ballot },
}

impl MessageBody {
    /// A short name for logs and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageBody::Prepare { .. } => "Prepare",
            MessageBody::Promise { .. } => "Promise",
            MessageBody::Accept { .. } => "Accept",
            MessageBody::AcceptedSlots { .. } => "AcceptedSlots",
            MessageBody::Heartbeat { .. } => "Heartbeat",
            MessageBody::HeartbeatResponse { .. } => "HeartbeatResponse",
            MessageBody::Chosen { .. } => "Chosen",
            MessageBody::Nack { .. } => "Nack",
        }
    }
}

/// A node's part in the protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    #[default]
    Follower,
    /// Running phase 1 for its own ballot.
    Candidate,
    /// Phase 1 done: proposes in phase 2 under its ballot.
    Leader,
}

/// The volatile state the host may want to watch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftState {
    pub role: Role,
    /// The leader this node follows (itself when leading).
    pub leader: Option<NodeId>,
    /// The ballot this node prepares or leads, when it does.
    pub ballot: Ballot,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballots_order_by_round_then_node() {
        assert!(Ballot::new(2, 1) > Ballot::new(1, 3));
        assert!(Ballot::new(2, 3) > Ballot::new(2, 1));
        assert!(Ballot::new(1, 1) > Ballot::ZERO);
    }

    #[test]
    fn messages_round_trip_through_json_with_text_values_as_strings() {
        let msg = Message {
            from: 1,
            to: 2,
            ballot: Ballot::new(3, 1),
            body: MessageBody::Accept {
                slots: vec![
                    Slot {
                        slot: 4,
                        value: Value::Command(br#"{"w":1}"#.to_vec()),
                    },
                    Slot {
                        slot: 5,
                        value: Value::Noop,
                    },
                ],
                commit: 3,
            },
        };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(json.contains(r#""{\"w\":1}""#), "{json}");
        let back: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, msg);
    }
}
