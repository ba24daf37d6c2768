//! The protocol: one node's proposer, acceptor and learner in one struct.
//!
//! Multi-Paxos with a stable leader (Lamport, Paxos Made Simple, section 3;
//! the structure of van Renesse and Altinbuken, Paxos Made Moderately
//! Complex): a node that hears no leader prepares a ballot for every slot
//! from its first unchosen one (phase 1, once per ballot), adopts for each
//! slot the value of the highest ballot its promises report, fills the gaps
//! with no-ops, and then proposes values slot by slot (phase 2), pipelined
//! and batched, until a higher ballot ends its reign.

use std::collections::{BTreeMap, BTreeSet};

use lightcone_rng::Rng;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::message::{
    Accepted, Ballot, Message, MessageBody, NodeId, Role, Slot, SoftState, Value,
};
use crate::storage::Storage;

/// A slot in phase 2 under this leader's ballot.
struct Inflight {
    value: Value,
    /// The acceptors that accepted it, this node included.
    acks: BTreeSet<NodeId>,
    /// Sent since the last heartbeat: too young to count as lost.
    fresh: bool,
}

pub(crate) struct Paxos {
    pub(crate) config: Config,
    rng: Rng,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    /// Acceptor: the highest ballot promised.
    pub(crate) promised: Ballot,
    /// Proposer: the ballot this node prepares or leads.
    pub(crate) ballot: Ballot,
    /// Acceptor: what it accepted at the slots not known chosen.
    accepted: BTreeMap<u64, (Ballot, Value)>,
    /// Learner: the chosen values it knows (maybe with gaps above
    /// `first_unchosen`).
    pub(crate) chosen: BTreeMap<u64, Value>,
    /// Every slot below this one is chosen and known here.
    pub(crate) first_unchosen: u64,
    /// The highest round seen in any message, so a new ballot beats it.
    round_seen: u64,

    /// Phase 1: who promised, and the highest-ballot value reported per slot.
    promises: BTreeSet<NodeId>,
    reported: BTreeMap<u64, (Ballot, Value)>,
    /// Phase 2: the next slot to propose in, and the slots in flight.
    next_slot: u64,
    inflight: BTreeMap<u64, Inflight>,
    /// Proposed since the last `Ready`: sent as one `Accept` per peer.
    unsent: Vec<Slot>,
    /// Peers heard from in this election period (check-quorum).
    heard: BTreeSet<NodeId>,
    /// The chosen prefix the last heartbeat announced: a peer that answers
    /// with less missed a slot and is sent what it lacks.
    heartbeat_commit: u64,

    election_elapsed: u64,
    election_timeout: u64,
    heartbeat_elapsed: u64,

    /// Outputs waiting for the next `Ready`.
    pub(crate) msgs: Vec<Message>,
    pub(crate) unstable_promised: bool,
    pub(crate) unstable_accepted: Vec<Accepted>,
    pub(crate) unstable_chosen: Vec<Slot>,
    /// The slots handed to the host to apply: `1..=applied`.
    pub(crate) applied: u64,
    /// Chosen values that contradicted one already chosen here: only the
    /// broken variant makes them; counted so tests can see it.
    pub(crate) conflicts: u64,
}

