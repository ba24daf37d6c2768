//! The Raft state machine of one node: its role, term and vote, the timers
//! driven by `tick`, and the dispatch of incoming messages.
//!
//! Elections live in `election.rs`, log replication and snapshots in
//! `replication.rs`, ReadIndex in `read_index.rs`; all are `impl Raft`
//! blocks over the state defined here.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use lightcone_rng::Rng;

use crate::config::Config;
use crate::error::Result;
use crate::log::RaftLog;
use crate::message::{
    Entry, HardState, Message, MessageBody, NodeId, ReadState, Role, SoftState, NO_NODE,
};
use crate::progress::{majority, Progress};
use crate::read_queue::ReadQueue;
use crate::storage::Storage;

/// One Raft node. The host drives it through [`crate::RawNode`].
pub(crate) struct Raft<S: Storage> {
    pub(crate) id: NodeId,
    pub(crate) term: u64,
    pub(crate) vote: NodeId,
    pub(crate) role: Role,
    pub(crate) leader_id: NodeId,
    pub(crate) log: RaftLog<S>,
    /// One entry per voter, this node included; meaningful on the leader.
    pub(crate) progress: BTreeMap<NodeId, Progress>,
    /// The answers of the current (pre-)election.
    pub(crate) votes: BTreeMap<NodeId, bool>,
    /// Messages waiting for the next `Ready`.
    pub(crate) msgs: Vec<Message>,
    /// ReadIndex answers waiting for the next `Ready`.
    pub(crate) read_states: Vec<ReadState>,
    pub(crate) reads: ReadQueue,
    /// Ticks since the last election timer reset (follower, candidate) or
    /// since the last check-quorum round (leader).
    pub(crate) election_elapsed: u64,
    heartbeat_elapsed: u64,
    randomized_election_timeout: u64,
    /// Ticks since this node started; the clock of lease reads.
    pub(crate) ticks: u64,
    rng: Rng,
    pub(crate) config: Config,
}

