//! The crate's one error type.

use crate::message::NodeId;

/// Everything that can go wrong in `lightcone-paxos`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Only the leader proposes; `leader_id` names the leader this node
    /// follows, if any, so the host can redirect the client.
    #[error("proposal dropped: node {node_id} is not the leader ({})", leader_hint(*.leader_id))]
    NotLeader {
        node_id: NodeId,
        leader_id: Option<NodeId>,
    },
    /// The leader already has `limit` slots in phase 2; retry once some are
    /// chosen (backpressure, see `Config::max_inflight_slots`).
    #[error("proposal dropped: {limit} slots already in flight; retry once some are chosen")]
    InflightLimit { limit: usize },
    /// The configuration is unusable.
    #[error("invalid paxos config: `{field}` {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    /// The storage could not persist or read state.
    #[error("paxos storage: {0}")]
    Storage(String),
}

fn leader_hint(leader_id: Option<NodeId>) -> String {
    match leader_id {
        Some(id) => format!("the leader is node {id}"),
        None => "no leader is known".to_string(),
    }
}

pub type Result<T> = std::result::Result<T, Error>;
