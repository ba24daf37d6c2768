//! The host's handle on a Raft node: inputs (`tick`, `step`, `propose`,
//! `read_index`, `campaign`) and the output batch [`Ready`].

use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::message::{Entry, HardState, Message, NodeId, ReadState, Role, Snapshot, SoftState};
use crate::raft::Raft;
use crate::storage::Storage;

/// Everything the host must do after some inputs, in this order (see the
/// crate docs for the loop):
///
/// 1. persist `snapshot`, `entries` and then `hard_state` to stable storage;
/// 2. send `messages` (only after step 1: a vote or an acknowledgement must
///    not outrun the disk, Raft paper Figure 2);
/// 3. apply `snapshot` and then `committed_entries` to the state machine, and
///    serve each of `read_states` once the applied index reaches its index;
/// 4. call [`RawNode::advance`] with this `Ready`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ready {
    /// The new role and leader, when they changed.
    pub soft_state: Option<SoftState>,
    /// Term, vote and commit index to persist, when they changed.
    pub hard_state: Option<HardState>,
    /// A snapshot received from the leader, to persist
    /// ([`Storage::apply_snapshot`]) and to restore the state machine from.
    pub snapshot: Option<Snapshot>,
    /// Log entries to append to stable storage ([`Storage::append`]); they
    /// may overwrite a conflicting suffix.
    pub entries: Vec<Entry>,
    /// Committed entries to apply, in index order. Entries with empty data
    /// are leaders' no-ops: skip them.
    pub committed_entries: Vec<Entry>,
    /// Messages to send, after persisting.
    pub messages: Vec<Message>,
    /// Answers to `read_index` requests.
    pub read_states: Vec<ReadState>,
}

/// A snapshot of a node's state, for observation and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    pub id: NodeId,
    pub hard_state: HardState,
    pub soft_state: SoftState,
    pub applied: u64,
    /// The first index still in the log (after the snapshot).
    pub first_index: u64,
    pub last_index: u64,
    pub persisted_index: u64,
}

/// One Raft node and the storage it reads its stable log from.
pub struct RawNode<S: Storage> {
    raft: Raft<S>,
    /// What the host last saw, to report only changes.
    prev_soft_state: SoftState,
    prev_hard_state: HardState,
}

impl<S: Storage> RawNode<S> {
    /// Opens a node on `storage`, which holds whatever a previous run of
    /// this node persisted (or nothing, for a new node). A node restarts as
    /// a follower of its persisted term, with its persisted vote.
    pub fn new(config: Config, storage: S) -> Result<RawNode<S>> {
        let raft = Raft::new(config, storage)?;
        let prev_hard_state = raft.hard_state();
        Ok(RawNode {
            raft,
            prev_soft_state: SoftState::default(),
            prev_hard_state,
        })
    }

    /// Advances logical time by one tick. Call it at a fixed interval; the
    /// election timeout and heartbeat interval are counted in ticks.
    pub fn tick(&mut self) {
        self.raft.tick();
    }

    /// Hands the node a message from a peer. Stale messages and messages
    /// from unknown nodes are dropped: the network may delay, duplicate and
    /// reorder.
    pub fn step(&mut self, msg: Message) {
        self.raft.step(msg);
    }