impl<S: Storage> Raft<S> {
    pub(crate) fn new(config: Config, storage: S) -> Result<Raft<S>> {
        config.validate()?;
        let hard_state = storage.hard_state();
        let mut log = RaftLog::new(storage, config.applied);
        log.allow_committed_overwrite = config.unsafe_commit_previous_term;
        let mut raft = Raft {
            id: config.id,
            term: hard_state.term,
            vote: hard_state.vote,
            role: Role::Follower,
            leader_id: NO_NODE,
            log,
            progress: BTreeMap::new(),
            votes: BTreeMap::new(),
            msgs: Vec::new(),
            read_states: Vec::new(),
            reads: ReadQueue::default(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: 0,
            ticks: 0,
            rng: Rng::new(config.seed, 0),
            config,
        };
        // A restarted node keeps its term and vote (Figure 2, persistent
        // state); `reset` at the same term leaves them alone.
        raft.become_follower(hard_state.term, NO_NODE);
        Ok(raft)
    }

    pub(crate) fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.log.committed,
        }
    }

    pub(crate) fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.leader_id,
            role: self.role,
        }
    }

    pub(crate) fn quorum(&self) -> usize {
        majority(self.progress.len())
    }

    /// Starts a new term or role: clears the vote if the term changes,
    /// forgets the leader, restarts the timers with a fresh random election
    /// timeout, and resets every follower's progress.
    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = NO_NODE;
        }
        self.leader_id = NO_NODE;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        // Raft paper, 5.2: a timeout drawn from [T, 2T) makes it likely that
        // one node times out alone and wins before the others wake up.
        let base = self.config.election_tick;
        self.randomized_election_timeout = self.rng.in_range(base, 2 * base);
        self.votes.clear();
        // Pending reads were confirmed (or not) for the old term only; their
        // hosts retry after a timeout.
        self.reads = ReadQueue::default();
        let next_index = self.log.last_index() + 1;
        let voters = self.config.voters.clone();
        self.progress = voters
            .into_iter()
            .map(|id| (id, Progress::new(next_index)))
            .collect();
        let persisted = self.log.persisted_index();
        let own = self
            .progress
            .get_mut(&self.id)
            .expect("voters contain self");
        own.match_index = persisted;
        own.recent_active = true;
    }

    pub(crate) fn become_follower(&mut self, term: u64, leader_id: NodeId) {
        self.reset(term);
        self.role = Role::Follower;
        self.leader_id = leader_id;
    }

    pub(crate) fn become_pre_candidate(&mut self) {
        // Dissertation 9.6: a pre-candidate neither raises its term nor
        // votes, so a failed pre-vote disturbs nobody.
        self.votes.clear();
        self.leader_id = NO_NODE;
        self.role = Role::PreCandidate;
    }

    pub(crate) fn become_candidate(&mut self) {
        assert!(
            self.role != Role::Leader,
            "a leader never becomes a candidate"
        );
        self.reset(self.term + 1);
        self.vote = self.id;
        self.role = Role::Candidate;
    }

    pub(crate) fn become_leader(&mut self) {
        assert!(
            self.role != Role::Follower,
            "only a candidate becomes leader"
        );
        self.reset(self.term);
        self.role = Role::Leader;
        self.leader_id = self.id;
        // Raft paper, 8 (and 5.4.2): a new leader commits an empty entry of
        // its own term, which commits every earlier entry by the Log
        // Matching property and lets ReadIndex trust its commit index. The
        // broken variant that counts replicas of earlier terms' entries
        // leaves it out, as the leaders of the paper's Figure 8 do: the
        // no-op would commit those entries safely and hide the bug.
        if !self.config.unsafe_commit_previous_term {
            let index = self.log.last_index() + 1;
            self.log.append(&[Entry {
                index,
                term: self.term,
                data: Vec::new(),
            }]);
        }
        self.broadcast_append();
    }

    /// Appends a message from this node at its current term.
    pub(crate) fn send(&mut self, to: NodeId, body: MessageBody) {
        self.send_at(to, self.term, body);
    }

    pub(crate) fn send_at(&mut self, to: NodeId, term: u64, body: MessageBody) {
        self.msgs.push(Message {
            from: self.id,
            to,
            term,
            body,
        });
    }

    /// The other voters, in id order.
    pub(crate) fn peers(&self) -> Vec<NodeId> {
        self.progress
            .keys()
            .copied()
            .filter(|id| *id != self.id)
            .collect()
    }

    /// Advances logical time by one tick.
    pub(crate) fn tick(&mut self) {
        self.ticks += 1;
        if self.role == Role::Leader {
            self.tick_heartbeat();
        } else {
            self.tick_election();
        }
    }

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.election_elapsed >= self.randomized_election_timeout {
            self.election_elapsed = 0;
            self.hup();
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.config.election_tick {
            self.election_elapsed = 0;
            // Dissertation 6.2: a leader cut off from a majority steps down,
            // so its clients look for the new leader instead of waiting.
            if self.config.check_quorum && !self.take_quorum_active() {
                self.become_follower(self.term, NO_NODE);
                return;
            }
        }
        if self.heartbeat_elapsed >= self.config.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            // Carry the newest read still waiting for a majority: if its
            // own heartbeat or the answers were lost, this round confirms
            // it (and every older one) instead of leaving it waiting for
            // ever. The read arrived before this heartbeat left, so the
            // confirmation is as good (raft-rs does the same).
            let ctx = self.reads.newest_pending_ctx();
            self.broadcast_heartbeat(ctx);
        }
    }

    /// Whether a majority was heard from since the last call; clears the marks.
    fn take_quorum_active(&mut self) -> bool {
        let own_id = self.id;
        let mut active = 0;
        for (id, progress) in self.progress.iter_mut() {
            if *id == own_id || progress.recent_active {
                active += 1;
            }
            progress.recent_active = *id == own_id;
        }
        active >= self.quorum()
    }

    /// Handles one message from a peer.
    pub(crate) fn step(&mut self, msg: Message) {
        if msg.to != self.id || msg.from == self.id || !self.progress.contains_key(&msg.from) {
            return;
        }
        match msg.term.cmp(&self.term) {
            Ordering::Greater => {
                if !self.step_higher_term(&msg) {
                    return;
                }
            }
            Ordering::Less => {
                self.step_lower_term(&msg);
                return;
            }
            Ordering::Equal => {}
        }
        self.step_current_term(msg);
    }

    /// A message from a later term (Raft paper, 5.1: adopt the term and
    /// become follower). Returns whether to go on handling it.
    fn step_higher_term(&mut self, msg: &Message) -> bool {
        match &msg.body {
            MessageBody::PreVote { .. } | MessageBody::Vote { .. } if self.in_lease(&msg.body) => {
                // Dissertation 4.2.3: a node that heard from a live leader
                // within the minimum election timeout ignores the request,
                // so a node that was partitioned cannot depose it.
                false
            }
            // A pre-vote is a question about a future term: answering it
            // must not change ours, nor must a granted answer.
            MessageBody::PreVote { .. } => true,
            MessageBody::PreVoteResponse { reject: false } => true,
            MessageBody::Append { .. }
            | MessageBody::Heartbeat { .. }
            | MessageBody::InstallSnapshot { .. } => {
                self.become_follower(msg.term, msg.from);
                true
            }
            _ => {
                self.become_follower(msg.term, NO_NODE);
                true
            }
        }
    }

    /// Whether this node has a leader it heard from recently enough to
    /// ignore a request to vote for someone else. Pre-votes always respect
    /// the lease (dissertation 9.6); real votes only with check-quorum,
    /// since without it a leader never learns it lost its majority.
    fn in_lease(&self, body: &MessageBody) -> bool {
        let lease_applies = matches!(body, MessageBody::PreVote { .. }) || self.config.check_quorum;
        if !lease_applies {
            return false;
        }
        if self.role == Role::Leader {
            return true;
        }
        // With lease reads, a node that just (re)started may have
        // acknowledged a leader's heartbeat right before it crashed and
        // forgotten it: it waits out one election timeout before voting, or
        // the leader's lease would not hold (dissertation 6.4.1).
        if self.config.lease_reads && self.ticks < self.config.election_tick {
            return true;
        }
        self.leader_id != NO_NODE && self.election_elapsed < self.config.election_tick
    }

    /// A message from an earlier term is stale and mostly ignored.
    fn step_lower_term(&mut self, msg: &Message) {
        match msg.body {
            // A leader deposed while partitioned would never learn the new
            // term if nobody answered it, and with pre-vote or check-quorum
            // the others never raise their term to meet it: tell it.
            MessageBody::Append { .. } | MessageBody::Heartbeat { .. }
                if self.config.pre_vote || self.config.check_quorum =>
            {
                self.send(
                    msg.from,
                    MessageBody::AppendResponse {
                        reject: false,
                        index: 0,
                        hint: None,
                    },
                );
            }
            MessageBody::PreVote { .. } => {
                self.send(msg.from, MessageBody::PreVoteResponse { reject: true });
            }
            _ => {}
        }
    }

    fn step_current_term(&mut self, msg: Message) {
        let from = msg.from;
        let term = msg.term;
        match msg.body {
            MessageBody::PreVote {
                last_index,
                last_term,
            } => self.handle_vote_request(from, term, true, last_index, last_term),
            MessageBody::Vote {
                last_index,
                last_term,
            } => self.handle_vote_request(from, term, false, last_index, last_term),
            MessageBody::PreVoteResponse { reject } => {
                if self.role == Role::PreCandidate {
                    self.handle_vote_response(from, !reject);
                }
            }
            MessageBody::VoteResponse { reject } => {
                if self.role == Role::Candidate {
                    self.handle_vote_response(from, !reject);
                }
            }
            body => self.step_replication(from, body),
        }
    }

    /// Log traffic of the current term, by role.
    fn step_replication(&mut self, from: NodeId, body: MessageBody) {
        if self.role == Role::Leader {
            match body {
                MessageBody::AppendResponse {
                    reject,
                    index,
                    hint,
                } => self.handle_append_response(from, reject, index, hint),
                MessageBody::HeartbeatResponse { ctx, tick } => {
                    self.handle_heartbeat_response(from, ctx, tick)
                }
                MessageBody::ReadIndex { ctx } => {
                    // A follower's forwarded read: failures are not
                    // reported; the follower's host times out and retries.
                    let _ = self.leader_read_index(from, ctx);
                }
                _ => {}
            }
            return;
        }
        let from_leader = matches!(
            body,
            MessageBody::Append { .. }
                | MessageBody::Heartbeat { .. }
                | MessageBody::InstallSnapshot { .. }
        );
        if from_leader {
            // Raft paper, 5.2: a candidate that hears from a leader of its
            // own term recognizes it and returns to follower.
            if self.role != Role::Follower {
                self.become_follower(self.term, from);
            }
            self.election_elapsed = 0;
            self.leader_id = from;
        }
        match body {
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            } => self.handle_append(from, prev_index, prev_term, &entries, commit),
            MessageBody::Heartbeat { commit, ctx, tick } => {
                self.handle_heartbeat(from, commit, ctx, tick)
            }
            MessageBody::InstallSnapshot { snapshot } => self.handle_snapshot(from, snapshot),
            MessageBody::ReadIndexResponse { ctx, index } => {
                self.read_states.push(ReadState { index, ctx });
            }
            _ => {}
        }
    }
}
