//! The leader's pending reads (`read_index.rs` serves them), on their own
//! so that the Raft state can hold them without naming the code that
//! serves them.

use std::collections::{BTreeSet, VecDeque};

use crate::message::NodeId;

/// A read waiting for a majority to confirm the leader.
#[derive(Debug)]
pub(crate) struct PendingRead {
    /// The node whose host asked (this node or a follower).
    pub(crate) from: NodeId,
    pub(crate) ctx: Vec<u8>,
    /// The leader's commit index when the read arrived.
    pub(crate) index: u64,
    /// Who answered the heartbeat carrying `ctx`, the leader included.
    pub(crate) acks: BTreeSet<NodeId>,
}

/// The leader's reads in flight, oldest first, and those waiting for the
/// first commit of the term. Bounded by `Config::max_pending_reads`.
#[derive(Debug, Default)]
pub(crate) struct ReadQueue {
    pub(crate) pending: VecDeque<PendingRead>,
    pub(crate) waiting_for_commit: Vec<(NodeId, Vec<u8>)>,
}

impl ReadQueue {
    pub(crate) fn len(&self) -> usize {
        self.pending.len() + self.waiting_for_commit.len()
    }

    /// The context of the newest read waiting for a majority, if any.
    pub(crate) fn newest_pending_ctx(&self) -> Option<Vec<u8>> {
        self.pending.back().map(|read| read.ctx.clone())
    }
}
