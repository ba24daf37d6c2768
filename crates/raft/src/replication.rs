//! Log replication (Raft paper, 5.3), commitment (5.4.2) and InstallSnapshot
//! (7): the leader's sending side and the follower's receiving side.

use crate::error::{Error, Result};
use crate::message::{Entry, MessageBody, NodeId, RejectHint, Role, Snapshot};
use crate::progress::{quorum_value, ProgressState};
use crate::raft::Raft;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// The leader appends a client command (Raft paper, 5.3). Returns the
    /// new entry's index.
    pub(crate) fn propose(&mut self, data: Vec<u8>) -> Result<u64> {
        if data.is_empty() {
            return Err(Error::EmptyProposal);
        }
        if self.role != Role::Leader {
            return Err(Error::ProposalDropped {
                node_id: self.id,
                leader_id: (self.leader_id != crate::message::NO_NODE).then_some(self.leader_id),
            });
        }
        let limit = self.config.max_uncommitted_entries;
        if self.log.last_index() - self.log.committed >= limit {
            return Err(Error::UncommittedLimit { limit });
        }
        let index = self.log.last_index() + 1;
        self.log.append(&[Entry {
            index,
            term: self.term,
            data,
        }]);
        self.broadcast_append();
        Ok(index)
    }

    pub(crate) fn broadcast_append(&mut self) {
        for peer in self.peers() {
            self.send_append(peer, false);
        }
    }

    /// Sends `to` the entries from its `next_index`, or a snapshot when
    /// they are compacted away. Returns whether anything was sent.
    ///
    /// `allow_empty` sends an append without entries to a follower that is
    /// being streamed to (Replicate): it carries the commit index, and if
    /// earlier appends were lost the follower's rejection of it makes us
    /// probe again rather than wait forever.
    pub(crate) fn send_append(&mut self, to: NodeId, allow_empty: bool) -> bool {
        let inflight_max = self.config.max_inflight_entries;
        let progress = &self.progress[&to];
        if progress.is_paused(inflight_max) {
            return false;
        }
        let next_index = progress.next_index;
        let prev_index = next_index - 1;
        let last_index = self.log.last_index();
        let prev_term = self.log.term(prev_index);
        let entries = self
            .log
            .entries(next_index, last_index + 1, self.config.max_entries_per_msg);
        let (Some(prev_term), Ok(entries)) = (prev_term, entries) else {
            return self.send_snapshot(to);
        };
        let progress = self.progress.get_mut(&to).expect("peer has progress");
        if progress.state == ProgressState::Replicate && entries.is_empty() && !allow_empty {
            return false;
        }
        match progress.state {
            ProgressState::Replicate => progress.next_index = prev_index + entries.len() as u64 + 1,
            _ => progress.probe_sent = true,
        }
        let commit = self.log.committed;
        self.send(
            to,
            MessageBody::Append {
                prev_index,
                prev_term,
                entries,
                commit,
            },
        );
        true
    }

    /// Raft paper, 7: the follower is behind the start of our log.
    fn send_snapshot(&mut self, to: NodeId) -> bool {
        let snapshot = self.log.snapshot();
        assert!(
            !snapshot.is_empty(),
            "Raft invariant broken: entries are missing but no snapshot covers them"
        );
        let index = snapshot.metadata.index;
        self.progress
            .get_mut(&to)
            .expect("peer has progress")
            .become_snapshot(index);
        self.send(to, MessageBody::InstallSnapshot { snapshot });
        true
    }

    /// Heartbeats carry the commit index only as far as the follower is
    /// known to match, so it never commits an entry it may not hold.
    pub(crate) fn broadcast_heartbeat(&mut self, ctx: Option<Vec<u8>>) {
        for peer in self.peers() {
            let commit = self.progress[&peer].match_index.min(self.log.committed);
            let body = MessageBody::Heartbeat {
                commit,
                ctx: ctx.clone(),
                tick: self.ticks,
            };
            self.send(peer, body);
        }
    }

    pub(crate) fn handle_append_response(
        &mut self,
        from: NodeId,
        reject: bool,
        index: u64,
        hint: Option<RejectHint>,
    ) {
        let progress = self.progress.get_mut(&from).expect("peer has progress");
        progress.recent_active = true;
        if reject {
            let next_hint = self.next_index_from_hint(index, hint);
            let progress = self.progress.get_mut(&from).expect("peer has progress");
            if progress.maybe_decrease(index, next_hint) {
                self.send_append(from, false);
            }
            return;
        }
        let was_paused = progress.is_paused(self.config.max_inflight_entries);
        let updated = progress.maybe_update(index);
        // A probe acknowledged at the index already known to match also
        // proves where the follower's log matches ours (a follower that a
        // snapshot just caught up acknowledges exactly that): stream from
        // there. Probing again would be acknowledged the same way, forever.
        // etcd-raft's stepLeader has the same condition on MsgAppResp:
        // `pr.MaybeUpdate(m.Index) || (pr.Match == m.Index && pr.State ==
        // tracker.StateProbe)`.
        let probe_matched = progress.state == ProgressState::Probe && index == progress.match_index;
        if !updated && !probe_matched {
            if was_paused {
                self.send_append(from, false);
            }
            return;
        }
        match progress.state {
            ProgressState::Probe => progress.become_replicate(),
            ProgressState::Snapshot { pending_index } if progress.match_index >= pending_index => {
                progress.become_probe()
            }
            _ => {}
        }
        if updated && self.maybe_commit() {
            self.on_leader_commit();
        }
        // Stream the rest of the follower's backlog, bounded by the
        // inflight limit.
        while self.send_append(from, false) {}
    }

    /// Where to resume after a rejection of the append at `rejected`.
    /// With a conflicting term from the follower, skip to just after our own
    /// last entry of that term, or, if we have none, to where the follower's
    /// run of that term starts: one round trip per term, not per entry
    /// (Raft paper, end of 5.3).
    fn next_index_from_hint(&self, rejected: u64, hint: Option<RejectHint>) -> u64 {
        let Some(hint) = hint else {
            return rejected;
        };
        let Some(conflict_term) = hint.conflict_term else {
            return hint.conflict_index;
        };
        let mut index = rejected.min(self.log.last_index());
        while let Some(term) = self.log.term(index) {
            if term < conflict_term || index == 0 {
                break;
            }
            if term == conflict_term {
                return index + 1;
            }
            index -= 1;
        }
        hint.conflict_index
    }

    /// Raft paper, 5.3 and 5.4.2: commit the highest index stored on a
    /// majority, but only if that entry is of the current term. Entries of
    /// earlier terms are committed indirectly, by the Log Matching property,
    /// when an entry of this term after them commits (Figure 8 shows why
    /// counting replicas of an old-term entry is unsafe).
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let matches = self.progress.values().map(|p| p.match_index).collect();
        let candidate = quorum_value(matches);
        if candidate <= self.log.committed {
            return false;
        }
        let current_term = self.log.term(candidate) == Some(self.term);
        if !current_term && !self.config.unsafe_commit_previous_term {
            return false;
        }
        self.log.commit_to(candidate);
        true
    }

    /// The leader's commit index grew: tell the followers (an append even
    /// without entries carries the new commit index) and release reads that
    /// waited for the first commit of this term.
    pub(crate) fn on_leader_commit(&mut self) {
        for peer in self.peers() {
            self.send_append(peer, true);
        }
        self.release_reads_waiting_for_commit();
    }

    /// The host persisted entries up to the log's persisted index; on a
    /// leader that counts as one more replica (its own).
    pub(crate) fn on_persisted(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let persisted = self.log.persisted_index();
        let own = self
            .progress
            .get_mut(&self.id)
            .expect("voters contain self");
        if own.maybe_update(persisted) && self.maybe_commit() {
            self.on_leader_commit();
        }
    }

    /// AppendEntries receiver (Raft paper, Figure 2 and 5.3).
    pub(crate) fn handle_append(
        &mut self,
        from: NodeId,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry],
        commit: u64,
    ) {
        let committed = self.log.committed;
        // (A cluster that commits unsafely may have to overwrite what we
        // committed, so there the shortcut would hide the conflict.)
        if prev_index < committed && !self.log.allow_committed_overwrite {
            // Everything up to our commit index already matches the leader
            // (Leader Completeness); say so and let it resend the rest.
            let body = MessageBody::AppendResponse {
                reject: false,
                index: committed,
                hint: None,
            };
            self.send(from, body);
            return;
        }
        let body = match self
            .log
            .maybe_append(prev_index, prev_term, commit, entries)
        {
            Some(last_new) => MessageBody::AppendResponse {
                reject: false,
                index: last_new,
                hint: None,
            },
            None => MessageBody::AppendResponse {
                reject: true,
                index: prev_index,
                hint: Some(self.reject_hint(prev_index)),
            },
        };
        self.send(from, body);
    }

    /// The conflict hint for a rejected append at `prev_index`: our term
    /// there and the first index of our run of that term.
    fn reject_hint(&self, prev_index: u64) -> RejectHint {
        let last_index = self.log.last_index();
        let Some(conflict_term) = self
            .log
            .term(prev_index)
            .filter(|_| prev_index <= last_index)
        else {
            return RejectHint {
                conflict_term: None,
                conflict_index: last_index + 1,
            };
        };
        // Committed entries match the leader, so the run stops above them.
        let floor = (self.log.committed + 1).max(self.log.first_index());
        let mut conflict_index = prev_index;
        while conflict_index > floor && self.log.term(conflict_index - 1) == Some(conflict_term) {
            conflict_index -= 1;
        }
        RejectHint {
            conflict_term: Some(conflict_term),
            conflict_index,
        }
    }

    pub(crate) fn handle_heartbeat(
        &mut self,
        from: NodeId,
        commit: u64,
        ctx: Option<Vec<u8>>,
        tick: u64,
    ) {
        let commit = commit.min(self.log.last_index());
        self.log.commit_to(commit);
        self.send(from, MessageBody::HeartbeatResponse { ctx, tick });
    }

    pub(crate) fn handle_heartbeat_response(
        &mut self,
        from: NodeId,
        ctx: Option<Vec<u8>>,
        tick: u64,
    ) {
        let last_index = self.log.last_index();
        let progress = self.progress.get_mut(&from).expect("peer has progress");
        progress.recent_active = true;
        progress.lease_tick = progress.lease_tick.max(Some(tick));
        // A heartbeat answer proves the follower is reachable: retry a probe
        // or a snapshot that may have been lost.
        // The same goes for a stream stalled at the inflight limit, whose
        // appends may all have been lost: start again from the match.
        progress.probe_sent = false;
        let stalled = progress.state == ProgressState::Replicate
            && progress.is_paused(self.config.max_inflight_entries);
        if stalled || matches!(progress.state, ProgressState::Snapshot { .. }) {
            progress.become_probe();
        }
        if progress.match_index < last_index {
            self.send_append(from, true);
        }
        if let Some(ctx) = ctx {
            self.confirm_read(from, &ctx);
        }
    }

    /// InstallSnapshot receiver (Raft paper, 7).
    pub(crate) fn handle_snapshot(&mut self, from: NodeId, snapshot: Snapshot) {
        let metadata = snapshot.metadata;
        let index = if metadata.index <= self.log.committed {
            // Old news: we already have (and may have applied) all of it.
            self.log.committed
        } else if self.log.match_term(metadata.index, metadata.term) {
            // Raft paper, 7: "if existing log entry has same index and term
            // as snapshot's last included entry, retain log entries
            // following it".
            self.log.commit_to(metadata.index);
            self.log.committed
        } else {
            self.log.restore(snapshot);
            metadata.index
        };
        let body = MessageBody::AppendResponse {
            reject: false,
            index,
            hint: None,
        };
        self.send(from, body);
    }
}