impl Paxos {
    pub(crate) fn new(config: Config, storage: &impl Storage) -> Result<Paxos> {
        config.validate()?;
        let promised = storage.promised();
        let chosen: BTreeMap<u64, Value> = storage
            .chosen()
            .into_iter()
            .map(|s| (s.slot, s.value))
            .collect();
        let accepted = storage
            .accepted()
            .into_iter()
            .filter(|a| !chosen.contains_key(&a.slot))
            .map(|a| (a.slot, (a.ballot, a.value)))
            .collect();
        let mut paxos = Paxos {
            rng: Rng::new(config.seed, 0),
            config,
            role: Role::Follower,
            leader: None,
            promised,
            ballot: Ballot::ZERO,
            accepted,
            chosen,
            first_unchosen: 1,
            round_seen: promised.round,
            promises: BTreeSet::new(),
            reported: BTreeMap::new(),
            next_slot: 1,
            inflight: BTreeMap::new(),
            unsent: Vec::new(),
            heard: BTreeSet::new(),
            heartbeat_commit: 0,
            election_elapsed: 0,
            election_timeout: 0,
            heartbeat_elapsed: 0,
            msgs: Vec::new(),
            unstable_promised: false,
            unstable_accepted: Vec::new(),
            unstable_chosen: Vec::new(),
            applied: 0,
            conflicts: 0,
        };
        paxos.advance_first_unchosen();
        paxos.reset_election_timeout();
        Ok(paxos)
    }

    pub(crate) fn id(&self) -> NodeId {
        self.config.id
    }

    pub(crate) fn soft_state(&self) -> SoftState {
        SoftState {
            role: self.role,
            leader: self.leader,
            ballot: self.ballot,
        }
    }

    fn reset_election_timeout(&mut self) {
        self.election_elapsed = 0;
        let n = self.config.election_tick;
        self.election_timeout = self.rng.in_range(n, 2 * n);
    }

    fn send(&mut self, to: NodeId, body: MessageBody) {
        self.msgs.push(Message {
            from: self.id(),
            to,
            ballot: self.ballot,
            body,
        });
    }

    fn others(&self) -> Vec<NodeId> {
        let id = self.id();
        self.config
            .peers
            .iter()
            .copied()
            .filter(|p| *p != id)
            .collect()
    }

    fn commit(&self) -> u64 {
        self.first_unchosen - 1
    }

