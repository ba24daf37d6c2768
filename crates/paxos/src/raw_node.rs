//! The host's handle on a Multi-Paxos node: inputs (`tick`, `step`,
//! `propose`, `campaign`) and the output batch [`Ready`].

use crate::config::Config;
use crate::error::Result;
use crate::message::{Accepted, Ballot, Message, NodeId, Role, Slot, SoftState};
use crate::paxos::Paxos;
use crate::storage::Storage;

/// Everything the host must do after some inputs, in this order:
///
/// 1. persist `promised`, `accepted` and `chosen` (an acceptor's promise
///    and its accepted values must not be forgotten by a crash, Paxos Made
///    Simple 2.2);
/// 2. send `messages`, only after step 1;
/// 3. apply `committed` to the state machine, in slot order;
/// 4. call [`RawNode::advance`] with this `Ready`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ready {
    /// The new role, leader or ballot, when they changed.
    pub soft_state: Option<SoftState>,
    /// The new promised ballot, to persist.
    pub promised: Option<Ballot>,
    /// Values accepted, to persist.
    pub accepted: Vec<Accepted>,
    /// Values learned chosen, to persist.
    pub chosen: Vec<Slot>,
    /// Messages to send, after persisting.
    pub messages: Vec<Message>,
    /// The chosen values after the last applied slot, consecutive, to apply.
    /// No-ops fill gaps a leader found: skip them.
    pub committed: Vec<Slot>,
}

/// A snapshot of a node's state, for observation and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    pub id: NodeId,
    pub soft_state: SoftState,
    pub promised: Ballot,
    /// Every slot below it is chosen and known here.
    pub first_unchosen: u64,
    pub applied: u64,
    /// Slots this leader has in phase 2.
    pub inflight: usize,
    /// Chosen values that contradicted a value already chosen here; always
    /// 0 unless `Config::unsafe_ignore_promised_values` broke safety.
    pub conflicts: u64,
}

/// One Multi-Paxos node and the storage it keeps its durable state in.
pub struct RawNode<S: Storage> {
    paxos: Paxos,
    storage: S,
    prev_soft_state: SoftState,
}

impl<S: Storage> RawNode<S> {
    /// Opens a node on `storage`, which holds whatever a previous run of
    /// this node persisted (or nothing): it keeps its promise and accepted
    /// values, and hands its chosen values to the host again from slot 1.
    pub fn new(config: Config, storage: S) -> Result<RawNode<S>> {
        let paxos = Paxos::new(config, &storage)?;
        Ok(RawNode {
            paxos,
            storage,
            prev_soft_state: SoftState::default(),
        })
    }

    /// Advances logical time by one tick.
    pub fn tick(&mut self) {
        self.paxos.tick();
    }

    /// Hands the node a message from a peer.
    pub fn step(&mut self, msg: Message) {
        self.paxos.step(msg);
    }

    /// Proposes `data` in the next free slot; only the leader accepts.
    /// Returns the slot. The command is done when it shows up in
    /// `Ready::committed`: another leader may have put a different value in
    /// that slot, so the host recognises its own commands by content.
    pub fn propose(&mut self, data: Vec<u8>) -> Result<u64> {
        self.paxos.propose(data)
    }

    /// Prepares a ballot now instead of waiting for the timeout.
    pub fn campaign(&mut self) {
        self.paxos.prepare();
    }

    pub fn has_ready(&self) -> bool {
        let p = &self.paxos;
        p.soft_state() != self.prev_soft_state
            || p.unstable_promised
            || !p.unstable_accepted.is_empty()
            || !p.unstable_chosen.is_empty()
            || !p.msgs.is_empty()
            || p.has_unsent()
            || p.has_next_committed()
    }

    /// Takes the pending outputs; hand each back through [`RawNode::advance`].
    pub fn ready(&mut self) -> Ready {
        let p = &mut self.paxos;
        p.flush_accepts();
        let soft_state = p.soft_state();
        let ready = Ready {
            soft_state: (soft_state != self.prev_soft_state).then_some(soft_state),
            promised: std::mem::take(&mut p.unstable_promised).then_some(p.promised),
            accepted: std::mem::take(&mut p.unstable_accepted),
            chosen: std::mem::take(&mut p.unstable_chosen),
            messages: std::mem::take(&mut p.msgs),
            committed: p.next_committed(),
        };
        self.prev_soft_state = soft_state;
        ready
    }

    /// Tells the node the host persisted, sent and applied `ready`.
    pub fn advance(&mut self, ready: Ready) {
        if let Some(last) = ready.committed.last() {
            self.paxos.applied = self.paxos.applied.max(last.slot);
        }
    }

    pub fn storage(&self) -> &S {
        &self.storage
    }

    pub fn storage_mut(&mut self) -> &mut S {
        &mut self.storage
    }

    pub fn status(&self) -> Status {
        let p = &self.paxos;
        Status {
            id: p.id(),
            soft_state: p.soft_state(),
            promised: p.promised,
            first_unchosen: p.first_unchosen,
            applied: p.applied,
            inflight: p.inflight_count(),
            conflicts: p.conflicts,
        }
    }

    pub fn id(&self) -> NodeId {
        self.paxos.id()
    }

    pub fn role(&self) -> Role {
        self.paxos.role
    }

    pub fn ballot(&self) -> Ballot {
        self.paxos.ballot
    }

    /// The leader this node follows, if any.
    pub fn leader_id(&self) -> Option<NodeId> {
        self.paxos.leader
    }

    /// The value this node knows chosen at `slot`.
    pub fn chosen(&self, slot: u64) -> Option<&crate::message::Value> {
        self.paxos.chosen.get(&slot)
    }
}

/// Persists `ready` into `storage`: the promise, then accepted values, then
/// chosen ones.
pub fn persist_ready<S: Storage>(storage: &mut S, ready: &Ready) -> Result<()> {
    if let Some(promised) = ready.promised {
        storage.set_promised(promised)?;
    }
    storage.accept(&ready.accepted)?;
    storage.choose(&ready.chosen)
}
