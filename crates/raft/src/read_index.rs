//! Linearizable reads without writing to the log: ReadIndex and lease reads
//! (Raft paper, 8; dissertation 6.4).
//!
//! ReadIndex: the leader records its commit index as the read index,
//! confirms that it is still the leader by a heartbeat round that a majority
//! answers, and then lets the host serve the read once it has applied the
//! read index. Its commit index is only trustworthy once an entry of its own
//! term is committed (its no-op, section 8), so reads wait for that first.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::message::{MessageBody, NodeId, ReadState, Role, NO_NODE};
use crate::progress::quorum_value;
use crate::raft::Raft;
use crate::read_queue::PendingRead;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// A read request from this node's host.
    pub(crate) fn read_index(&mut self, ctx: Vec<u8>) -> Result<()> {
        if self.config.unsafe_local_reads {
            // Deliberately broken, for testing checkers: no confirmation, and
            // any node answers from its own, possibly stale, commit index.
            let index = self.log.committed;
            self.read_states.push(ReadState { index, ctx });
            return Ok(());
        }
        match self.role {
            Role::Leader => self.leader_read_index(self.id, ctx),
            _ if self.leader_id != NO_NODE => {
                // The follower cannot know whether its commit index is
                // current; only the leader can (dissertation 6.4).
                self.send(self.leader_id, MessageBody::ReadIndex { ctx });
                Ok(())
            }
            _ => Err(Error::ProposalDropped {
                node_id: self.id,
                leader_id: None,
            }),
        }
    }

    /// The leader's handling of a read from `from`.
    pub(crate) fn leader_read_index(&mut self, from: NodeId, ctx: Vec<u8>) -> Result<()> {
        let limit = self.config.max_pending_reads;
        if self.reads.len() >= limit {
            return Err(Error::ReadLimit { limit });
        }
        if self.progress.len() == 1 {
            // A single voter is its own majority.
            self.answer_read(from, ctx, self.log.committed);
            return Ok(());
        }
        if !self.committed_in_current_term() {
            self.reads.waiting_for_commit.push((from, ctx));
            return Ok(());
        }
        if self.config.lease_reads && self.lease_valid() {
            self.answer_read(from, ctx, self.log.committed);
            return Ok(());
        }
        self.reads.pending.push_back(PendingRead {
            from,
            ctx: ctx.clone(),
            index: self.log.committed,
            acks: BTreeSet::from([self.id]),
        });
        self.broadcast_heartbeat(Some(ctx));
        Ok(())
    }

    fn committed_in_current_term(&self) -> bool {
        self.log.term(self.log.committed) == Some(self.term)
    }

    /// Whether the leader lease holds now (dissertation 6.4.1, under the
    /// clock assumption documented on `Config::lease_reads`): a majority
    /// acknowledged a heartbeat sent less than `election_tick -
    /// lease_drift_ticks` ticks ago, and none of them will vote for another
    /// leader before `election_tick` of their ticks have passed since.
    fn lease_valid(&self) -> bool {
        let ticks = self
            .progress
            .iter()
            .map(|(id, progress)| {
                if *id == self.id {
                    self.ticks
                } else {
                    progress.lease_tick.unwrap_or(0)
                }
            })
            .collect();
        let start = quorum_value(ticks);
        let length = self.config.election_tick - self.config.lease_drift_ticks;
        start > 0 && self.ticks < start + length
    }

    fn answer_read(&mut self, from: NodeId, ctx: Vec<u8>, index: u64) {
        if from == self.id {
            self.read_states.push(ReadState { index, ctx });
        } else {
            self.send(from, MessageBody::ReadIndexResponse { ctx, index });
        }
    }

    /// The first entry of this term committed: the commit index now covers
    /// every committed entry (Leader Completeness), so queued reads go on.
    pub(crate) fn release_reads_waiting_for_commit(&mut self) {
        if !self.committed_in_current_term() {
            return;
        }
        let waiting = std::mem::take(&mut self.reads.waiting_for_commit);
        for (from, ctx) in waiting {
            // Cannot hit the limit: these were already counted.
            let _ = self.leader_read_index(from, ctx);
        }
    }

    /// `from` answered the heartbeat that carried `ctx`. Once a majority
    /// has, that read and every older one are confirmed: the heartbeat was
    /// sent after they arrived, so the leader was still the leader then.
    pub(crate) fn confirm_read(&mut self, from: NodeId, ctx: &[u8]) {
        let quorum = self.quorum();
        let Some(position) = self.reads.pending.iter().position(|read| read.ctx == ctx) else {
            return;
        };
        let read = &mut self.reads.pending[position];
        read.acks.insert(from);
        if read.acks.len() < quorum {
            return;
        }
        let confirmed: Vec<PendingRead> = self.reads.pending.drain(..=position).collect();
        for read in confirmed {
            self.answer_read(read.from, read.ctx, read.index);
        }
    }
}