    pub(crate) fn tick(&mut self) {
        self.election_elapsed += 1;
        if self.role != Role::Leader {
            if self.election_elapsed >= self.election_timeout {
                self.prepare();
            }
            return;
        }
        self.heartbeat_elapsed += 1;
        if self.heartbeat_elapsed >= self.config.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            self.heartbeat();
        }
        if self.election_elapsed >= self.config.election_tick {
            let heard = self.heard.len() + 1;
            self.heard.clear();
            self.election_elapsed = 0;
            if self.config.check_quorum && heard < self.config.quorum() {
                self.become_follower(None);
            }
        }
    }

    /// Starts phase 1 for a new ballot above every round seen.
    pub(crate) fn prepare(&mut self) {
        let round = self.round_seen.max(self.promised.round) + 1;
        self.round_seen = round;
        self.ballot = Ballot::new(round, self.id());
        self.role = Role::Candidate;
        self.leader = None;
        self.inflight.clear();
        self.unsent.clear();
        self.reset_election_timeout();
        // Promise to itself, reporting its own accepted values.
        self.set_promised(self.ballot);
        self.promises = BTreeSet::from([self.id()]);
        self.reported = self
            .accepted
            .range(self.first_unchosen..)
            .map(|(s, v)| (*s, v.clone()))
            .collect();
        let first_unchosen = self.first_unchosen;
        for peer in self.others() {
            self.send(peer, MessageBody::Prepare { first_unchosen });
        }
        if self.promises.len() >= self.config.quorum() {
            self.become_leader();
        }
    }

    fn set_promised(&mut self, ballot: Ballot) {
        if ballot != self.promised {
            self.promised = ballot;
            self.unstable_promised = true;
        }
    }

    fn become_follower(&mut self, leader: Option<NodeId>) {
        if self.role != Role::Follower {
            self.role = Role::Follower;
            self.inflight.clear();
            self.unsent.clear();
            self.promises.clear();
            self.reported.clear();
        }
        self.leader = leader;
        self.reset_election_timeout();
    }

    /// Phase 1 is done: adopt, for every slot not known chosen, the value
    /// of the highest ballot reported (Paxos Made Simple, 2.2, P2c), fill
    /// the gaps with no-ops, and propose them all under this ballot.
    fn become_leader(&mut self) {
        self.role = Role::Leader;
        self.leader = Some(self.id());
        self.heard.clear();
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        let reported = std::mem::take(&mut self.reported);
        let last = reported
            .keys()
            .chain(self.chosen.keys())
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.commit());
        if self.config.unsafe_ignore_promised_values {
            // Broken on purpose: the slots whose values the promises
            // reported are taken for new commands, as if empty.
            self.next_slot = self.first_unchosen;
        } else {
            for slot in self.first_unchosen..=last {
                if self.chosen.contains_key(&slot) {
                    continue;
                }
                let value = reported.get(&slot).map_or(Value::Noop, |(_, v)| v.clone());
                self.propose_at(slot, value);
            }
            self.next_slot = last + 1;
        }
        // Announce the ballot now, so followers stop their elections.
        self.heartbeat();
    }

    /// Proposes `data` in the next free slot; only the leader does.
    pub(crate) fn propose(&mut self, data: Vec<u8>) -> Result<u64> {
        if self.role != Role::Leader {
            return Err(Error::NotLeader {
                node_id: self.id(),
                leader_id: self.leader,
            });
        }
        if self.inflight.len() >= self.config.max_inflight_slots {
            return Err(Error::InflightLimit {
                limit: self.config.max_inflight_slots,
            });
        }
        while self.chosen.contains_key(&self.next_slot) {
            self.next_slot += 1;
        }
        let slot = self.next_slot;
        self.next_slot += 1;
        self.propose_at(slot, Value::Command(data));
        Ok(slot)
    }

    /// Phase 2a at `slot`: accepts it here and queues the `Accept`.
    fn propose_at(&mut self, slot: u64, value: Value) {
        self.accept_locally(slot, self.ballot, value.clone());
        let acks = BTreeSet::from([self.id()]);
        self.inflight.insert(
            slot,
            Inflight {
                value: value.clone(),
                acks,
                fresh: true,
            },
        );
        self.unsent.push(Slot { slot, value });
        self.maybe_choose(slot);
    }

    fn accept_locally(&mut self, slot: u64, ballot: Ballot, value: Value) {
        if self.chosen.contains_key(&slot) {
            return;
        }
        self.accepted.insert(slot, (ballot, value.clone()));
        self.unstable_accepted.push(Accepted {
            slot,
            ballot,
            value,
        });
    }

    /// Sends the slots proposed since the last call, one `Accept` per peer
    /// (per `max_slots_per_msg` slots).
    pub(crate) fn flush_accepts(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        let unsent = std::mem::take(&mut self.unsent);
        if self.role != Role::Leader {
            return;
        }
        let commit = self.commit();
        for chunk in unsent.chunks(self.config.max_slots_per_msg) {
            for peer in self.others() {
                let slots = chunk.to_vec();
                self.send(peer, MessageBody::Accept { slots, commit });
            }
        }
    }

    pub(crate) fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// Every peer hears from the leader: the slots in flight it has not
    /// accepted for a whole heartbeat interval are sent again (the network
    /// may have lost them), or else a heartbeat carries the chosen prefix.
    fn heartbeat(&mut self) {
        self.flush_accepts();
        let commit = self.commit();
        self.heartbeat_commit = commit;
        for peer in self.others() {
            let missing: Vec<Slot> = self
                .inflight
                .iter()
                .filter(|(_, f)| !f.fresh && !f.acks.contains(&peer))
                .take(self.config.max_slots_per_msg)
                .map(|(slot, f)| Slot {
                    slot: *slot,
                    value: f.value.clone(),
                })
                .collect();
            let body = if missing.is_empty() {
                MessageBody::Heartbeat { commit }
            } else {
                MessageBody::Accept {
                    slots: missing,
                    commit,
                }
            };
            self.send(peer, body);
        }
        for f in self.inflight.values_mut() {
            f.fresh = false;
        }
    }

    /// Learns that `value` is chosen at `slot`.
    fn choose(&mut self, slot: u64, value: Value) {
        if let Some(known) = self.chosen.get(&slot) {
            if *known != value {
                self.conflicts += 1;
            }
            return;
        }
        self.accepted.remove(&slot);
        self.chosen.insert(slot, value.clone());
        self.unstable_chosen.push(Slot { slot, value });
        self.advance_first_unchosen();
    }

    fn advance_first_unchosen(&mut self) {
        while self.chosen.contains_key(&self.first_unchosen) {
            self.first_unchosen += 1;
        }
    }

    fn maybe_choose(&mut self, slot: u64) {
        let quorum = self.config.quorum();
        if self
            .inflight
            .get(&slot)
            .is_some_and(|f| f.acks.len() >= quorum)
        {
            let done = self.inflight.remove(&slot).expect("just looked up");
            self.choose(slot, done.value);
        }
    }

    /// A leader of `ballot` says every slot up to `commit` is chosen: the
    /// values accepted here under that very ballot are the ones it chose
    /// (a ballot proposes one value per slot).
    fn learn_commit(&mut self, commit: u64, ballot: Ballot) {
        let learned: Vec<(u64, Value)> = self
            .accepted
            .range(self.first_unchosen..=commit.max(self.first_unchosen))
            .filter(|(slot, (b, _))| **slot <= commit && *b == ballot)
            .map(|(slot, (_, v))| (*slot, v.clone()))
            .collect();
        for (slot, value) in learned {
            self.choose(slot, value);
        }
    }

    /// Sends a lagging peer the chosen values after its prefix `commit`,
    /// when that is behind what the last heartbeat announced (a peer only
    /// behind the slots chosen since learns them from the next one).
    fn catch_up(&mut self, peer: NodeId, commit: u64) {
        if commit >= self.heartbeat_commit.min(self.commit()) {
            return;
        }
        let slots: Vec<Slot> = self
            .chosen
            .range(commit + 1..self.first_unchosen)
            .take(self.config.max_slots_per_msg)
            .map(|(slot, value)| Slot {
                slot: *slot,
                value: value.clone(),
            })
            .collect();
        self.send(peer, MessageBody::Chosen { slots });
    }

    /// A message from a peer; stale, duplicated and unknown ones are
    /// dropped or answered harmlessly.
    pub(crate) fn step(&mut self, msg: Message) {
        if msg.to != self.id() || msg.from == self.id() || !self.config.peers.contains(&msg.from) {
            return;
        }
        self.round_seen = self.round_seen.max(msg.ballot.round);
        let from = msg.from;
        let ballot = msg.ballot;
        match msg.body {
            MessageBody::Prepare { first_unchosen } => {
                self.on_prepare(from, ballot, first_unchosen)
            }
            MessageBody::Promise { chosen, accepted } => {
                self.on_promise(from, ballot, chosen, accepted)
            }
            MessageBody::Accept { slots, commit } => self.on_accept(from, ballot, slots, commit),
            MessageBody::AcceptedSlots { slots } => {
                if self.role != Role::Leader || ballot != self.ballot {
                    return;
                }
                self.heard.insert(from);
                for slot in slots {
                    if let Some(f) = self.inflight.get_mut(&slot) {
                        f.acks.insert(from);
                    }
                    self.maybe_choose(slot);
                }
            }
            MessageBody::Heartbeat { commit } => {
                if !self.follow(from, ballot) {
                    return;
                }
                self.learn_commit(commit, ballot);
                let commit = self.commit();
                self.reply(from, ballot, MessageBody::HeartbeatResponse { commit });
            }
            MessageBody::HeartbeatResponse { commit } => {
                if self.role == Role::Leader && ballot == self.ballot {
                    self.heard.insert(from);
                    self.catch_up(from, commit);
                }
            }
            MessageBody::Chosen { slots } => {
                for s in slots {
                    self.choose(s.slot, s.value);
                }
            }
            MessageBody::Nack { promised } => {
                self.round_seen = self.round_seen.max(promised.round);
                if self.role != Role::Follower && ballot == self.ballot && promised > self.ballot {
                    self.become_follower(None);
                }
            }
        }
    }

    /// An answer about `ballot` (the ballot asked about, not this node's).
    fn reply(&mut self, to: NodeId, ballot: Ballot, body: MessageBody) {
        self.msgs.push(Message {
            from: self.id(),
            to,
            ballot,
            body,
        });
    }

    /// Whether the leader of `ballot` may lead this acceptor; if so it is
    /// followed from now on, and the election timer starts over. If not, it
    /// is told of the higher promise.
    fn follow(&mut self, from: NodeId, ballot: Ballot) -> bool {
        if ballot < self.promised {
            let promised = self.promised;
            self.reply(from, ballot, MessageBody::Nack { promised });
            return false;
        }
        self.set_promised(ballot);
        if self.role != Role::Follower || self.leader != Some(from) {
            self.become_follower(Some(from));
        }
        self.election_elapsed = 0;
        true
    }

    fn on_prepare(&mut self, from: NodeId, ballot: Ballot, first_unchosen: u64) {
        if ballot < self.promised || (ballot == self.promised && self.role != Role::Follower) {
            let promised = self.promised;
            self.reply(from, ballot, MessageBody::Nack { promised });
            return;
        }
        // A duplicated prepare of the ballot already promised leaves the
        // leader it may have become in place.
        let newer = ballot > self.promised;
        self.set_promised(ballot);
        if newer {
            self.become_follower(None);
        }
        let chosen = self
            .chosen
            .range(first_unchosen..)
            .map(|(slot, value)| Slot {
                slot: *slot,
                value: value.clone(),
            })
            .collect();
        let accepted = self
            .accepted
            .range(first_unchosen..)
            .map(|(slot, (b, value))| Accepted {
                slot: *slot,
                ballot: *b,
                value: value.clone(),
            })
            .collect();
        self.reply(from, ballot, MessageBody::Promise { chosen, accepted });
    }

    fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        chosen: Vec<Slot>,
        accepted: Vec<Accepted>,
    ) {
        if self.role != Role::Candidate || ballot != self.ballot {
            return;
        }
        for s in chosen {
            self.choose(s.slot, s.value);
        }
        for a in accepted {
            let higher = self
                .reported
                .get(&a.slot)
                .is_none_or(|(b, _)| a.ballot > *b);
            if higher {
                self.reported.insert(a.slot, (a.ballot, a.value));
            }
        }
        self.promises.insert(from);
        if self.promises.len() >= self.config.quorum() {
            self.become_leader();
        }
    }

    fn on_accept(&mut self, from: NodeId, ballot: Ballot, slots: Vec<Slot>, commit: u64) {
        if !self.follow(from, ballot) {
            return;
        }
        let numbers = slots.iter().map(|s| s.slot).collect();
        for s in slots {
            self.accept_locally(s.slot, ballot, s.value);
        }
        self.learn_commit(commit, ballot);
        self.reply(from, ballot, MessageBody::AcceptedSlots { slots: numbers });
    }

    /// The chosen values not yet handed to the host, in slot order.
    pub(crate) fn next_committed(&self) -> Vec<Slot> {
        self.chosen
            .range(self.applied + 1..self.first_unchosen)
            .map(|(slot, value)| Slot {
                slot: *slot,
                value: value.clone(),
            })
            .collect()
    }

    pub(crate) fn has_next_committed(&self) -> bool {
        self.applied + 1 < self.first_unchosen
    }

    pub(crate) fn inflight_count(&self) -> usize {
        self.inflight.len()
    }
}