    /// Proposes `data` as a new log entry. Only the leader accepts; returns
    /// the entry's index. The entry is committed when it shows up in
    /// `Ready::committed_entries` with the term this node had when
    /// proposing: a different entry at the same index means the proposal
    /// was lost to a change of leader.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<u64> {
        self.raft.propose(data)
    }

    /// Asks for a linearizable read point. The answer comes as a
    /// [`ReadState`] with the same `ctx` in a later `Ready`; serve the read
    /// once this node has applied `ReadState::index`. Followers forward the
    /// request to the leader; without a known leader it fails with
    /// [`Error::ProposalDropped`]. Requests may be lost (partitions, leader
    /// changes): the host times them out and retries. Keep `ctx` unique
    /// among requests in flight.
    pub fn read_index(&mut self, ctx: Vec<u8>) -> Result<()> {
        self.raft.read_index(ctx)
    }

    /// Starts an election now instead of waiting for the election timeout
    /// (useful to bootstrap a test cluster). With `Config::check_quorum`,
    /// followers that heard from a leader recently ignore it.
    pub fn campaign(&mut self) {
        self.raft.hup();
    }

    /// Whether [`RawNode::ready`] has anything to do.
    pub fn has_ready(&self) -> bool {
        let raft = &self.raft;
        raft.soft_state() != self.prev_soft_state
            || raft.hard_state() != self.prev_hard_state
            || raft.log.unstable_snapshot().is_some()
            || !raft.log.unstable_entries().is_empty()
            || raft.log.has_next_committed_entries()
            || !raft.msgs.is_empty()
            || !raft.read_states.is_empty()
    }

    /// Takes the pending outputs. Each `Ready` must be handled and passed to
    /// [`RawNode::advance`] before the next call.
    pub fn ready(&mut self) -> Ready {
        let raft = &mut self.raft;
        let soft_state = raft.soft_state();
        let hard_state = raft.hard_state();
        let ready = Ready {
            soft_state: (soft_state != self.prev_soft_state).then_some(soft_state),
            hard_state: (hard_state != self.prev_hard_state).then_some(hard_state),
            snapshot: raft.log.unstable_snapshot().cloned(),
            entries: raft.log.unstable_entries().to_vec(),
            committed_entries: raft.log.next_committed_entries(),
            messages: std::mem::take(&mut raft.msgs),
            read_states: std::mem::take(&mut raft.read_states),
        };
        self.prev_soft_state = soft_state;
        self.prev_hard_state = hard_state;
        ready
    }

    /// Tells the node that the host has persisted, sent and applied `ready`.
    pub fn advance(&mut self, ready: Ready) {
        let log = &mut self.raft.log;
        if let Some(snapshot) = &ready.snapshot {
            log.stable_snapshot_to(snapshot.metadata.index);
            log.applied_to(snapshot.metadata.index);
        }
        if let Some(last) = ready.entries.last() {
            log.stable_to(last.index, last.term);
        }
        if let Some(last) = ready.committed_entries.last() {
            log.applied_to(last.index);
        }
        self.raft.on_persisted();
    }

    /// Log compaction (Raft paper, 7): the host's state machine, serialized
    /// as `data`, reflects every entry up to `index`; the storage keeps it
    /// as its snapshot and drops those entries. `index` must be applied.
    /// `data` is a `Vec<u8>` or an `Arc<[u8]>`; the storage shares it from
    /// then on.
    pub fn compact(&mut self, index: u64, data: impl Into<Arc<[u8]>>) -> Result<()> {
        let applied = self.raft.log.applied;
        if index > applied || index > self.raft.log.persisted_index() {
            return Err(Error::CompactPastApplied { index, applied });
        }
        self.raft.log.storage.compact(index, data.into())
    }

    /// The storage, to read the log or snapshot.
    pub fn storage(&self) -> &S {
        &self.raft.log.storage
    }

    /// The storage, to persist a `Ready` into.
    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.raft.log.storage
    }

    /// The node's current state.
    pub fn status(&self) -> Status {
        let raft = &self.raft;
        Status {
            id: raft.id,
            hard_state: raft.hard_state(),
            soft_state: raft.soft_state(),
            applied: raft.log.applied,
            first_index: raft.log.first_index(),
            last_index: raft.log.last_index(),
            persisted_index: raft.log.persisted_index(),
        }
    }

    pub fn id(&self) -> NodeId {
        self.raft.id
    }

    pub fn role(&self) -> Role {
        self.raft.role
    }

    pub fn term(&self) -> u64 {
        self.raft.term
    }

    /// The leader this node knows of, if any.
    pub fn leader_id(&self) -> Option<NodeId> {
        (self.raft.leader_id != crate::message::NO_NODE).then_some(self.raft.leader_id)
    }

    /// The entries `[low, high)` of this node's log (stable or not).
    pub fn entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
        self.raft.log.entries(low, high, u64::MAX)
    }

    #[cfg(test)]
    pub(crate) fn raft(&self) -> &Raft<S> {
        &self.raft
    }
}

/// Persists `ready` into `storage` in the order recovery needs: snapshot,
/// then entries, then the hard state whose commit index refers to them
/// ([`Storage::persist`]: one fsync with [`crate::FileStorage`]). A
/// convenience for hosts and tests; hosts with their own storage do the
/// same.
pub fn persist_ready<S: Storage>(storage: &mut S, ready: &Ready) -> Result<()> {
    storage.persist(ready.snapshot.as_ref(), &ready.entries, ready.hard_state)
}
