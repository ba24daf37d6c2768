//! The data Raft keeps and sends: log entries, hard and soft state, snapshots
//! and the messages between peers.
//!
//! Everything here is plain data with serde derives, so a host can carry a
//! [`Message`] as JSON inside whatever envelope its transport uses (a
//! Maelstrom body field, for instance).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A node id. `0` is never a valid id: it means "none" in [`HardState::vote`]
/// and [`SoftState::leader_id`].
pub type NodeId = u64;

/// The id that means "no node".
pub const NO_NODE: NodeId = 0;

/// One entry of the replicated log (Raft paper, 5.3).
///
/// An entry with empty `data` is the no-op a new leader appends to commit
/// entries of earlier terms (Raft paper, 8; see also 5.4.2). Applications
/// skip it; [`crate::RawNode::propose`] refuses empty proposals so the two
/// can never be confused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub index: u64,
    pub term: u64,
    #[serde(with = "crate::bytes")]
    pub data: Vec<u8>,
}

impl Entry {
    /// Whether this is a leader's no-op rather than an application command.
    pub fn is_noop(&self) -> bool {
        self.data.is_empty()
    }
}

/// The state that must reach stable storage before any message of the same
/// [`crate::Ready`] is sent (Raft paper, Figure 2, "persistent state").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: u64,
    /// The candidate voted for in `term`, or [`NO_NODE`].
    pub vote: NodeId,
    /// Persisted so a restarted node does not have to relearn it; it is
    /// safe to lose (Figure 2 lists it as volatile).
    pub commit: u64,
}

/// A node's role. `PreCandidate` is the pre-vote phase of the Raft
/// dissertation (Ongaro 2014, 9.6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    #[default]
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Volatile state that the host may want to observe: who leads and what
/// this node is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SoftState {
    /// The leader this node knows of in its current term, or [`NO_NODE`].
    pub leader_id: NodeId,
    pub role: Role,
}

/// Where a snapshot ends in the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMetadata {
    /// The last log index the snapshot includes.
    pub index: u64,
    /// The term of the entry at `index`.
    pub term: u64,
}

/// The application's state machine as of `metadata.index`, as opaque bytes
/// (Raft paper, 7).
///
/// The data is shared, not owned: a snapshot grows with the state machine,
/// and storage, the unstable log, a `Ready` and every InstallSnapshot
/// message hold the same bytes, so cloning a `Snapshot` costs a reference
/// count, never a copy. Build one with `data: bytes.into()` from a
/// `Vec<u8>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub metadata: SnapshotMetadata,
    #[serde(with = "crate::bytes::shared")]
    pub data: Arc<[u8]>,
}

impl Snapshot {
    /// The empty snapshot at index 0 that every log starts from.
    pub fn is_empty(&self) -> bool {
        self.metadata.index == 0
    }
}

/// The answer to a [`crate::RawNode::read_index`] request: the host may
/// serve the read identified by `ctx` once it has applied `index`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadState {
    pub index: u64,
    #[serde(with = "crate::bytes")]
    pub ctx: Vec<u8>,
}

/// A message between two Raft peers. `term` is the sender's current term
/// (Raft paper, 5.1: every message carries it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    pub term: u64,
    pub body: MessageBody,
}

/// Why a follower refused an append: lets the leader skip back over a whole
/// conflicting term at once instead of one index per round trip (Raft
/// paper, end of 5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectHint {
    /// The term of the follower's entry at the leader's `prev_index`, or
    /// `None` when the follower's log is shorter than that.
    pub conflict_term: Option<u64>,
    /// The first index the follower holds with `conflict_term`, or its last
    /// index + 1 when `conflict_term` is `None`.
    pub conflict_index: u64,
}

/// What a [`Message`] says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MessageBody {
    /// Would you vote for me at `term` (which the sender has not yet
    /// adopted)? Dissertation 9.6.
    PreVote {
        last_index: u64,
        last_term: u64,
    },
    PreVoteResponse {
        reject: bool,
    },
    /// RequestVote (Raft paper, 5.2 and 5.4.1).
    Vote {
        last_index: u64,
        last_term: u64,
    },
    VoteResponse {
        reject: bool,
    },
    /// AppendEntries (Raft paper, 5.3).
    Append {
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
    },
    /// `index` is the last index now known to match the leader when
    /// accepted, or the rejected `prev_index` when not.
    AppendResponse {
        reject: bool,
        index: u64,
        hint: Option<RejectHint>,
    },
    /// An empty append that keeps followers from starting elections (5.2)
    /// and, with `ctx`, confirms leadership for ReadIndex (section 8).
    /// `tick` is the leader's tick count at sending, echoed back so lease
    /// reads count from the moment of sending.
    Heartbeat {
        commit: u64,
        #[serde(with = "crate::bytes::option")]
        ctx: Option<Vec<u8>>,
        tick: u64,
    },
    HeartbeatResponse {
        #[serde(with = "crate::bytes::option")]
        ctx: Option<Vec<u8>>,
        tick: u64,
    },
    /// InstallSnapshot (Raft paper, 7), in one piece.
    InstallSnapshot {
        snapshot: Snapshot,
    },
    /// A follower forwards a client's ReadIndex request to its leader.
    ReadIndex {
        #[serde(with = "crate::bytes")]
        ctx: Vec<u8>,
    },
    /// The leader's answer to a forwarded ReadIndex.
    ReadIndexResponse {
        #[serde(with = "crate::bytes")]
        ctx: Vec<u8>,
        index: u64,
    },
}

impl MessageBody {
    /// A short name for logs and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            MessageBody::PreVote { .. } => "PreVote",
            MessageBody::PreVoteResponse { .. } => "PreVoteResponse",
            MessageBody::Vote { .. } => "Vote",
            MessageBody::VoteResponse { .. } => "VoteResponse",
            MessageBody::Append { .. } => "Append",
            MessageBody::AppendResponse { .. } => "AppendResponse",
            MessageBody::Heartbeat { .. } => "Heartbeat",
            MessageBody::HeartbeatResponse { .. } => "HeartbeatResponse",
            MessageBody::InstallSnapshot { .. } => "InstallSnapshot",
            MessageBody::ReadIndex { .. } => "ReadIndex",
            MessageBody::ReadIndexResponse { .. } => "ReadIndexResponse",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_json() {
        let msg = Message {
            from: 1,
            to: 2,
            term: 3,
            body: MessageBody::Append {
                prev_index: 4,
                prev_term: 2,
                entries: vec![Entry {
                    index: 5,
                    term: 3,
                    data: b"x".to_vec(),
                }],
                commit: 4,
            },
        };
        let json = serde_json::to_string(&msg).unwrap();
        let back: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, msg);
    }
}
